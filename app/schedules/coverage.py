"""Coverage hours: the stretches of time during which a client (or a schedule) needs someone.

Pure functions over a frozen `Coverage` value; no database, no Flask. Every instant going in
must be timezone-aware, every instant coming out is aware UTC.

Kinds (the JSON shape stored on a client or schedule, see `Coverage.from_dict`):

* ``{"kind": "always"}`` - 24/7.
* ``{"kind": "after_hours", "day_start": "08:00", "day_end": "18:00", "workdays": [0, 1, 2, 3, 4],
  "holidays": "FR"}`` - the client has its own daytime team: we cover everything EXCEPT workday
  daytime. Non-workdays and public holidays of ``holidays`` (a country code understood by the
  `holidays` library; optional) are covered all day.
* ``{"kind": "window", "start": "07:00", "end": "22:00", "days": [0, ..., 6]}`` - a daily window on
  the listed weekdays. ``end`` <= ``start`` makes it an overnight window that belongs to the day it
  starts on (Friday 22:00-06:00 runs into Saturday morning only if Friday is listed); ``start ==
  end`` is a full 24 hours. ``"24:00"`` is accepted as an end time.

Every kind also carries ``"tz"`` (default ``"Europe/Paris"``): wall-clock times and weekdays are
read in that zone, because a client's office hours follow its local clock, not UTC.

DST rules (used by this module and by `app.schedules` for hand-offs, via `local_to_utc`):

* A wall time that does not exist (spring-forward gap, e.g. 02:30 on 2026-03-29 in Paris) maps to
  the first instant after the gap (03:00 CEST). So a window starting inside the gap simply starts
  when the clocks resume, and one lying entirely inside the gap is empty that day.
* An ambiguous wall time (fall-back, e.g. 02:30 on 2026-10-25 in Paris) maps to its FIRST
  occurrence (02:30 CEST = 00:30 UTC), i.e. ``fold=0``. Both choices keep the mapping monotonic,
  which is what makes intervals built from consecutive days line up without overlaps or holes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

Kind = Literal["always", "after_hours", "window"]
Interval = tuple[datetime, datetime]

KINDS: tuple[str, ...] = ("always", "after_hours", "window")
ALL_DAYS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
DEFAULT_TZ = "Europe/Paris"
MINUTES_PER_DAY = 1440

_ONE_DAY = timedelta(days=1)
_HHMM = re.compile(r"^(\d{2}):(\d{2})$")
_KEYS: dict[str, frozenset[str]] = {
    "always": frozenset({"kind", "tz"}),
    "after_hours": frozenset({"kind", "tz", "day_start", "day_end", "workdays", "holidays"}),
    "window": frozenset({"kind", "tz", "start", "end", "days"}),
}
# next_start() gives up after this long: long enough for a coverage that only exists on public
# holidays (after_hours with a 00:00-24:00 "day" on every weekday), short enough to stay cheap.
_NEXT_START_HORIZON = timedelta(days=800)


# --------------------------------------------------------------------------- time zone helpers


@cache
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name, or ValueError (not KeyError/OSError) for a bad one."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def require_aware(t: Any, what: str = "instant") -> datetime:
    """`t` converted to UTC; naive datetimes are refused (they are the classic DST bug)."""
    if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")
    return t.astimezone(UTC)


def _wall(t: datetime, tz: ZoneInfo) -> datetime:
    return t.astimezone(tz).replace(tzinfo=None)


@lru_cache(maxsize=1 << 16)
def local_to_utc(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The UTC instant at which the clocks of `tz` show `wall` on `day`.

    Nonexistent wall times (spring-forward gap) give the instant the gap ends; ambiguous ones
    (fall-back) give the first occurrence. See the module docstring for why.

    Memoised: the same few (day, hand-off time, zone) triples are asked for again and again
    (every `oncall_at` of the dashboard, every coverage check), and the answer never changes.
    """
    naive = datetime.combine(day, wall.replace(fold=0, tzinfo=None))
    utc = naive.replace(tzinfo=tz).astimezone(UTC)  # fold=0: first occurrence if ambiguous
    if _wall(utc, tz) == naive:
        return utc
    return _gap_end(naive, tz)


