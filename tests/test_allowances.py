"""On-call allowance report: day kinds, pro-rata shares, overrides, open slots, CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from app.schedules.allowances import (
    AllowanceRow,
    Rates,
    allowance_report,
    coverage_hours,
    day_kind,
    to_csv,
)
from app.schedules.coverage import Coverage
from app.schedules.rotations import Layer, Override, Rotation, Schedule, Shift, shifts, user_shifts

PARIS = ZoneInfo("Europe/Paris")
RATES = Rates(weekday=Decimal("20"), weekend=Decimal("40"), holiday=Decimal("60"))
AFTER_HOURS = Coverage.from_dict({"kind": "after_hours", "day_start": "08:00", "day_end": "18:00"})


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def make_schedule(
    participants: tuple[int | None, ...],
    *,
    length: str = "weekly",
    coverage: Coverage | None = None,
    overrides: tuple[Override, ...] = (),
) -> Schedule:
    rotation = Rotation(participants, paris(2026, 1, 5, 0, 0), length, "Europe/Paris")  # type: ignore[arg-type]
    return Schedule(
        1, "Acme", "Europe/Paris", (Layer(1, "primary", rotation),), coverage, overrides
    )


def report(
    schedule: Schedule, first: date, last: date, country: str | None = "FR"
) -> dict[int, AllowanceRow]:
    """The report keyed by user id, from the schedule's shifts over the (local) days."""
    held = shifts(
        schedule,
        paris(first.year, first.month, first.day),
        paris(last.year, last.month, last.day) + timedelta(days=1),
    )
    return {
        r.user_id: r for r in allowance_report(held, first, last, "Europe/Paris", RATES, country)
    }


def test_each_day_kind_is_paid_at_its_own_rate() -> None:
    # Mon 13 - Sun 19 July 2026: Tuesday the 14th is Bastille Day.
    rows = report(make_schedule((1,)), date(2026, 7, 13), date(2026, 7, 19))
    row = rows[1]
    assert (row.weekday_days, row.weekend_days, row.holiday_days) == (
        Decimal("4.00"),
        Decimal("2.00"),
        Decimal("1.00"),
    )
    assert row.amount == Decimal("220.00") and row.currency == "EUR"
    assert [d.kind for d in row.days][:3] == ["weekday", "holiday", "weekday"]


def test_a_holiday_on_a_weekend_is_paid_once_at_the_holiday_rate() -> None:
    toussaint = date(2026, 11, 1)
    assert toussaint.weekday() == 6 and day_kind(toussaint, "FR") == "holiday"
    row = report(make_schedule((1,)), toussaint, toussaint)[1]
    assert (row.weekend_days, row.holiday_days, row.amount) == (
        Decimal("0.00"),
        Decimal("1.00"),
        Decimal("60.00"),
    )


def test_without_a_holiday_country_a_holiday_is_an_ordinary_day() -> None:
    row = report(make_schedule((1,)), date(2026, 11, 1), date(2026, 11, 1), country=None)[1]
    assert (row.weekend_days, row.holiday_days) == (Decimal("1.00"), Decimal("0.00"))


def test_an_override_for_one_night_pays_whoever_held_it_pro_rata() -> None:
    night = Override(7, 1, paris(2026, 3, 4, 18), paris(2026, 3, 5, 8), 3, replaces_user_id=1)
    s = make_schedule((1,), coverage=AFTER_HOURS, overrides=(night,))
    rows = report(s, date(2026, 3, 2), date(2026, 3, 8))
    carol, alice = rows[3], rows[1]
    # Wednesday: 6 of the 14 covered hours; Thursday: 8 of 14 -> exactly one weekday.
    assert [(d.day, d.share) for d in carol.days] == [
        (date(2026, 3, 4), Decimal("0.4286")),
        (date(2026, 3, 5), Decimal("0.5714")),
    ]
    assert carol.weekday_days == Decimal("1.00") and carol.amount == Decimal("20.00")
    # After-hours only, yet a full night is worth a full day: 5 - 1 weekdays + the weekend.
    assert (alice.weekday_days, alice.weekend_days, alice.amount) == (
        Decimal("4.00"),
        Decimal("2.00"),
        Decimal("160.00"),
    )


