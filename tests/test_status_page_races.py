"""Races on status pages, each thread with its own connections (run on PostgreSQL too): the same
address subscribed at once makes one subscriber and one confirmation; two engines moving the same
maintenance windows move each once and tell its subscribers once; two first changes of a
component make one row."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.db import Database
from app.models import (
    Client,
    MaintenanceWindow,
    Notification,
    StatusComponent,
    StatusSubscriber,
    User,
)
from app.status import components, maintenance, subscribers
from tests.helpers import race


def test_the_same_address_subscribed_at_once_makes_one_subscriber_and_one_confirmation(world, database, db_url,
                                                                                       clock) -> None:
    dbs = [Database(db_url) for _ in range(6)]

    def go(i: int) -> str:
        with dbs[i].transaction() as s:
            subscribers.subscribe(s, s.get(Client, world.acme), "race@example.com", clock.now(), "http://x", "k")
        return "ok"

    results = race(6, go)
    for d in dbs:
        d.dispose()
    assert results == ["ok"] * 6
    with database.transaction() as s:
        assert s.execute(select(func.count()).select_from(StatusSubscriber)).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(Notification)).scalar_one() == 1


def test_two_engines_move_each_window_once_and_tell_its_subscribers_once(world, database, db_url, clock) -> None:
    now = clock.now()
    with database.transaction() as s:
        sub = StatusSubscriber(client_id=world.acme, kind="email", address="r@example.com", nonce="n", created_at=now,
                               confirmed_at=now)
        s.add(sub)
        for i in range(5):
            s.add(MaintenanceWindow(public_id=f"w{i}", client_id=world.acme, title=f"w{i}", body="", service_ids=[],
                                    starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1),
                                    hold_pages=True, state="scheduled", created_at=now, updated_at=now))
    dbs = [Database(db_url) for _ in range(4)]

    def walk(i: int) -> int:
        with dbs[i].transaction() as s:
            return maintenance.walk(s, now, "http://x", "k")

    moved = race(4, walk)
    for d in dbs:
        d.dispose()
    assert sum(moved) == 5, moved
    with database.transaction() as s:
        assert set(s.execute(select(MaintenanceWindow.state)).scalars()) == {"in_progress"}
        assert s.execute(select(func.count()).select_from(Notification)).scalar_one() == 5


def test_two_first_changes_of_a_component_make_one_row(world, database, db_url, clock) -> None:
    dbs = [Database(db_url) for _ in range(4)]
    states = ["degraded_performance", "partial_outage", "major_outage", "operational"]

    def change(i: int) -> str:
        with dbs[i].transaction() as s:
            return components.change(s, s.get(User, world.alice), world.acme_web, {"override": states[i]},
                                     clock.now()).override or ""

    results = race(4, change)
    for d in dbs:
        d.dispose()
    assert all(isinstance(r, str) for r in results), results
    with database.transaction() as s:
        [row] = s.execute(select(StatusComponent)).scalars().all()
        assert row.override in states


def test_the_same_webhook_added_at_once_by_several_managers_is_added_once_and_the_others_hear_409(
        world, database, db_url, clock) -> None:
    from app.errors import ActionError
    from app.status import webhooks

    dbs = [Database(db_url) for _ in range(4)]

    def go(i: int) -> str:
        with dbs[i].transaction() as s:
            webhooks.add(s, s.get(User, world.maya), world.acme, "https://hooks.example.com/race", clock.now(), "k",
                         allow_private=False)
        return "added"

    results = race(4, go)
    for d in dbs:
        d.dispose()
    assert results.count("added") == 1, results
    assert all(r == "added" or (isinstance(r, ActionError) and r.status == 409) for r in results), results
    with database.transaction() as s:
        assert s.execute(select(func.count()).select_from(StatusSubscriber)
                         .where(StatusSubscriber.kind == "webhook")).scalar_one() == 1
