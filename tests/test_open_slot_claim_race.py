"""Simultaneous claims of one open slot: exactly one wins, the others learn who.

Runs on whichever database the pass uses (SQLite, or PostgreSQL with VIGIL_TEST_DB=postgres),
each thread with its own Database object, so its own connections: real concurrency.
"""

from datetime import UTC, datetime

from sqlalchemy import select

from app.db import Database
from app.errors import ActionError
from app.models import ScheduleOverride, User
from app.schedules import open_slots, overrides
from tests.helpers import add_schedule, race

NAMES = {"alice": "Alice Martin", "carol": "Carol Petit", "theo": "Theo Lead"}


def test_of_simultaneous_claims_of_one_open_slot_exactly_one_wins_and_the_others_learn_who(
    world, database, db_url, clock
) -> None:
    w = add_schedule(database, world, clock.now())
    start = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
    with database.transaction() as s:
        overrides.create(s, s.get(User, w.maya), w.secondary, None, start, datetime(2026, 3, 4, 7, 0, tzinfo=UTC),
                         clock.now())
    people = list(NAMES) * 2  # six taps from three engineers
    dbs = [Database(db_url) for _ in people]

    def tap(i: int) -> tuple[int, str]:
        try:
            with dbs[i].transaction() as s:
                out = open_slots.claim(s, s.get(User, w.ids[people[i]]), w.secondary, start, clock.now())
                return 200, out["message"]
        except ActionError as e:
            return e.status, e.message

    results = race(len(people), tap)
    for d in dbs:
        d.dispose()
    assert all(isinstance(r, tuple) for r in results), results
    winners = [people[i] for i, (status, _) in enumerate(results) if status == 200]
    assert len(winners) == 1, results
    losers = [msg for status, msg in results if status == 409]
    assert len(losers) == len(people) - 1
    winner = NAMES[winners[0]]
    assert all(f"already taken by {winner}" in m or "already taken by you" in m for m in losers), losers
    with database.transaction() as s:
        claims = s.execute(select(ScheduleOverride).where(ScheduleOverride.kind == "claim")).scalars().all()
        assert [(c.user_id, c.starts_at) for c in claims] == [(w.ids[winners[0]], start)]
