"""An alert storm's new incidents: the engine fires a chunk's steps and, in the same transaction,
claims the pages now due for them (as many as its sending threads have room for), instead of a
second transaction re-reading what the first just wrote: they are written claimed, one version of
each page instead of a pending one and then a sending one. The chunk's firings are one INSERT on
either database. Pages left for want of room stay pending and go out, in order, as room frees."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event, func, select

from app.engine.loop import Engine
from app.models import DeliveryAttempt, Notification, StepFiring
from app.notify.recording import RecordingTransport
from tests.helpers import post_alert


def transactions(database) -> tuple[list[list[str]], Any]:
    """The statements the engine sends (without quotes around names), split at each commit."""
    done: list[list[str]] = [[]]

    def statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        done[-1].append(" ".join(sql.replace('"', "").split()))

    def commit(conn: Any) -> None:
        done.append([])

    event.listen(database.engine, "before_cursor_execute", statement)
    event.listen(database.engine, "commit", commit)

    def stop() -> None:
        event.remove(database.engine, "before_cursor_execute", statement)
        event.remove(database.engine, "commit", commit)

    return done, stop


def test_a_chunks_steps_are_fired_and_their_pages_claimed_in_one_transaction(client, world, engine, clock,
                                                                              database) -> None:
    engine.config = {**engine.config, "PAGE_BUNDLE_AT": 0}  # a page per incident (a storm's bundles: their own test)
    for i in range(5):
        assert post_alert(client, world.keys["acme_generic"], summary=f"Disk full on web-{i}",
                          dedup=f"disk-{i}").status_code == 202
    done, stop = transactions(database)
    fired, dispatched = engine._fire(clock.now())
    engine.drain()
    stop()

    assert (fired, dispatched) == (5, 5)
    firing = [t for t in done if any(sql.startswith("INSERT INTO step_firings") for sql in t)]
    assert len(firing) == 1  # one transaction fired the chunk...
    assert sum(sql.startswith("INSERT INTO step_firings") for sql in firing[0]) == 1  # ...in one INSERT
    # ...and wrote its pages claimed: no claim of their own, in this transaction or another
    assert not [sql for t in done for sql in t if sql.startswith("UPDATE notifications") and "claimed_by" in sql]
    pages = [sql for sql in firing[0] if sql.startswith("INSERT INTO notifications")]
    assert len(pages) == 1 and "claimed_by" in pages[0]
    with database.session() as s:
        assert s.execute(select(func.count()).select_from(StepFiring)).scalar() == 5
        statuses = s.execute(select(Notification.status, func.count()).group_by(Notification.status)).all()
        assert statuses == [("sent", 5)]
    assert len(RecordingTransport.sent) == 5


class Held(RecordingTransport):
    """The recording channel, holding each page until the test lets it go."""

    release = threading.Event()

    def send(self, msg: Any) -> Any:
        assert self.release.wait(10)
        return super().send(msg)


def test_pages_beyond_the_sending_threads_room_stay_pending_and_go_out_once_in_order(app, client, world, clock,
                                                                                     database) -> None:
    RecordingTransport.clear()
    Held.release.clear()
    engine = Engine(database, clock, {**app.config, "ENGINE_WORKERS": 1, "PAGE_BUNDLE_AT": 0}, name="engine-small",
                    transports={"recording": Held})
    room = engine._capacity_max()  # pages in flight at most, for one sending thread
    try:
        for i in range(room + 2):
            assert post_alert(client, world.keys["acme_generic"], summary=f"Disk full on web-{i}",
                              dedup=f"disk-{i}").status_code == 202
        fired, dispatched = engine._fire(clock.now())
        assert (fired, dispatched) == (room + 2, room)
        with database.session() as s:
            pages = s.execute(select(Notification.id, Notification.status).order_by(Notification.id)).all()
        assert [status for _, status in pages] == ["sending"] * room + ["pending"] * 2  # the first ones first

        Held.release.set()
        engine.drain()
        assert engine._dispatch(clock.now()) == 2
        engine.drain()
        with database.session() as s:
            assert s.execute(select(Notification.status).distinct()).scalars().all() == ["sent"]
            attempts = s.execute(select(DeliveryAttempt.notification_id).order_by(DeliveryAttempt.id)).scalars().all()
        assert sorted(attempts) == [nid for nid, _ in pages]  # each page once
        assert sorted(m.notification_id for m in RecordingTransport.sent) == [nid for nid, _ in pages]
    finally:
        Held.release.set()
        engine.close()
