"""On-call allowance ("astreinte") report for a pay period.

The rule
--------
Each calendar day, in the report's time zone `tz`, is worth ONE daily allowance PER LAYER. That
allowance is split pro rata among the people who actually held the layer's shifts that day, by
the time they held, relative to the time that was COVERED that day:

    share(user, day, layer) = seconds user held the layer that day / covered seconds that day

* "Covered seconds" defaults to the total shift time of that layer that day, open slots
  included. Since `app.schedules.shifts` only emits shifts inside coverage, this is the covered
  time: an after-hours-only schedule therefore pays a full day for a full night (the 14 covered
  hours of a weekday are the whole day's worth), and a 23- or 25-hour DST day is still one day.
  Pass `coverage_hours_per_day(day, layer_id) -> hours` when the shift list is partial (e.g.
  only one engineer's shifts; `coverage_hours` builds one from a `Coverage`): its value is
  then the denominator (shares capped at 1; a value <= 0 falls back to the shift total). It is
  only asked about days on which the layer has shifts.
* Open-slot time (user None) is paid to nobody: its share of the day is simply lost.
* Overrides count for whoever actually held the shift - the shift list already reflects them.
* Day kind: a public holiday in `country` (the `holidays` library) is a "holiday"; otherwise
  Saturday/Sunday is a "weekend", else a "weekday". A holiday falling on a weekend is paid the
  holiday rate only (never both).
* Amounts: shares are summed exactly (integer microseconds, then Decimal at 28 digits), the
  amount is sum(share x rate of its day kind); day counts and amount are rounded half-up to 2
  places only at the end, so the amount may differ by a cent from (rounded days x rate) - it is
  the more accurate of the two. Per-day lines round their own share/amount for display.

Layer ids must be unique across all the shifts passed in (DB ids are). Shifts are cut at local
midnights of `tz` (precomputed once per day, so DST days have their true 23/25 hours) in integer
microseconds - no per-minute loops: the cost is ~2 us per shift (bench/schedules_bench.py), and
each row's per-day breakdown (`AllowanceRow.days`) is only expanded when read.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from itertools import pairwise
from typing import Any, Literal, NamedTuple

from .coverage import Coverage, covered_seconds, is_public_holiday, wall_to_utc, zone
from .rotations import Shift

DayKind = Literal["weekday", "weekend", "holiday"]
CoverageHours = Callable[[date, int], float | Decimal]

_CENT = Decimal("0.01")
_SHARE = Decimal("0.0001")
_ZERO = Decimal(0)
_MICRO = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CODES: dict[str, int] = {"weekday": 0, "weekend": 1, "holiday": 2}


def _money(value: Any, what: str) -> Decimal:
    if isinstance(value, float) or isinstance(value, bool):
        raise ValueError(f"rates.{what} must be a Decimal (or int/str), not a float")
    try:
        amount = Decimal(value)
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise ValueError(f"rates.{what} must be a decimal amount") from exc
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"rates.{what} must be a non-negative amount")
    return amount


@dataclass(frozen=True)
class Rates:
    """Daily allowance amounts. Floats are refused: money is Decimal end to end."""

    weekday: Decimal
    weekend: Decimal
    holiday: Decimal
    currency: str = "EUR"

    def __post_init__(self) -> None:
        for name in ("weekday", "weekend", "holiday"):
            object.__setattr__(self, name, _money(getattr(self, name), name))

    def for_kind(self, kind: DayKind) -> Decimal:
        return {"weekday": self.weekday, "weekend": self.weekend, "holiday": self.holiday}[kind]


class AllowanceDay(NamedTuple):
    """One (day, layer) line of a person's breakdown. Times are integer microseconds so the
    share is exact; `share` (4 places) and `amount` (2 places) are rounded for display only,
    row totals being computed from the exact values."""

    day: date
    layer_id: int
    kind: DayKind
    held_us: int
    covered_us: int
    rate: Decimal

    @property
    def held_seconds(self) -> float:
        return self.held_us / 1e6

    @property
    def covered_seconds(self) -> float:
        return self.covered_us / 1e6

    @property
    def share(self) -> Decimal:
        return (Decimal(self.held_us) / self.covered_us).quantize(_SHARE, ROUND_HALF_UP)

    @property
    def amount(self) -> Decimal:
        return (Decimal(self.held_us) * self.rate / self.covered_us).quantize(_CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class _Breakdown:
    """What a row's per-day lines are made of, kept unexpanded: (layer, {day index: held
    microseconds}) pairs plus the period's per-day facts shared by every row."""

    held: tuple[tuple[int, dict[int, int]], ...]
    days: list[date]
    kinds: list[DayKind]
    denominators: dict[int, list[int]]
    rates: Rates

    def lines(self) -> tuple[AllowanceDay, ...]:
        out = []
        for layer_id, per_day in self.held:
            covered_row = self.denominators[layer_id]
            for i, micros in per_day.items():
                kind, covered = self.kinds[i], covered_row[i]
                out.append(
                    AllowanceDay(
                        self.days[i],
                        layer_id,
                        kind,
                        min(micros, covered),
                        covered,
                        self.rates.for_kind(kind),
                    )
                )
        out.sort()
        return tuple(out)


