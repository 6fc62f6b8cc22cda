"""At every tick the engine looks for acknowledgements that have just timed out. After a storm
thousands of incidents are open, and a few acknowledged: the look goes by an index of the
incidents that have an acknowledgement timeout (ix_incidents_ack_timeout), not through every
incident."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select

from app.engine.loop import _TICK_LOOK
from app.models import Incident
from tests.helpers import incident_like, looked_up, sqlite_plan


def open_incidents(world, database, clock, n: int, acknowledged: int, timed_out: int) -> list[int]:
    """n triggered incidents, `acknowledged` whose acknowledgement times out in hours, and
    `timed_out` whose acknowledgement has just timed out (their ids)."""
    now = clock.now()
    _, row = incident_like(database, world.keys["acme_generic"], now)
    with database.transaction() as s:
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
    found, read = looked_up(database, lambda c, now: engine._due_at(c, now).ack_timeouts, clock.now())
    assert sorted(found) == late
    if read is not None:  # PostgreSQL: none by sequential scan, a few through the index
        assert read[0] == 0 and read[1] < 20
    else:
        assert "ix_incidents_ack_timeout" in sqlite_plan(database, _TICK_LOOK, now="2026-01-01", me="", dead_before="2026-01-01")


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
        assert engine._due_at(c, clock.now()).ack_timeouts == []
