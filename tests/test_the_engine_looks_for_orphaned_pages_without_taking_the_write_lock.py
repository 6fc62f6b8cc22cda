"""Every tick the engine looks for pages claimed by an engine that died (or whose lease ran out)
and puts them back. There are none at almost every tick: it looks with a read, and writes only
when it found some (on SQLite a write transaction takes the one write lock from intake)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.models import Notification
from tests.helpers import commits_during, post_alert


def test_a_tick_with_no_orphaned_page_commits_nothing_for_them(client, world, engine, clock, database) -> None:
    assert post_alert(client, world.keys["acme_generic"]).status_code == 202
    engine.tick()
    engine.drain()
    with database.engine.connect() as c:
        assert not engine._due_at(c, clock.now()).orphaned
    stats, commits = commits_during(database, engine.tick)  # nothing else due at this instant either
    assert (stats["requeued"], commits) == (0, 0)


def test_a_page_held_by_a_dead_engine_or_past_its_lease_goes_back_to_pending(client, world, engine, clock,
                                                                             database) -> None:
    engine.config = {**engine.config, "PAGE_BUNDLE_AT": 0}  # three incidents, three pages
    for dedup in ("a", "b", "c"):
        assert post_alert(client, world.keys["acme_generic"], dedup=dedup).status_code == 202
    engine.tick()
    engine.drain()
    with database.transaction() as s:
        dead, expired, ours = s.execute(select(Notification.id).order_by(Notification.id)).scalars().all()
        soon = clock.now() + timedelta(minutes=4)
        s.execute(update(Notification).where(Notification.id == dead)
                  .values(status="sending", claimed_by="engine-gone", lease_until=soon))
        s.execute(update(Notification).where(Notification.id == expired)
                  .values(status="sending", claimed_by=engine.name, lease_until=clock.now() - timedelta(seconds=1)))
        s.execute(update(Notification).where(Notification.id == ours)
                  .values(status="sending", claimed_by=engine.name, lease_until=soon))  # still being sent
    with database.engine.connect() as c:
        assert engine._due_at(c, clock.now()).orphaned  # the tick's look sees them
    requeued, commits = commits_during(database, lambda: engine._requeue_expired(clock.now()))
    assert (requeued, commits) == (2, 1)
    with database.session() as s:
        statuses = dict(s.execute(select(Notification.id, Notification.status)).all())
    assert statuses == {dead: "pending", expired: "pending", ours: "sending"}
