"""A report's period from the reader's query: whole days in their zone, `from` and `to`
inclusive; by default the last 30 days up to today."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import ActionError

DEFAULT_DAYS = 30
MAX_DAYS = 3700


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), self.tz)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0), self.tz)

    def args(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def day_arg(args: Any, name: str) -> date | None:
    """A date argument (YYYY-MM-DD, a sane year), or None when absent; a clear 400 otherwise."""
    v = (args.get(name) or "").strip()
    if not v:
        return None
    try:
        d = date.fromisoformat(v)
    except ValueError:
        raise ActionError(f"{name} must be a date (YYYY-MM-DD)", 400) from None
    if not 1971 <= d.year <= 9998:
        raise ActionError(f"{name} must be between 1971 and 9998", 400)
    return d


def parse(args: Any, tz: ZoneInfo, now: datetime) -> Period:
    today = now.astimezone(tz).date()

    def day(name: str, default: date) -> date:
        found = day_arg(args, name)
        return default if found is None else found

    last = day("to", today)
    first = day("from", last - timedelta(days=DEFAULT_DAYS - 1))
    if last < first:
        raise ActionError("to is before from", 400)
    if (last - first).days > MAX_DAYS:
        raise ActionError(f"a period is at most {MAX_DAYS} days", 400)
    return Period(first, last, tz)
