"""Uptime bars: per component and day, the worst state and the share of the day it was up.
Pure. As Statuspage counts it: a major outage is down time, a partial outage counts 30%,
degraded performance is up."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEIGHT = {"major_outage": 1.0, "partial_outage": 0.3, "degraded_performance": 0.0}
RANK = {"operational": 0, "degraded_performance": 1, "partial_outage": 2, "major_outage": 3}


@dataclass(frozen=True)
class Outage:
    start: datetime
    end: datetime  # now, while it lasts
    state: str  # a key of WEIGHT


@dataclass(frozen=True)
class Day:
    day: date
    state: str
    uptime: float  # 0..100


@dataclass(frozen=True)
class Bars:
    """`n` days from `first`: each day's worst state and uptime (percent), oldest first."""

    first: date
    states: tuple[str, ...]
    uptimes: tuple[float, ...]

    def as_days(self) -> list[Day]:
        return [Day(self.first + timedelta(days=i), st, up) for i, (st, up) in enumerate(zip(self.states, self.uptimes,
                                                                                             strict=True))]


def bars(outages: Iterable[Outage], today: date, n: int, tz: ZoneInfo) -> Bars:
    """The last `n` days (oldest first, ending with `today` in zone `tz`). Only the days an
    outage touches are computed: a page has many components and few outages."""
    first = today - timedelta(days=n - 1)
    down: dict[int, float] = {}
    worst: dict[int, str] = {}
    for o in outages:
        start, end = o.start.astimezone(tz), o.end.astimezone(tz)
        d = max(start.date(), first)
        while d <= min(end.date(), today):
            i = (d - first).days
            day_start = datetime.combine(d, time(), tz)
            day_end = day_start + timedelta(days=1)
            overlap = (min(end, day_end) - max(start, day_start)).total_seconds()
            if overlap > 0:
                down[i] = down.get(i, 0.0) + overlap * WEIGHT.get(o.state, 0.0)
                if RANK.get(o.state, 0) > RANK[worst.get(i, "operational")]:
                    worst[i] = o.state
            d += timedelta(days=1)
    if not worst:
        return Bars(first, ("operational",) * n, (100.0,) * n)
    states = tuple(worst.get(i, "operational") for i in range(n))
    uptimes = tuple(round(100.0 * max(0.0, 1 - down[i] / 86400), 2) if i in down else 100.0 for i in range(n))
    return Bars(first, states, uptimes)


def days(outages: Iterable[Outage], today: date, n: int, tz: ZoneInfo) -> list[Day]:
    return bars(outages, today, n, tz).as_days()


def overall(days_or_bars: list[Day] | Bars) -> float:
    if isinstance(days_or_bars, Bars):
        ups = days_or_bars.uptimes
    else:
        ups = tuple(b.uptime for b in days_or_bars)
    return round(sum(ups) / len(ups), 2) if ups else 100.0
