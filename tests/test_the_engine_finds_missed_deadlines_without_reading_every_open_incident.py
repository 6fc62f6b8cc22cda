"""At every tick the engine looks for response deadlines just missed. After a storm thousands of
incidents are open, their deadlines hours away: the look goes by an index of the deadlines still
watched (ix_incidents_deadline), not through every open incident (ix_incidents_due's status)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select, text

from app import incidents
from app.engine.loop import _DEADLINES_DUE
from app.intake.base import IntakeEvent
from app.intake.keys import lookup
from app.models import Incident
from tests.helpers import BACKEND


def open_incidents(world, database, clock, n: int, missed: int) -> list[int]:
    """n open incidents whose deadline is hours away, and `missed` whose deadline has just passed."""
    with database.session() as s:
        target = lookup(s, world.keys["acme_generic"])
    now = clock.now()
    with database.transaction() as s:
        first = incidents.ingest(s, target, IntakeEvent("trigger", "Disk full", "first"), {}, now).incident_id
    with database.transaction() as s:
        inc = s.get(Incident, first)
        row = {c: getattr(inc, c) for c in ("client_id", "service_id", "policy_id", "summary", "details", "source",
                                            "severity", "urgency", "status", "alert_count", "created_at",
                                            "last_alert_at", "esc_seq", "esc_step", "esc_loop")}
        s.execute(insert(Incident), [dict(row, dedup_key=f"open-{i}", response_deadline=now + timedelta(hours=4))
                                     for i in range(n)])
        made = s.execute(insert(Incident).returning(Incident.id), [
            dict(row, dedup_key=f"late-{i}", response_deadline=now - timedelta(seconds=1)) for i in range(missed)])
        late = sorted(made.scalars())
        s.execute(text("UPDATE incidents SET response_deadline = :at WHERE id = :id"),
                  {"at": (now + timedelta(hours=4)).replace(tzinfo=None), "id": first})
    return late


def test_the_deadlines_just_missed_are_found_by_their_index_among_thousands_open(world, database, clock, engine) -> None:
    late = open_incidents(world, database, clock, 2000, 3)
    with database.engine.connect() as c:
        found = engine._due_deadlines(c, clock.now())
        if BACKEND == "postgres":
            seq_read, index_read = c.execute(text(
                "SELECT seq_tup_read, coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables "
                "WHERE relname = 'incidents'")).one()
    assert sorted(found) == late
    if BACKEND == "postgres":
        assert seq_read == 0 and index_read < 20
    else:
        with database.engine.connect() as c:
            compiled = _DEADLINES_DUE.compile(c)
            plan = c.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled),
                                     tuple(compiled.construct_params({"now": "2026-01-01"}).values())).all()
        assert "ix_incidents_deadline" in str(plan)


def test_a_missed_deadline_is_marked_once_and_then_no_longer_looked_at(world, database, clock, engine) -> None:
    late = open_incidents(world, database, clock, 50, 2)
    engine.tick()
    with database.session() as s:
        marked = s.execute(select(Incident.id).where(Incident.sla_breached_at.is_not(None))).scalars().all()
    assert sorted(marked) == late
    with database.engine.connect() as c:
        assert engine._due_deadlines(c, clock.now()) == []
