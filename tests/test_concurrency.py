"""Races: simultaneous claims, simultaneous duplicate alerts, and two engines at once.

These run on whichever database the pass uses (SQLite, or PostgreSQL with VIGIL_TEST_DB=postgres),
each thread with its own Database object, so its own connections: real concurrency.
"""

from typing import Any

from sqlalchemy import func, select

from app import incidents
from app.db import Database
from app.engine.loop import Engine
from app.incidents import Actor
from app.intake.base import IntakeEvent
from app.intake.keys import lookup
from app.models import DeliveryAttempt, Incident, Notification, StepFiring, User
from app.notify.recording import RecordingTransport
from tests.helpers import firings_reached, race, requires_postgres


def open_incident(database: Database, world: Any, now: Any) -> int:
    with database.transaction() as s:
        target = lookup(s, world.keys["globex_generic"])
        iid, _ = incidents.trigger(s, target, IntakeEvent("trigger", "CPU on fire", "cpu"), "cpu", now)
        return iid


def test_of_simultaneous_claims_of_one_slot_exactly_one_wins_and_the_others_learn_who(world, database, db_url, clock) -> None:
    iid = open_incident(database, world, clock.now())
    people = ["alice", "bob", "carol", "theo"]
    dbs = [Database(db_url) for _ in people]

    def claim(i: int) -> tuple[int, str]:
        with dbs[i].transaction() as s:
            u = s.get(User, world.ids[people[i]])
            out = incidents.claim_slot(s, iid, Actor.of(u), 1, clock.now())
            return out.status, out.message

    results = race(len(people), claim)
    for d in dbs:
        d.dispose()
    assert all(isinstance(r, tuple) for r in results), results
    winners = [people[i] for i, (status, _) in enumerate(results) if status == 200]
    assert len(winners) == 1
    winner_name = {"alice": "Alice Martin", "bob": "Bob Durand", "carol": "Carol Petit", "theo": "Theo Lead"}[winners[0]]
    losers = [msg for status, msg in results if status == 409]
    assert len(losers) == 3 and all(winner_name in m for m in losers)
    with database.transaction() as s:
        assert s.get(Incident, iid).slot1_user_id == world.ids[winners[0]]


def test_simultaneous_alerts_with_one_dedup_key_make_one_incident(world, database, db_url, clock) -> None:
    n = 6
    dbs = [Database(db_url) for _ in range(n)]

    def trigger(i: int) -> tuple[int, bool]:
        with dbs[i].transaction() as s:
            target = lookup(s, world.keys["globex_generic"])
            iid, created = incidents.trigger(s, target, IntakeEvent("trigger", "disk", "disk-1"), "disk-1",
                                             clock.now())
            return iid, created

    results = race(n, trigger)
    for d in dbs:
        d.dispose()
    assert all(isinstance(r, tuple) for r in results), results
    assert len({iid for iid, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with database.transaction() as s:
        inc = s.execute(select(Incident)).scalar_one()
        assert inc.alert_count == n


def test_two_engines_never_notify_the_same_step_twice(world, database, db_url, clock, app) -> None:
    """Two engines, each with its own connections, tick at the same instants while time runs
    through a full escalation of many incidents; every step reaches each target exactly once."""
    RecordingTransport.clear()
    ids = []
    with database.transaction() as s:
        target = lookup(s, world.keys["globex_generic"])
        for i in range(40):
            iid, _ = incidents.trigger(s, target, IntakeEvent("trigger", f"alert {i}", f"k{i}"), f"k{i}",
                                       clock.now())
            ids.append(iid)
    dbs = [Database(db_url), Database(db_url)]
    engines = [Engine(d, clock, app.config, name=f"engine-{i}", transports={"recording": RecordingTransport})
               for i, d in enumerate(dbs)]
    try:
        for _minute in range(0, 91, 5):
            for _ in range(3):
                errors = [r for r in race(2, lambda i: engines[i].tick()) if isinstance(r, Exception)]
                assert not errors, errors
                for e in engines:
                    e.drain()
            clock.advance(minutes=5)
    finally:
        for e in engines:
            e.close()
        for d in dbs:
            d.dispose()
    # 1-hour tier: M+0 Alice, M+30 Bob, M+60 Maya, M+90 Alice again (second pass)
    # A page, or a bundle of them (40 incidents at once: an alert storm), reaches each of its incidents.
    sent = [(iid, m.user_name) for m in RecordingTransport.sent for iid in m.extra.get("bundle") or [m.incident["id"]]]
    per_incident = {iid: sorted(name for i2, name in sent if i2 == iid) for iid in ids}
    assert all(v == ["Alice Martin", "Alice Martin", "Bob Durand", "Maya Manager"] for v in per_incident.values()), per_incident
    with database.transaction() as s:
        assert s.execute(select(func.count()).select_from(StepFiring)).scalar_one() == 4 * len(ids)
        reached = firings_reached(s)
        assert len(reached) == len(set(reached)) == 4 * len(ids)
        pages = s.execute(select(func.count()).select_from(Notification)).scalar_one()
        assert s.execute(select(func.count()).select_from(DeliveryAttempt)).scalar_one() == pages == len(RecordingTransport.sent)
        engines_used = set(s.execute(select(StepFiring.engine)).scalars())
    assert engines_used <= {"engine-0", "engine-1"}


@requires_postgres
def test_a_pooled_connection_that_died_while_idle_is_replaced_before_a_request_uses_it(postgres, monkeypatch) -> None:
    """Connections used a moment ago skip the ping (a round trip per request); one that sat idle
    is pinged at checkout, and a dead one is swapped for a fresh one instead of failing."""
    from sqlalchemy import text

    from app import db as db_module

    with postgres.engine.connect() as doomed, postgres.engine.connect() as other:
        pid = doomed.execute(text("SELECT pg_backend_pid()")).scalar_one()
        doomed.close()  # back to the pool, idle
        other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        other.commit()
    monkeypatch.setattr(db_module, "PING_IDLE_SECONDS", 0.0)  # both have now "been idle long"
    with postgres.engine.connect() as a, postgres.engine.connect() as b:
        pids = {c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in (a, b)}
    assert pid not in pids and len(pids) == 2
