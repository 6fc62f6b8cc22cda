"""At every tick the engine looks for response deadlines just missed. After a storm thousands of
incidents are open, their deadlines hours away: the look goes by an index of the deadlines still
watched (ix_incidents_deadline), not through every open incident (ix_incidents_due's status)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select, text

from app.engine.loop import _TICK_LOOK
from app.models import Incident
from tests.helpers import incident_like, looked_up, sqlite_plan


def open_incidents(world, database, clock, n: int, missed: int) -> list[int]:
    """n open incidents whose deadline is hours away, and `missed` whose deadline has just passed."""
    now = clock.now()
    first, row = incident_like(database, world.keys["acme_generic"], now)
    del row["response_deadline"]
    with database.transaction() as s:
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
    found, read = looked_up(database, lambda c, now: engine._due_at(c, now).deadlines, clock.now())
    assert sorted(found) == late
    if read is not None:  # PostgreSQL: none by sequential scan, a few through the index
        assert read[0] == 0 and read[1] < 20
    else:
        assert "ix_incidents_deadline" in sqlite_plan(database, _TICK_LOOK, now="2026-01-01", me="", dead_before="2026-01-01")


def test_a_missed_deadline_is_marked_once_and_then_no_longer_looked_at(world, database, clock, engine) -> None:
    late = open_incidents(world, database, clock, 50, 2)
    engine.tick()
    with database.session() as s:
        marked = s.execute(select(Incident.id).where(Incident.sla_breached_at.is_not(None))).scalars().all()
    assert sorted(marked) == late
    with database.engine.connect() as c:
        assert engine._due_at(c, clock.now()).deadlines == []
