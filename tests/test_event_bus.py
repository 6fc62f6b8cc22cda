"""The event bus: a web process follows the events table and is woken within moments of a
commit made anywhere (same process, another process by PostgreSQL NOTIFY, Redis pub/sub, or a
short poll on SQLite)."""

from typing import Any

from app import incidents
from app.db import Database
from app.intake.base import IntakeEvent
from app.intake.keys import lookup
from app.live.bus import EventBus
from tests.helpers import build_world, requires_postgres, requires_redis


def trigger(db: Database, key: str, now: Any, dedup: str = "d1") -> int:
    with db.transaction() as s:
        target = lookup(s, key)
        iid, _ = incidents.trigger(s, target, IntakeEvent("trigger", "boom", dedup), dedup, now)
        return iid


# Where a test proves a wake-up path, the poll is an hour: an event that arrives at all (within a
# wait far shorter than that, and far longer than any load makes it) was brought by the wake-up.
# Order and outcome, not speed: speed is bench/'s business.
NO_POLL = 3600.0
WAIT = 30.0


def received_within(sub: Any, seconds: float) -> dict[str, Any]:
    ev = sub.get(timeout=seconds)
    assert ev is not None, f"no event within {seconds} s"
    return ev


def test_a_subscriber_in_the_same_process_gets_the_event_at_once(database, world, clock) -> None:
    bus = EventBus(database, poll=NO_POLL)  # the poll alone would take an hour
    sub = bus.subscribe()
    try:
        iid = trigger(database, world.keys["acme_generic"], clock.now())
        ev = received_within(sub, WAIT)
        assert ev["kind"] == "incident.triggered" and ev["incident_id"] == iid
    finally:
        bus.stop()


def test_another_process_on_the_same_database_sees_it_by_polling(database, db_url, world, clock) -> None:
    other = Database(db_url)  # a second process: its own connections, its own bus
    bus = EventBus(other, poll=0.1)
    sub = bus.subscribe()
    try:
        trigger(database, world.keys["acme_generic"], clock.now())
        ev = received_within(sub, WAIT)
        assert ev["kind"] == "incident.triggered"
    finally:
        bus.stop()
        other.dispose()


@requires_postgres
def test_postgres_notify_wakes_another_process_without_polling(postgres, pg_url, clock) -> None:
    world = build_world(postgres, clock.now())
    other = Database(pg_url)
    bus = EventBus(other, poll=NO_POLL)
    sub = bus.subscribe()
    try:
        assert bus.listening.wait(30), "LISTEN never started"
        trigger(postgres, world.keys["acme_generic"], clock.now())
        ev = received_within(sub, WAIT)
        assert ev["kind"] == "incident.triggered"
    finally:
        bus.stop()
        other.dispose()


@requires_redis
def test_redis_pubsub_wakes_another_process_without_polling(database, db_url, world, clock) -> None:
    import os

    url = os.environ["VIGIL_TEST_REDIS_URL"]
    writer_bus = EventBus(database, redis_url=url, poll=NO_POLL)  # publishes on commit
    other = Database(db_url)
    bus = EventBus(other, redis_url=url, poll=NO_POLL)
    sub = bus.subscribe()
    try:
        assert bus.listening.wait(30), "the Redis subscription never started"
        trigger(database, world.keys["acme_generic"], clock.now())
        ev = received_within(sub, WAIT)
        assert ev["kind"] == "incident.triggered"
    finally:
        bus.stop()
        writer_bus.stop()
        other.dispose()


def test_events_of_a_rolled_back_transaction_never_appear(database, world, clock) -> None:
    from sqlalchemy import func, select

    from app.models import Event

    with database.session() as s:
        target = lookup(s, world.keys["acme_generic"])
        incidents.trigger(s, target, IntakeEvent("trigger", "boom", "x"), "x", clock.now())
        s.rollback()
    with database.transaction() as s:
        assert s.execute(select(func.count()).select_from(Event)).scalar_one() == 0


@requires_postgres
def test_on_postgres_an_event_takes_its_id_when_it_commits_not_when_it_was_written(postgres, clock) -> None:
    """A follower that has read id N never looks below N again. So an event written early by a
    transaction that commits late must still get an id above every event committed before it."""
    from sqlalchemy import insert, select

    from app.models import Event

    row = {"at": clock.now(), "incident_id": None, "client_id": None, "data": {}}
    with postgres.engine.connect() as slow, postgres.engine.connect() as quick:
        slow.execute(insert(Event.__table__), {**row, "kind": "written first, committed last"})
        quick.execute(insert(Event.__table__), {**row, "kind": "written last, committed first"})
        quick.commit()
        with postgres.engine.connect() as follower:
            seen = follower.execute(select(Event.id, Event.kind)).all()
        assert [k for _, k in seen] == ["written last, committed first"]
        slow.commit()
    with postgres.engine.connect() as follower:
        after = follower.execute(select(Event.kind).where(Event.id > seen[-1].id)).scalars().all()
    assert after == ["written first, committed last"]


def test_rows_queued_for_the_commit_are_written_with_the_events_in_order_and_dropped_on_rollback(
    database, world, clock
) -> None:
    from sqlalchemy import select

    from app.live import events
    from app.models import Event, TimelineEntry

    iid = trigger(database, world.keys["acme_generic"], clock.now())
    note = {"incident_id": iid, "at": clock.now(), "kind": "note", "actor_id": None, "actor_label": "test", "data": {}}

    with database.session() as s:
        events.append_at_commit(s, TimelineEntry.__table__, {**note, "message": "rolled back"})
        events.publish(s, "test.rolled_back", now=clock.now(), incident_id=iid)
        s.rollback()
    with database.session() as s:
        for text_ in ("one", "two", "three"):
            events.append_at_commit(s, TimelineEntry.__table__, {**note, "message": text_, "data": {"n": text_}})
        events.publish(s, "test.first", now=clock.now(), incident_id=iid)
        events.publish(s, "test.second", now=clock.now(), incident_id=iid, data={"x": 1})
        s.commit()

    with database.session() as s:
        notes = s.execute(select(TimelineEntry.message, TimelineEntry.data).where(TimelineEntry.kind == "note")
                          .order_by(TimelineEntry.id)).all()
        kinds = s.execute(select(Event.kind, Event.data).where(Event.kind.like("test.%")).order_by(Event.id)).all()
    assert [tuple(n) for n in notes] == [("one", {"n": "one"}), ("two", {"n": "two"}), ("three", {"n": "three"})]
    assert [tuple(k) for k in kinds] == [("test.first", {}), ("test.second", {"x": 1})]


def test_a_trigger_and_a_resolve_in_one_transaction_keep_their_timeline_order(database, world, clock) -> None:
    """Intake queues its timeline rows for the commit; a note written at once after them (a
    resolve) must still come after them."""
    from sqlalchemy import select

    from app.models import TimelineEntry

    with database.transaction() as s:
        target = lookup(s, world.keys["acme_generic"])
        first = incidents.ingest(s, target, IntakeEvent("trigger", "boom", "k"), {}, clock.now())
        incidents.ingest(s, target, IntakeEvent("resolve", "boom", "k"), {}, clock.now())
    with database.session() as s:
        kinds = s.execute(select(TimelineEntry.kind).where(TimelineEntry.incident_id == first.incident_id)
                          .order_by(TimelineEntry.id)).scalars().all()
    assert kinds.index("triggered") < kinds.index("resolved"), kinds
