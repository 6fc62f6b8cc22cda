"""Five times a second the engine ticks: steps due, acknowledgements timed out, deadlines missed,
pages orphaned or due to go out. Almost every tick finds none of them, so it asks all of it in one
statement on one connection (each look on a connection of its own was most of an idle engine's
CPU), and then does nothing else: no write, no second read."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.models import Notification
from tests.helpers import post_alert, statements_during


def settled(client, world, engine, clock) -> None:
    """An incident paged: nothing due until its next step, half an hour on."""
    assert post_alert(client, world.keys["acme_generic"]).status_code == 202
    engine.tick()
    engine.drain()
    engine.tick()  # the jobs of this instant have run
    engine.drain()


def test_a_tick_with_nothing_due_makes_one_read_and_no_write(client, world, engine, clock, database) -> None:
    settled(client, world, engine, clock)
    stats, statements = statements_during(database, engine.tick)
    assert not any(stats.values())
    assert len(statements) == 1, statements
    assert statements[0].upper().startswith("SELECT")


def test_a_page_that_falls_due_later_is_found_by_that_look_and_sent(client, world, engine, clock, database) -> None:
    settled(client, world, engine, clock)
    with database.transaction() as s:  # a retry waiting for its backoff
        page = s.execute(select(Notification).order_by(Notification.id)).scalars().first()
        page.status, page.not_before = "pending", clock.now() + timedelta(seconds=30)
        page_id = page.id
    assert engine.tick()["dispatched"] == 0
    clock.advance(seconds=31)
    stats = engine.tick()
    engine.drain()
    assert stats["dispatched"] == 1
    with database.session() as s:
        assert s.get(Notification, page_id).status == "sent"