@dataclass(frozen=True)
class AllowanceRow:
    """A person's allowance for the period. `days` (the per-day breakdown, in (day, layer)
    order) is materialised on first access: a year of lines for a whole team is tens of
    thousands of objects that a CSV export never looks at."""

    user_id: int
    weekday_days: Decimal
    weekend_days: Decimal
    holiday_days: Decimal
    amount: Decimal
    currency: str
    breakdown: _Breakdown | None = field(default=None, repr=False, compare=False)

    @property
    def total_days(self) -> Decimal:
        return self.weekday_days + self.weekend_days + self.holiday_days

    @cached_property
    def days(self) -> tuple[AllowanceDay, ...]:
        return self.breakdown.lines() if self.breakdown else ()


def day_kind(day: date, country: str | None) -> DayKind:
    """Holiday beats weekend: a holiday on a Sunday is a holiday (paid once, at that rate)."""
    if is_public_holiday(day, country):
        return "holiday"
    return "weekend" if day.weekday() >= 5 else "weekday"


def coverage_hours(coverage: Coverage | None, tz: str) -> CoverageHours:
    """A `coverage_hours_per_day` callable from a schedule's coverage (same for every layer),
    measuring each local day of `tz`."""
    zone_ = zone(tz)
    cache: dict[date, float] = {}

    def hours(day: date, layer_id: int) -> float:
        if day not in cache:
            start, end = wall_to_utc(day, 0, zone_), wall_to_utc(day, 1440, zone_)
            cache[day] = covered_seconds(coverage, start, end) / 3600
        return cache[day]

    return hours


def allowance_report(
    shifts: Iterable[Shift],
    period_start: date,
    period_end: date,
    tz: str,
    rates: Rates,
    country: str | None = "FR",
    coverage_hours_per_day: CoverageHours | None = None,
) -> list[AllowanceRow]:
    """Allowance rows (one per user who held any shift) for [period_start, period_end] inclusive,
    sorted by user id. See the module docstring for the rule."""
    if period_end < period_start:
        raise ValueError("period_end must not be before period_start")
    zone_ = zone(tz)
    n_days = (period_end - period_start).days + 1
    days = [period_start + timedelta(days=i) for i in range(n_days)]
    # Local midnights, computed once, in integer microseconds since the epoch: exact, and far
    # cheaper than datetime arithmetic in the per-shift loop.
    mids = [_us(wall_to_utc(d, 0, zone_)) for d in days]
    mids.append(_us(wall_to_utc(period_end, 1440, zone_)))
    day_length = [b - a for a, b in pairwise(mids)]  # 23 h / 25 h on DST days
    held = _cut_at_midnights(shifts, mids, day_length)
    denominators = _denominators(held, days, coverage_hours_per_day)

    kinds = [day_kind(d, country) for d in days]
    codes = [_CODES[k] for k in kinds]
    rate_by_code = (rates.weekday, rates.weekend, rates.holiday)
    # Exact totals without a Decimal division per line: shares with the same denominator and
    # day kind add up as integers first. The group key packs both into one int, precomputed
    # per (layer, day): denominator * 4 + kind code.
    keys = {
        layer: [d * 4 + c for d, c in zip(row, codes, strict=True)]
        for layer, row in denominators.items()
    }
    grouped: dict[int, dict[int, int]] = {}
    sources: dict[int, list[tuple[int, dict[int, int]]]] = {}
    capped = coverage_hours_per_day is not None
    for (layer_id, user_id), per_day in held.items():
        if user_id is None:
            continue  # open-slot time is paid to nobody
        sources.setdefault(user_id, []).append((layer_id, per_day))
        groups = grouped.setdefault(user_id, {})
        layer_keys = keys[layer_id]
        if capped:  # a known coverage can be shorter than what a partial shift list shows
            row = denominators[layer_id]
            for i, micros in per_day.items():
                k = layer_keys[i]
                groups[k] = groups.get(k, 0) + min(micros, row[i])
        else:
            for i, micros in per_day.items():
                k = layer_keys[i]
                groups[k] = groups.get(k, 0) + micros

    rows = []
    for user_id in sorted(grouped):
        by_code = [_ZERO, _ZERO, _ZERO]
        for key, micros in grouped[user_id].items():
            covered, c = divmod(key, 4)
            by_code[c] += Decimal(micros) / covered
        amount = sum(
            (share * rate for share, rate in zip(by_code, rate_by_code, strict=True)), _ZERO
        )
        breakdown = _Breakdown(tuple(sources[user_id]), days, kinds, denominators, rates)
        rows.append(
            AllowanceRow(
                user_id=user_id,
                weekday_days=by_code[0].quantize(_CENT, ROUND_HALF_UP),
                weekend_days=by_code[1].quantize(_CENT, ROUND_HALF_UP),
                holiday_days=by_code[2].quantize(_CENT, ROUND_HALF_UP),
                amount=amount.quantize(_CENT, ROUND_HALF_UP),
                currency=rates.currency,
                breakdown=breakdown,
            )
        )
    return rows


