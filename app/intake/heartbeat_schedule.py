"""When a heartbeat is due, late and down: pure functions of a monitor's schedule, its last pings
and `now` (healthchecks' model: a period or a cron expression, then a grace).

A cron expression is read in the monitor's time zone, so "0 9 * * *" in Europe/Paris expects the
ping at 08:00 UTC in winter and 07:00 UTC in summer. Across a DST change it follows cron itself:
a time skipped in spring is expected at the change (cron runs it then), and a fixed time that
happens twice in autumn is expected once (cron runs it once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

Status = Literal["new", "up", "late", "down"]

MIN_SECONDS = 60  # a period or grace shorter than the engine's look would alert on noise
MAX_SECONDS = 366 * 86400


class ScheduleError(ValueError):
    """A schedule we cannot follow: the message says what to fix."""


@dataclass(frozen=True)
class Schedule:
    period: timedelta
    grace: timedelta
    timezone: str = "UTC"
    cron: str | None = None

    @classmethod
    def of(cls, period_seconds: int, grace_seconds: int, timezone: str = "UTC", cron: str | None = None) -> Schedule:
        """A checked schedule, or ScheduleError saying what is wrong."""
        for what, value in (("period", period_seconds), ("grace", grace_seconds)):
            if not isinstance(value, int) or isinstance(value, bool) or not MIN_SECONDS <= value <= MAX_SECONDS:
                raise ScheduleError(f"the {what} must be between 1 minute and 366 days")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(f"unknown time zone {timezone!r}") from None
        cron = (cron or "").strip() or None
        if cron is not None and (len(cron) > 120 or len(cron.split()) != 5 or not croniter.is_valid(cron)):
            raise ScheduleError(f"{cron[:120]!r} is not a cron expression of five fields (minute hour day month weekday)")
        return cls(timedelta(seconds=period_seconds), timedelta(seconds=grace_seconds), timezone, cron)


def next_expected(schedule: Schedule, after: datetime) -> datetime:
    """When the next ping is expected, after one at `after` (aware UTC in, aware UTC out)."""
    if schedule.cron is None:
        return after + schedule.period
    tz = ZoneInfo(schedule.timezone)
    runs = croniter(schedule.cron, after.astimezone(tz))
    fixed_hour = not any(c in schedule.cron.split()[1] for c in "*/")
    for _ in range(4):
        run: datetime = runs.get_next(datetime)
        local = run.astimezone(tz)
        # The second of a wall time that happens twice (autumn): cron runs a job at a fixed
        # hour once, at the first. A job every hour or every few minutes runs in both.
        if fixed_hour and local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset():
            continue
        return run.astimezone(UTC)
    raise AssertionError("a cron expression with no run")  # pragma: no cover - is_valid refused it


def deadline(schedule: Schedule, last_ping: datetime, last_start: datetime | None = None) -> datetime:
    """When the monitor goes down without another ping: the next expected ping, or the start of
    a run that has not ended (a /start with no success after it), plus the grace."""
    due = next_expected(schedule, last_ping)
    if last_start is not None and last_start > last_ping:
        due = min(due, last_start)
    return due + schedule.grace


def status(schedule: Schedule, state: str, last_ping: datetime | None, last_start: datetime | None,
           now: datetime) -> Status:
    """new (never pinged: never alerts), up, late (past due, within the grace), or down (past the
    grace, or its last ping was a /fail)."""
    if state == "down":
        return "down"
    if state == "new" or last_ping is None:
        return "new"
    if now >= deadline(schedule, last_ping, last_start):
        return "down"
    # A run that started and has not ended yet is not late: its limit is the grace after /start.
    return "late" if now >= next_expected(schedule, last_ping) else "up"


def next_check(schedule: Schedule, state: str, last_ping: datetime | None, last_start: datetime | None) -> datetime | None:
    """When the engine must look at a monitor that is up: its deadline. None for a new or down
    one (only a ping changes those)."""
    if state != "up" or last_ping is None:
        return None
    return deadline(schedule, last_ping, last_start)


def span(seconds: int) -> str:
    """3600 -> "1 hour", 5400 -> "90 minutes": for people."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


def describe(schedule: Schedule) -> str:
    """'every 24 hours' or 'on "0 2 * * *" (Europe/Paris)', then the grace: for people."""
    expect = f'on "{schedule.cron}" ({schedule.timezone})' if schedule.cron else f"every {span(int(schedule.period.total_seconds()))}"
    return f"{expect}, with {span(int(schedule.grace.total_seconds()))} of grace"
