"""The event bus: a web process follows the events table and is woken within moments of a
commit made anywhere (same process, another process by PostgreSQL NOTIFY, Redis pub/sub, or a
short poll on SQLite)."""

import time
from typing import Any

from app import incidents
from app.db import Database
from app.intake.base import IntakeEvent
from app.integrations import lookup
from app.live import EventBus
from tests.helpers import build_world, requires_postgres, requires_redis


def trigger(db: Database, key: str, now: Any, dedup: str = "d1") -> int:
    with db.transaction() as s:
        target = lookup(s, key)
        iid, _ = incidents.trigger(s, target, IntakeEvent("trigger", "boom", dedup), dedup, now)
        return iid


def received_within(sub: Any, seconds: float) -> tuple[dict[str, Any], float]:
    t0 = time.monotonic()
    ev = sub.get(timeout=seconds)
    assert ev is not None, f"no event within {seconds} s"
    return ev, time.monotonic() - t0


def test_a_subscriber_in_the_same_process_gets_the_event_at_once(database, world, clock) -> None:
    bus = EventBus(database, poll=30.0)  # the poll alone would take 30 s
    sub = bus.subscribe()
    try:
        iid = trigger(database, world.keys["acme_generic"], clock.now())
        ev, waited = received_within(sub, 2.0)
        assert ev["kind"] == "incident.triggered" and ev["incident_id"] == iid and waited < 1.0
    finally:
        bus.stop()


def test_another_process_on_the_same_database_sees_it_by_polling(database, db_url, world, clock) -> None:
    other = Database(db_url)  # a second process: its own connections, its own bus
    bus = EventBus(other, poll=0.1)
    sub = bus.subscribe()
    try:
        trigger(database, world.keys["acme_generic"], clock.now())
        ev, waited = received_within(sub, 3.0)
        assert ev["kind"] == "incident.triggered"
    finally:
        bus.stop()
        other.dispose()


@requires_postgres
def test_postgres_notify_wakes_another_process_without_polling(postgres, pg_url, clock) -> None:
    world = build_world(postgres, clock.now())
    other = Database(pg_url)
    bus = EventBus(other, poll=30.0)
    sub = bus.subscribe()
    try:
        assert bus.listening.wait(10), "LISTEN never started"
        trigger(postgres, world.keys["acme_generic"], clock.now())
        ev, waited = received_within(sub, 5.0)
        assert ev["kind"] == "incident.triggered" and waited < 2.0
    finally:
        bus.stop()
        other.dispose()


@requires_redis
def test_redis_pubsub_wakes_another_process_without_polling(database, db_url, world, clock) -> None:
    import os

    url = os.environ["VIGIL_TEST_REDIS_URL"]
    writer_bus = EventBus(database, redis_url=url, poll=30.0)  # publishes on commit
    other = Database(db_url)
    bus = EventBus(other, redis_url=url, poll=30.0)
    sub = bus.subscribe()
    try:
        assert bus.listening.wait(10), "the Redis subscription never started"
        trigger(database, world.keys["acme_generic"], clock.now())
        ev, waited = received_within(sub, 5.0)
        assert ev["kind"] == "incident.triggered" and waited < 2.0
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