def _gap_end(naive: datetime, tz: ZoneInfo) -> datetime:
    """First instant whose wall time is past `naive`, which lies in a spring-forward gap.

    zoneinfo maps a gap time with the offset before (fold=0) or after (fold=1) the transition;
    the transition lies between the two results, so a binary search on whole seconds (tzdata
    transitions are on whole seconds) finds it in ~12 steps. Only runs on gap days.
    """
    a = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    b = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    lo = int(min(a, b).timestamp()) - 1  # wall(lo) < naive
    hi = int(max(a, b).timestamp()) + 1  # wall(hi) > naive
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), tz) > naive:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def wall_to_utc(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """`local_to_utc` for a minute-of-day; 1440 ("24:00") means the next day's midnight."""
    extra, minute = divmod(minutes, MINUTES_PER_DAY)
    if extra:
        day = day + timedelta(days=extra)
    return local_to_utc(day, time(minute // 60, minute % 60), tz)


@lru_cache(maxsize=512)
def public_holidays(country: str, year: int) -> frozenset[date]:
    """Public holidays of `country` (e.g. "FR") in `year`, cached: lookups sit in hot loops."""
    try:
        return frozenset(holidays_lib.country_holidays(country, years=year).keys())
    except (NotImplementedError, KeyError, AttributeError) as exc:
        raise ValueError(f"unknown holiday country {country!r}") from exc


def is_public_holiday(day: date, country: str | None) -> bool:
    return country is not None and day in public_holidays(country, day.year)


# --------------------------------------------------------------------------- parsing helpers


def parse_hhmm(value: Any, what: str, *, allow_24: bool = False) -> int:
    """Minutes since midnight for "HH:MM" (strict: two digits each); "24:00" only if allowed."""
    match = _HHMM.match(value) if isinstance(value, str) else None
    if match:
        hours, minutes = int(match[1]), int(match[2])
        if minutes < 60 and (hours < 24 or (allow_24 and hours == 24 and minutes == 0)):
            return hours * 60 + minutes
    raise ValueError(f"{what} must be HH:MM" + (" (00:00-24:00)" if allow_24 else " (00:00-23:59)"))


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _weekdays(value: Any, what: str) -> tuple[int, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValueError(f"{what} must be a list of weekdays 0-6 (0 = Monday)")
    days = list(value)
    for d in days:
        if isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6:
            raise ValueError(f"{what} must be a list of weekdays 0-6 (0 = Monday)")
    return tuple(sorted(set(days)))


# --------------------------------------------------------------------------- the value


@dataclass(frozen=True)
class Coverage:
    """When someone must be on call. Build from JSON with `from_dict`; validated on creation.

    Fields irrelevant to `kind` keep their defaults and are ignored (and omitted by `to_dict`).
    """

    kind: Kind = "always"
    tz: str = DEFAULT_TZ
    # after_hours: the client's own working day, during which we do NOT cover
    day_start: str = "08:00"
    day_end: str = "18:00"
    workdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    holidays: str | None = None
    # window
    start: str = "00:00"
    end: str = "00:00"
    days: tuple[int, ...] = ALL_DAYS

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"coverage.kind must be one of {', '.join(KINDS)}")
        try:
            zone(self.tz)
        except ValueError as exc:
            raise ValueError(f"coverage.tz: {exc}") from None
        # Parsed minutes live in private, non-field attributes: derived data, not identity.
        set_ = object.__setattr__
        # Normalise both day lists (even the one `kind` ignores) so the value stays hashable.
        set_(self, "workdays", _weekdays(self.workdays, "coverage.workdays"))
        set_(self, "days", _weekdays(self.days, "coverage.days"))
        if self.kind == "after_hours":
            first = parse_hhmm(self.day_start, "coverage.day_start")
            last = parse_hhmm(self.day_end, "coverage.day_end", allow_24=True)
            if first >= last:
                raise ValueError("coverage.day_start must be before coverage.day_end")
            if self.holidays is not None:
                if not isinstance(self.holidays, str) or not self.holidays:
                    raise ValueError("coverage.holidays must be a country code like 'FR' or null")
                try:
                    public_holidays(self.holidays, 2000)
                except ValueError as exc:
                    raise ValueError(f"coverage.holidays: {exc}") from None
        elif self.kind == "window":
            first = parse_hhmm(self.start, "coverage.start")
            last = parse_hhmm(self.end, "coverage.end", allow_24=True)
            if last <= first:  # overnight (or full-day when equal): ends the next day
                last += MINUTES_PER_DAY
        else:
            first, last = 0, MINUTES_PER_DAY
        set_(self, "_first", first)
        set_(self, "_last", last)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Coverage:
        """Validate and build from the stored JSON shape; unknown keys are errors (typos)."""
        if not isinstance(d, Mapping):
            raise ValueError("coverage must be an object")
        kind = d.get("kind")
        if kind not in KINDS:
            raise ValueError(f"coverage.kind must be one of {', '.join(KINDS)}")
        unknown = set(d) - _KEYS[kind]
        if unknown:
            raise ValueError(
                f"coverage ({kind}): unexpected key(s) {', '.join(sorted(map(str, unknown)))}"
            )
        if kind == "window" and not {"start", "end"} <= set(d):
            raise ValueError("coverage (window) needs start and end")
        return cls(**dict(d))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "tz": self.tz}
        if self.kind == "after_hours":
            out |= {
                "day_start": self.day_start,
                "day_end": self.day_end,
                "workdays": list(self.workdays),
                "holidays": self.holidays,
            }
        elif self.kind == "window":
            out |= {"start": self.start, "end": self.end, "days": list(self.days)}
        return out


ALWAYS = Coverage()


# --------------------------------------------------------------------------- queries


def _day_intervals(cov: Coverage, day: date, tz: ZoneInfo) -> list[Interval]:
    """Covered UTC intervals contributed by local date `day` (may run into the next day)."""
    first: int = cov._first  # type: ignore[attr-defined]
    last: int = cov._last  # type: ignore[attr-defined]
    if cov.kind == "window":
        if day.weekday() not in cov.days:
            return []
        a, b = wall_to_utc(day, first, tz), wall_to_utc(day, last, tz)
        return [(a, b)] if a < b else []  # empty when the whole window falls in a DST gap
    if cov.kind == "always":
        return [(wall_to_utc(day, 0, tz), wall_to_utc(day, MINUTES_PER_DAY, tz))]
    midnight = wall_to_utc(day, 0, tz)
    next_midnight = wall_to_utc(day, MINUTES_PER_DAY, tz)
    if day.weekday() not in cov.workdays or is_public_holiday(day, cov.holidays):
        return [(midnight, next_midnight)]
    out: list[Interval] = []
    day_from, day_to = wall_to_utc(day, first, tz), wall_to_utc(day, last, tz)
    if midnight < day_from:
        out.append((midnight, day_from))
    if day_to < next_midnight:
        out.append((day_to, next_midnight))
    return out


def _merge(raw: list[Interval], start: datetime, end: datetime) -> list[Interval]:
    """Clip to [start, end), drop empties, merge touching/overlapping intervals."""
    out: list[Interval] = []
    for a, b in sorted(raw):
        a, b = max(a, start), min(b, end)
        if a >= b:
            continue
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def intervals(cov: Coverage, start: datetime, end: datetime) -> list[Interval]:
    """Covered intervals within [start, end), merged, sorted, as aware UTC pairs."""
    start = require_aware(start, "start")
    end = require_aware(end, "end")
    if start >= end:
        return []
    if cov.kind == "always":
        return [(start, end)]
    tz = zone(cov.tz)
    # Start one day early: yesterday's overnight window may still be running at `start`.
    day = start.astimezone(tz).date() - _ONE_DAY
    last_day = end.astimezone(tz).date()
    raw: list[Interval] = []
    while day <= last_day:
        raw.extend(_day_intervals(cov, day, tz))
        day += _ONE_DAY
    return _merge(raw, start, end)


def covers(cov: Coverage, t: datetime) -> bool:
    """Is instant `t` inside the coverage? Consistent with `intervals` by construction."""
    t = require_aware(t, "t")
    if cov.kind == "always":
        return True
    tz = zone(cov.tz)
    today = t.astimezone(tz).date()
    for day in (today - _ONE_DAY, today, today + _ONE_DAY):
        for a, b in _day_intervals(cov, day, tz):
            if a <= t < b:
                return True
    return False


def next_start(cov: Coverage, t: datetime) -> datetime | None:
    """The first instant >= t that is covered: `t` itself if covered, None if never (within
    ~2 years, which only a degenerate coverage such as a window with no days can exceed)."""
    t = require_aware(t, "t")
    if covers(cov, t):
        return t
    if cov.kind == "window" and not cov.days:
        return None
    for horizon in (timedelta(days=8), _NEXT_START_HORIZON):  # cheap look first, then far
        found = intervals(cov, t, t + horizon)
        if found:
            return found[0][0]
    return None


def covered_seconds(cov: Coverage | None, start: datetime, end: datetime) -> float:
    """Total covered time in [start, end) in seconds (None = always)."""
    ivs = intervals(cov or ALWAYS, start, end)
    return sum((b - a).total_seconds() for a, b in ivs)
