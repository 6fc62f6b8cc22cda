"""When a heartbeat is due, late and down (intake/heartbeat_schedule.py, pure): a period or a cron
expression in the monitor's time zone, DST-correct, then the grace."""

from datetime import UTC, datetime, timedelta

import pytest

from app.intake.heartbeat_schedule import Schedule, ScheduleError, deadline, next_expected, status

H, M = 3600, 60


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_period_monitor_is_up_then_late_then_down_past_the_grace() -> None:
    s = Schedule.of(H, 10 * M)
    pinged = at("2026-03-02 03:00")
    assert status(s, "up", pinged, None, pinged + timedelta(minutes=59, seconds=59)) == "up"
    assert status(s, "up", pinged, None, pinged + timedelta(hours=1)) == "late"
    assert status(s, "up", pinged, None, pinged + timedelta(minutes=69, seconds=59)) == "late"
    assert status(s, "up", pinged, None, pinged + timedelta(minutes=70)) == "down"
    assert deadline(s, pinged) == pinged + timedelta(minutes=70)


def test_a_new_monitor_never_goes_down_and_a_failed_one_stays_down() -> None:
    s = Schedule.of(H, 10 * M)
    assert status(s, "new", None, None, at("2030-01-01 00:00")) == "new"
    assert status(s, "down", at("2026-03-02 03:00"), None, at("2026-03-02 03:01")) == "down"


def test_a_run_that_started_must_end_within_the_grace() -> None:
    s = Schedule.of(24 * H, 30 * M)
    pinged, started = at("2026-03-02 02:00"), at("2026-03-03 02:00")
    assert deadline(s, pinged, started) == started + timedelta(minutes=30)
    assert status(s, "up", pinged, started, started + timedelta(minutes=29)) == "late"  # due at 02:00 next day
    assert status(s, "up", pinged, started, started + timedelta(minutes=30)) == "down"
    early = at("2026-03-02 12:00")  # a run started long before it is due: not late while it runs
    assert status(s, "up", pinged, early, early + timedelta(minutes=10)) == "up"
    assert status(s, "up", pinged, early, early + timedelta(minutes=30)) == "down"


def test_a_daily_cron_in_paris_is_expected_an_hour_earlier_in_utc_after_the_spring_change() -> None:
    s = Schedule.of(H, 30 * M, "Europe/Paris", "0 9 * * *")
    # Saturday 28 March 2026, 09:00 CET = 08:00 UTC; Sunday 29 March (CEST) 09:00 = 07:00 UTC.
    assert next_expected(s, at("2026-03-28 08:00:05")) == at("2026-03-29 07:00")
    assert deadline(s, at("2026-03-28 08:00:05")) == at("2026-03-29 07:30")
    assert status(s, "up", at("2026-03-28 08:00:05"), None, at("2026-03-29 07:29:59")) == "late"
    assert status(s, "up", at("2026-03-28 08:00:05"), None, at("2026-03-29 07:30")) == "down"
    # and back in autumn: 09:00 CEST = 07:00 UTC on Saturday 24 October, 09:00 CET = 08:00 UTC on the 25th.
    assert next_expected(s, at("2026-10-24 07:00:05")) == at("2026-10-25 08:00")


def test_a_time_skipped_by_the_spring_change_is_expected_at_the_change() -> None:
    s = Schedule.of(H, 30 * M, "Europe/Paris", "30 2 * * *")
    # 02:30 does not exist on 29 March 2026 in Paris: cron runs the job at 03:00 CEST (01:00 UTC).
    assert next_expected(s, at("2026-03-28 01:30:05")) == at("2026-03-29 01:00")
    assert next_expected(s, at("2026-03-29 01:00:05")) == at("2026-03-30 00:30")


def test_a_time_that_happens_twice_in_autumn_is_expected_once() -> None:
    s = Schedule.of(H, 30 * M, "Europe/Paris", "30 2 * * *")
    # 25 October 2026: 02:30 CEST (00:30 UTC), then 02:30 CET (01:30 UTC). Cron runs the job once.
    assert next_expected(s, at("2026-10-24 00:30:05")) == at("2026-10-25 00:30")
    assert next_expected(s, at("2026-10-25 00:30:05")) == at("2026-10-26 01:30")
    # A job every 30 minutes runs in both hours.
    every = Schedule.of(H, 10 * M, "Europe/Paris", "*/30 * * * *")
    assert next_expected(every, at("2026-10-25 00:30:05")) == at("2026-10-25 01:00")
    assert next_expected(every, at("2026-10-25 01:00:05")) == at("2026-10-25 01:30")


@pytest.mark.parametrize("period, grace, tz, cron, says", [
    (30, H, "UTC", None, "period"),
    (H, 0, "UTC", None, "grace"),
    (H, H, "Mars/Olympus", None, "time zone"),
    (H, H, "UTC", "every night", "cron"),
    (H, H, "UTC", "61 * * * *", "cron"),
    (H, H, "UTC", "* * * * * *", "cron"),
])
def test_a_schedule_we_cannot_follow_is_refused_with_what_to_fix(period, grace, tz, cron, says) -> None:
    with pytest.raises(ScheduleError, match=says):
        Schedule.of(period, grace, tz, cron)
