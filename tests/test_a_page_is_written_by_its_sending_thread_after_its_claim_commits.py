"""A claimed page's message is composed by the sending thread, from what the claim read, after the
claim has committed: on SQLite the claim's transaction holds the one write lock, which intake
waits for in a storm, and composing is no work for it. A message that cannot be written fails
its page at once, said on its incident's timeline (not a page left 'sending' until its lease
runs out)."""

from __future__ import annotations

from sqlalchemy import select

from app.engine import delivery
from app.incidents import timeline_of
from app.models import Incident, Notification
from app.notify.recording import RecordingTransport
from tests.helpers import post_alert


def test_the_message_is_composed_once_the_claim_is_committed(client, world, engine, database, monkeypatch) -> None:
    seen: list[str] = []
    compose = delivery.compose

    def watching(n, *args, **kwargs):
        with database.Session(bind=database.read_engine) as other:  # sees only what is committed
            seen.append(other.execute(select(Notification.status).where(Notification.id == n.id)).scalar_one())
        return compose(n, *args, **kwargs)

    monkeypatch.setattr(delivery, "compose", watching)
    assert post_alert(client, world.keys["acme_generic"]).status_code == 202
    engine.tick()
    engine.drain()
    assert seen == ["sending"]
    assert [m.subject for m in RecordingTransport.sent] == ["[Vigil #1] Acme Retail / Web shop: Disk full on web-2"]


def test_a_message_that_cannot_be_written_fails_its_page_and_says_so(client, world, engine, database,
                                                                     monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise KeyError("summary")

    monkeypatch.setattr(delivery, "compose", broken)
    assert post_alert(client, world.keys["acme_generic"]).status_code == 202
    engine.tick()
    engine.drain()
    with database.session() as s:
        page = s.execute(select(Notification)).scalar_one()
        lines = [e.message for e in timeline_of(s, s.execute(select(Incident.id)).scalar_one())]
    assert (page.status, page.lease_until) == ("failed", None)
    assert "could not be written" in page.last_error
    assert any("FAILED (the message could not be written" in m for m in lines)
    assert any("ALL CHANNELS FAILED for Alice Martin" in m for m in lines)
    assert RecordingTransport.sent == []
