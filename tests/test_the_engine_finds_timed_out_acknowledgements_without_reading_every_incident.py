"""At every tick the engine looks for acknowledgements that have just timed out. After a storm
thousands of incidents are open, and a few acknowledged: the look goes by an index of the
incidents that have an acknowledgement timeout (ix_incidents_ack_timeout), not through every
incident."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select, text

from app import incidents
from app.engine.loop import _ACK_TIMEOUTS_DUE
from app.intake.base import IntakeEvent
from app.intake.keys import lookup
from app.models import Incident
from tests.helpers import BACKEND


def open_incidents(world, database, clock, n: int, acknowledged: int, timed_out: int) -> list[int]:
    """n triggered incidents, `acknowledged` whose acknowledgement times out in hours, and
    `timed_out` whose acknowledgement has just timed out (their ids)."""
    with database.session() as s:
        target = lookup(s, world.keys["acme_generic"])
    now = clock.now()
    with database.transaction() as s:
        first = incidents.ingest(s, target, IntakeEvent("trigger", "Disk full", "first"), {}, now).incident_id
    with database.transaction() as s:
        inc = s.get(Incident, first)
        row = {c: getattr(inc, c) for c in ("client_id", "service_id", "policy_id", "summary", "details", "source",
                                            "severity", "urgency", "status", "alert_count", "created_at",
                                            "last_alert_at", "response_deadline", "esc_seq", "esc_step", "esc_loop")}
        s.execute(insert(Incident), [dict(row, dedup_key=f"open-{i}") for i in range(n)])
        acked = dict(row, status="acknowledged", acknowledged_at=now)
        s.execute(insert(Incident), [dict(acked, dedup_key=f"acked-{i}", ack_timeout_at=now + timedelta(hours=2))
                                     for i in range(acknowledged)])
        made = s.execute(insert(Incident).returning(Incident.id), [
            dict(acked, dedup_key=f"late-{i}", ack_timeout_at=now - timedelta(seconds=1)) for i in range(timed_out)])
        return sorted(made.scalars())


def test_the_acknowledgements_just_timed_out_are_found_by_their_index_among_thousands_open(
        world, database, clock, engine) -> None:
    late = open_incidents(world, database, clock, 2000, 200, 3)
    with database.engine.connect() as c:
        if BACKEND == "postgres":
            c.exec_driver_sql("ANALYZE incidents")
        found = engine._due_ack_timeouts(c, clock.now())
        if BACKEND == "postgres":
            seq_read, index_read = c.execute(text(
                "SELECT seq_tup_read, coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables "
                "WHERE relname = 'incidents'")).one()
    assert sorted(found) == late
    if BACKEND == "postgres":
        assert seq_read == 0 and index_read < 20
    else:
        with database.engine.connect() as c:
            compiled = _ACK_TIMEOUTS_DUE.compile(c)
            plan = c.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled),
                                     tuple(compiled.construct_params({"now": "2026-01-01"}).values())).all()
        assert "ix_incidents_ack_timeout" in str(plan)


def test_a_timed_out_acknowledgement_escalates_again_once(world, database, clock, engine) -> None:
    late = open_incidents(world, database, clock, 50, 5, 2)
    engine.tick()
    with database.session() as s:
        again = s.execute(select(Incident.id).where(Incident.dedup_key.like("late-%"), Incident.status == "triggered",
                                                    Incident.ack_timeout_at.is_(None))).scalars().all()
        waiting = s.execute(select(Incident.id).where(Incident.status == "acknowledged")).scalars().all()
    assert sorted(again) == late
    assert len(waiting) == 5
    with database.engine.connect() as c:
        assert engine._due_ack_timeouts(c, clock.now()) == []
