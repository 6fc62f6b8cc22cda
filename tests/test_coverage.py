"""Coverage hours: after-hours, windows, holidays, next_start and DST (Europe/Paris)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.schedules.coverage import (
    Coverage,
    covered_seconds,
    covers,
    intervals,
    local_to_utc,
    next_start,
    public_holidays,
)

PARIS = ZoneInfo("Europe/Paris")
AFTER_HOURS = {
    "kind": "after_hours",
    "day_start": "08:00",
    "day_end": "18:00",
    "workdays": [0, 1, 2, 3, 4],
    "holidays": "FR",
    "tz": "Europe/Paris",
}


def paris(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=PARIS, fold=fold)  # type: ignore[misc]


def local(ivs: list[tuple[datetime, datetime]]) -> list[tuple[str, str]]:
    return [(a.astimezone(PARIS).isoformat(), b.astimezone(PARIS).isoformat()) for a, b in ivs]


@pytest.fixture
def after_hours() -> Coverage:
    return Coverage.from_dict(AFTER_HOURS)


# --------------------------------------------------------------------------- after hours


def test_after_hours_covers_weekday_nights_but_not_the_working_day(after_hours: Coverage) -> None:
    wednesday = (2026, 3, 4)
    assert covers(after_hours, paris(*wednesday, 7, 59))
    assert not covers(after_hours, paris(*wednesday, 8, 0))
    assert not covers(after_hours, paris(*wednesday, 17, 59))
    assert covers(after_hours, paris(*wednesday, 18, 0))
    assert covers(after_hours, paris(*wednesday, 23, 30))


def test_after_hours_covers_the_whole_weekend_as_one_stretch(after_hours: Coverage) -> None:
    ivs = intervals(after_hours, paris(2026, 3, 6, 12), paris(2026, 3, 9, 12))
    assert local(ivs) == [("2026-03-06T18:00:00+01:00", "2026-03-09T08:00:00+01:00")]


@pytest.mark.parametrize(
    "holiday",
    [(2026, 7, 14), (2026, 5, 1), (2026, 12, 25)],
    ids=["bastille_day", "labour_day", "christmas"],
)
def test_after_hours_covers_french_public_holidays_all_day(
    after_hours: Coverage, holiday: tuple[int, int, int]
) -> None:
    assert paris(*holiday).date().weekday() < 5  # all three fall on weekdays in 2026
    assert covers(after_hours, paris(*holiday, 12, 0))
    day = intervals(after_hours, paris(*holiday), paris(*holiday) + timedelta(days=1))
    assert len(day) == 1 and covered_seconds(after_hours, *day[0]) == 24 * 3600


def test_after_hours_without_a_holiday_country_treats_holidays_as_workdays() -> None:
    cov = Coverage.from_dict({**AFTER_HOURS, "holidays": None})
    assert not covers(cov, paris(2026, 7, 14, 12, 0))


def test_after_hours_on_the_spring_forward_night_is_one_hour_shorter(after_hours: Coverage) -> None:
    # Friday 18:00 to Monday 08:00 across 2026-03-29 (02:00 -> 03:00) lasts 61 h, not 62 h.
    ivs = intervals(after_hours, paris(2026, 3, 27, 12), paris(2026, 3, 30, 12))
    assert len(ivs) == 1
    assert ivs[0][1] - ivs[0][0] == timedelta(hours=61)


# --------------------------------------------------------------------------- windows


def test_window_covers_seven_to_twenty_two_every_day() -> None:
    cov = Coverage.from_dict({"kind": "window", "start": "07:00", "end": "22:00"})
    assert not covers(cov, paris(2026, 3, 7, 6, 59))
    assert covers(cov, paris(2026, 3, 7, 7, 0))
    assert covers(cov, paris(2026, 3, 7, 21, 59))
    assert not covers(cov, paris(2026, 3, 7, 22, 0))
    assert covered_seconds(cov, paris(2026, 3, 2), paris(2026, 3, 9)) == 7 * 15 * 3600


def test_overnight_window_belongs_to_the_day_it_starts() -> None:
    cov = Coverage.from_dict({"kind": "window", "start": "22:00", "end": "06:00", "days": [4]})
    assert covers(cov, paris(2026, 3, 6, 23, 0))  # Friday night
    assert covers(cov, paris(2026, 3, 7, 5, 59))  # ... into Saturday morning
    assert not covers(cov, paris(2026, 3, 7, 23, 0))  # Saturday night is not listed
    assert not covers(cov, paris(2026, 3, 6, 5, 0))  # Friday morning belongs to Thursday
    ivs = intervals(cov, paris(2026, 3, 2), paris(2026, 3, 9))
    assert local(ivs) == [("2026-03-06T22:00:00+01:00", "2026-03-07T06:00:00+01:00")]


def test_window_starting_inside_the_spring_forward_gap_starts_when_the_clocks_resume() -> None:
    cov = Coverage.from_dict({"kind": "window", "start": "02:30", "end": "05:00"})
    ivs = intervals(cov, paris(2026, 3, 29), paris(2026, 3, 30))
    assert local(ivs) == [("2026-03-29T03:00:00+02:00", "2026-03-29T05:00:00+02:00")]


def test_window_starting_at_an_ambiguous_time_uses_the_first_occurrence() -> None:
    cov = Coverage.from_dict({"kind": "window", "start": "02:30", "end": "04:00"})
    ivs = intervals(cov, paris(2026, 10, 25), paris(2026, 10, 26))
    assert local(ivs) == [("2026-10-25T02:30:00+02:00", "2026-10-25T04:00:00+01:00")]
    assert ivs[0][1] - ivs[0][0] == timedelta(hours=2, minutes=30)
    assert covers(cov, paris(2026, 10, 25, 2, 15, fold=1))  # the second 02:15 is inside


def test_full_day_window_from_midnight_to_midnight_covers_the_listed_days() -> None:
    cov = Coverage.from_dict({"kind": "window", "start": "00:00", "end": "24:00", "days": [5, 6]})
    ivs = intervals(cov, paris(2026, 3, 2), paris(2026, 3, 16))
    assert local(ivs) == [
        ("2026-03-07T00:00:00+01:00", "2026-03-09T00:00:00+01:00"),
        ("2026-03-14T00:00:00+01:00", "2026-03-16T00:00:00+01:00"),
    ]


# --------------------------------------------------------------------------- next_start


def test_next_start_is_t_itself_when_t_is_covered(after_hours: Coverage) -> None:
    t = paris(2026, 3, 4, 20, 0)
    assert next_start(after_hours, t) == t


def test_next_start_during_the_working_day_is_six_pm(after_hours: Coverage) -> None:
    found = next_start(after_hours, paris(2026, 3, 4, 9, 15))
    assert found == paris(2026, 3, 4, 18, 0) and found.tzinfo == UTC


def test_next_start_of_a_weekly_window_skips_to_the_listed_day() -> None:
    cov = Coverage.from_dict({"kind": "window", "start": "22:00", "end": "06:00", "days": [4]})
    assert next_start(cov, paris(2026, 3, 7, 7, 0)) == paris(2026, 3, 13, 22, 0)


def test_next_start_is_none_when_nothing_is_ever_covered() -> None:
    cov = Coverage.from_dict({"kind": "window", "start": "07:00", "end": "22:00", "days": []})
    assert next_start(cov, paris(2026, 3, 7)) is None


# --------------------------------------------------------------------------- values & validation


def test_dst_mapping_of_wall_times_in_paris() -> None:
    day_spring, day_fall = paris(2026, 3, 29).date(), paris(2026, 10, 25).date()
    assert local_to_utc(day_spring, paris(2026, 1, 1, 2, 30).time(), PARIS) == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )
    assert local_to_utc(day_fall, paris(2026, 1, 1, 2, 30).time(), PARIS) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )


def test_toussaint_2026_is_a_sunday_and_a_french_public_holiday() -> None:
    toussaint = paris(2026, 11, 1).date()
    assert toussaint.weekday() == 6 and toussaint in public_holidays("FR", 2026)


def test_coverage_round_trips_through_its_dict() -> None:
    for d in (
        {"kind": "always", "tz": "UTC"},
        AFTER_HOURS,
        {
            "kind": "window",
            "start": "22:00",
            "end": "06:00",
            "days": [4, 5],
            "tz": "America/New_York",
        },
    ):
        assert Coverage.from_dict(d).to_dict() == d
    assert Coverage.from_dict({"kind": "always"}).tz == "Europe/Paris"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"kind": "window", "start": "7:00", "end": "22:00"}, "coverage.start must be HH:MM"),
        ({"kind": "window", "start": "07:00", "end": "25:00"}, "coverage.end must be HH:MM"),
        ({"kind": "window", "start": "07:00"}, "needs start and end"),
        (
            {"kind": "after_hours", "day_start": "18:00", "day_end": "08:00"},
            "before coverage.day_end",
        ),
        ({"kind": "after_hours", "workdays": [0, 7]}, "coverage.workdays"),
        ({"kind": "after_hours", "holidays": "XX"}, "coverage.holidays"),
        ({"kind": "always", "tz": "Mars/Olympus"}, "coverage.tz"),
        ({"kind": "sometimes"}, "coverage.kind"),
        ({"kind": "always", "start": "07:00"}, "unexpected key"),
        ("always", "coverage must be an object"),
    ],
)
def test_bad_coverage_is_refused_with_a_clear_message(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Coverage.from_dict(bad)  # type: ignore[arg-type]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        covers(Coverage(), datetime(2026, 3, 4, 12, 0))
