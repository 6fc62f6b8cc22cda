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


def days(outages: Iterable[Outage], today: date, n: int, tz: ZoneInfo) -> list[Day]:
    """The last `n` days (oldest first, ending with `today` in zone `tz`)."""
    first = today - timedelta(days=n - 1)
    down = [0.0] * n
    worst = ["operational"] * n
    for o in outages:
        start, end = o.start.astimezone(tz), o.end.astimezone(tz)
        d = max(start.date(), first)
        while d <= min(end.date(), today):
            i = (d - first).days
            day_start = datetime.combine(d, time(), tz)
            day_end = day_start + timedelta(days=1)
            overlap = (min(end, day_end) - max(start, day_start)).total_seconds()
            if overlap > 0:
                down[i] += overlap * WEIGHT.get(o.state, 0.0)
                if RANK.get(o.state, 0) > RANK[worst[i]]:
                    worst[i] = o.state
            d += timedelta(days=1)
    return [Day(first + timedelta(days=i), worst[i], round(100.0 * max(0.0, 1 - down[i] / 86400), 2))
            for i in range(n)]


def overall(bars: list[Day]) -> float:
    return round(sum(b.uptime for b in bars) / len(bars), 2) if bars else 100.0