def test_open_slot_time_is_paid_to_nobody() -> None:
    half_day = Override(1, 1, paris(2026, 3, 2, 0), paris(2026, 3, 2, 12), None)
    s = make_schedule((1, None), length="daily", overrides=(half_day,))
    rows = report(s, date(2026, 3, 2), date(2026, 3, 8))
    assert list(rows) == [1]
    # Monday (half open), Wednesday, Friday: weekdays; Sunday: weekend. Tue/Thu/Sat are open.
    row = rows[1]
    assert (row.weekday_days, row.weekend_days, row.amount) == (
        Decimal("2.50"),
        Decimal("1.00"),
        Decimal("90.00"),
    )


def test_a_23_hour_dst_day_held_in_full_is_one_day() -> None:
    row = report(make_schedule((1,)), date(2026, 3, 29), date(2026, 3, 29))[1]
    assert row.weekend_days == Decimal("1.00")
    assert row.days[0].covered_seconds == 23 * 3600


def test_shares_are_summed_exactly_and_rounded_once() -> None:
    rotation = Rotation((1, 2, 3), paris(2026, 3, 2, 0), timedelta(hours=8), "Europe/Paris")
    s = Schedule(1, "Acme", "Europe/Paris", (Layer(1, "primary", rotation),))
    rows = report(s, date(2026, 3, 2), date(2026, 3, 2))
    assert [(r.weekday_days, r.amount) for r in rows.values()] == [
        (Decimal("0.33"), Decimal("6.67"))
    ] * 3


def test_a_partial_shift_list_uses_the_coverage_hours_as_denominator() -> None:
    night = Override(7, 1, paris(2026, 3, 4, 18), paris(2026, 3, 5, 8), 3)
    s = make_schedule((1,), coverage=AFTER_HOURS, overrides=(night,))
    only_carol = user_shifts(s, 3, paris(2026, 3, 2), paris(2026, 3, 9))
    alone = allowance_report(only_carol, date(2026, 3, 2), date(2026, 3, 8), "Europe/Paris", RATES)
    assert alone[0].weekday_days == Decimal("2.00")  # on her own list she looks alone: too much
    fixed = allowance_report(
        only_carol, date(2026, 3, 2), date(2026, 3, 8), "Europe/Paris", RATES,
        coverage_hours_per_day=coverage_hours(AFTER_HOURS, "Europe/Paris"),
    )  # fmt: skip
    assert fixed[0].weekday_days == Decimal("1.00")


def test_shifts_outside_the_period_are_ignored_and_layers_pay_separately() -> None:
    held = [
        Shift(1, 1, paris(2026, 3, 1, 12), paris(2026, 3, 3, 0), "rotation"),
        Shift(2, 1, paris(2026, 3, 2, 0), paris(2026, 3, 3, 0), "rotation"),
    ]
    rows = allowance_report(held, date(2026, 3, 2), date(2026, 3, 2), "Europe/Paris", RATES)
    assert rows[0].weekday_days == Decimal("2.00")  # primary + secondary, Sunday excluded


def test_csv_has_one_line_per_person_and_neutralises_formulas() -> None:
    # Daily rotation anchored on 2026-01-05: Bob has Monday 13 July, Alice Bastille Day.
    rows = report(make_schedule((1, 2), length="daily"), date(2026, 7, 13), date(2026, 7, 14))
    text = to_csv(rows.values(), {1: "Alice Martin", 2: "=HYPERLINK(1)"})
    lines = list(csv.reader(io.StringIO(text)))
    assert lines == [
        [
            "user_id",
            "name",
            "weekday_days",
            "weekend_days",
            "holiday_days",
            "total_days",
            "amount",
            "currency",
        ],
        ["1", "Alice Martin", "0.00", "0.00", "1.00", "1.00", "60.00", "EUR"],
        ["2", "'=HYPERLINK(1)", "1.00", "0.00", "0.00", "1.00", "20.00", "EUR"],
    ]


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="not a float"):
        Rates(weekday=20.0, weekend=Decimal(40), holiday=Decimal(60))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative"):
        Rates(weekday=Decimal(-1), weekend=Decimal(40), holiday=Decimal(60))
    with pytest.raises(ValueError, match="period_end"):
        allowance_report([], date(2026, 3, 2), date(2026, 3, 1), "Europe/Paris", RATES)
