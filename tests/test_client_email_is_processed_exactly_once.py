"""A stored message is turned into incident state exactly once, whoever races for it (the
listener's processor, engines sweeping after a crash): the compare-and-set on its status lives in
the transaction that writes the incident. The same message delivered twice (the same Message-ID)
opens one incident, answered once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app import incidents
from app.db import retry_transient
from app.models import MailThread, Notification
from tests.helpers import race
from tests.mailbox import allow, corpus, incident_list, listening, mails, send


def test_four_processors_racing_for_one_message_open_one_incident(app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "@acme.test")
    with listening(database, clock, process=False) as h:
        assert send(h, corpus("plain.eml"))[0] == 250
    [m] = mails(database)

    def process(_: int) -> Any:
        def once() -> Any:
            with database.transaction() as s:
                return incidents.process_mail(s, m.id, clock.now())
        return retry_transient(once)

    results = race(4, process)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r is not None for r in results) == 1
    assert len(incident_list(database)) == 1
    with database.session() as s:
        assert len(s.execute(select(Notification).where(Notification.purpose == "client_mail")).all()) == 1


def test_the_same_message_delivered_twice_at_once_opens_one_incident_and_one_thread(app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "@acme.test")
    with listening(database, clock, process=False) as h:
        results = race(2, lambda _: send(h, corpus("plain.eml"))[0])
    assert results == [250, 250]  # both accepted: an MTA retrying after a lost 250 must not lose it
    ids = [m.id for m in mails(database)]

    def process(i: int) -> Any:
        def once() -> Any:
            with database.transaction() as s:
                return incidents.process_mail(s, ids[i], clock.now())
        return retry_transient(once)

    done = race(2, process)
    assert not [r for r in done if isinstance(r, Exception)], done
    with database.session() as s:
        rows = s.execute(select(MailThread).where(MailThread.message_id == "20260302035812.1234@acme.test")).scalars().all()
    assert len(rows) == 1
    [inc] = incident_list(database)
    assert inc.alert_count == 2
    assert sorted(m.outcome for m in mails(database)) == ["duplicate", "opened"]
    with database.session() as s:  # the client is answered once
        assert len(s.execute(select(Notification).where(Notification.purpose == "client_mail")).all()) == 1