def _us(t: datetime) -> int:
    return (t - _EPOCH) // _MICRO


def _cut_at_midnights(
    shifts: Iterable[Shift], mids: list[int], day_length: list[int]
) -> dict[tuple[int, int | None], dict[int, int]]:
    """(layer, user or None) -> day index -> microseconds held that local day.

    Most shifts lie within one day (nights, 12 h shifts) and take the fast path; the full days
    inside a long shift use the precomputed day lengths.
    """
    lo, hi, n_days = mids[0], mids[-1], len(day_length)
    held: dict[tuple[int, int | None], dict[int, int]] = {}
    i = 0
    # Converting a datetime costs ~0.5 us; shift boundaries repeat (one shift's end is the next
    # one's start, and layers of a schedule share the coverage edges), so memoise them.
    as_us: dict[datetime, int] = {}
    for s in shifts:
        a = as_us.get(s.start)
        if a is None:
            a = as_us[s.start] = (s.start - _EPOCH) // _MICRO
        b = as_us.get(s.end)
        if b is None:
            b = as_us[s.end] = (s.end - _EPOCH) // _MICRO
        if a < lo:
            a = lo
        if b > hi:
            b = hi
        if a >= b:
            continue
        key = (s.layer_id, s.user_id)
        mine = held.get(key)
        if mine is None:
            mine = held[key] = {}
        # Shifts usually arrive sorted: try the previous shift's day before bisecting.
        if not mids[i] <= a < mids[i + 1]:
            i = bisect_right(mids, a) - 1
        end_of_day = mids[i + 1]
        if b <= end_of_day:
            mine[i] = mine.get(i, 0) + b - a
            continue
        mine[i] = mine.get(i, 0) + end_of_day - a
        i += 1
        while i < n_days and mids[i + 1] <= b:
            mine[i] = mine.get(i, 0) + day_length[i]
            i += 1
        if i < n_days and b > mids[i]:
            mine[i] = mine.get(i, 0) + b - mids[i]
        i = min(i, n_days - 1)  # keep the next shift's quick check in range
    return held


def _denominators(
    held: dict[tuple[int, int | None], dict[int, int]],
    days: list[date],
    hours_of: CoverageHours | None,
) -> dict[int, list[int]]:
    """layer -> day index -> covered microseconds: the layer's total shift time that day (open
    slots included), unless the caller knows the covered hours (a positive value from
    `hours_of` replaces it)."""
    out: dict[int, list[int]] = {}
    for (layer_id, _user), per_day in held.items():
        row = out.get(layer_id)
        if row is None:
            row = out[layer_id] = [0] * len(days)
        for i, micros in per_day.items():
            row[i] += micros
    if hours_of is not None:
        for layer_id, row in out.items():
            for i, micros in enumerate(row):
                if micros:
                    hours = Decimal(str(hours_of(days[i], layer_id)))
                    if hours > 0:
                        row[i] = int(hours * 3_600_000_000)
    return out


def _cell(text: str) -> str:
    """Neutralise spreadsheet formulas in free text (CSV injection): payroll opens this file."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: Iterable[AllowanceRow], users: dict[int, str]) -> str:
    """One line per user: id, name, day counts per kind, total days, amount, currency."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(
        [
            "user_id",
            "name",
            "weekday_days",
            "weekend_days",
            "holiday_days",
            "total_days",
            "amount",
            "currency",
        ]
    )
    for r in rows:
        writer.writerow(
            [
                r.user_id,
                _cell(users.get(r.user_id, f"user {r.user_id}")),
                r.weekday_days,
                r.weekend_days,
                r.holiday_days,
                r.total_days,
                r.amount,
                r.currency,
            ]
        )
    return buf.getvalue()


__all__ = [
    "AllowanceDay",
    "AllowanceRow",
    "Rates",
    "allowance_report",
    "coverage_hours",
    "day_kind",
    "to_csv",
]
