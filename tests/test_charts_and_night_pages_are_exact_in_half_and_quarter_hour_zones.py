"""Charts by hour of day and a page's night or day are counted on the reader's (or engineer's)
clock from UTC quarter hours: India is 5:30 off UTC and Nepal 5:45, so a UTC hour would put an
incident at 10:40 UTC in India's 15:00 hour (it is 16:10 there)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.models import User
from app.reports import charts, load
from tests.helpers import post_alert


def _at(clock: Any, when: datetime) -> None:
    clock.advance(seconds=(when - clock.now()).total_seconds())


def test_incidents_fall_in_the_right_hour_of_a_half_or_quarter_hour_zone(client, world, clock, database) -> None:
    for minute, dedup in ((10, "a"), (20, "b"), (40, "c")):
        _at(clock, datetime(2026, 3, 4, 10, minute, tzinfo=UTC))
        assert post_alert(client, world.keys["acme_generic"], dedup=dedup).status_code == 202
    with database.session() as s:
        hours = charts.by_hour(s, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), clock.now(),
                               None)
    assert sorted(h for h, *_ in hours) == [datetime(2026, 3, 4, 10, q, tzinfo=UTC) for q in (0, 15, 30)]

    def per_hour(zone: str) -> dict[int, float]:
        values = charts.per_hour_of_day(hours, ZoneInfo(zone)).series[0][1]
        return {h: n for h, n in enumerate(values) if n}

    assert per_hour("Asia/Kolkata") == {15: 2, 16: 1}  # 15:40, 15:50, 16:10
    assert per_hour("Asia/Kathmandu") == {15: 1, 16: 2}  # 15:55, 16:05, 16:25
    assert per_hour("Europe/Paris") == {11: 3}


def test_a_page_at_16_40_utc_is_a_night_page_in_india_and_one_at_16_20_is_not(client, world, clock, database,
                                                                              engine) -> None:
    with database.transaction() as s:
        s.get(User, world.alice).timezone = "Asia/Kolkata"
    for minute, dedup in ((20, "evening"), (40, "night")):  # 21:50 and 22:10 in India
        _at(clock, datetime(2026, 3, 4, 16, minute, tzinfo=UTC))
        assert post_alert(client, world.keys["acme_generic"], dedup=dedup).status_code == 202
        engine.run_until_idle()
    with database.session() as s:
        rows = {r.name: r for r in load.compute(s, start=datetime(2026, 3, 1, tzinfo=UTC),
                                                end=datetime(2026, 4, 1, tzinfo=UTC), now=clock.now())}
    assert (rows["Alice Martin"].pages, rows["Alice Martin"].night) == (2, 1)
