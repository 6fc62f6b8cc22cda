"""Who is on call: rotations across DST, overrides, swaps, open slots, dual on-call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.schedules.coverage import Coverage, covers
from app.schedules.rotations import (
    Layer,
    Override,
    Rotation,
    Schedule,
    Shift,
    gaps,
    oncall_at,
    open_slots,
    rotation_shift_at,
    shifts,
    swap,
    user_shifts,
)

PARIS = ZoneInfo("Europe/Paris")
AFTER_HOURS = Coverage.from_dict(
    {"kind": "after_hours", "day_start": "08:00", "day_end": "18:00", "holidays": "FR"}
)


def paris(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=PARIS, fold=fold)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def schedule(
    *layers: Layer, coverage: Coverage | None = None, overrides: tuple[Override, ...] = ()
) -> Schedule:
    return Schedule(1, "Acme", "Europe/Paris", layers, coverage, overrides)


def one_layer(rotation: Rotation, **kwargs: object) -> Schedule:
    return schedule(Layer(1, "primary", rotation), **kwargs)  # type: ignore[arg-type]


def timeline(s: Schedule, start: datetime, end: datetime) -> list[tuple[int | None, str, str]]:
    return [
        (x.user_id, x.start.astimezone(PARIS).isoformat(), x.end.astimezone(PARIS).isoformat())
        for x in shifts(s, start, end)
    ]


def durations(s: Schedule, start: datetime, end: datetime) -> list[timedelta]:
    return [x.end - x.start for x in shifts(s, start, end)]


# --------------------------------------------------------------------------- DST at night hand-offs


def test_daily_handoff_at_2_30_moves_to_3_00_on_the_spring_forward_night() -> None:
    s = one_layer(Rotation((1, 2, 3), paris(2026, 3, 27, 2, 30), "daily", "Europe/Paris"))
    assert timeline(s, paris(2026, 3, 27, 2, 30), paris(2026, 3, 31, 2, 30)) == [
        (1, "2026-03-27T02:30:00+01:00", "2026-03-28T02:30:00+01:00"),
        (2, "2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00"),
        (3, "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"),
        (1, "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"),
    ]
    assert oncall_at(s, utc(2026, 3, 29, 0, 59)) == {1: 2}
    assert oncall_at(s, utc(2026, 3, 29, 1, 0)) == {1: 3}


def test_daily_handoff_at_2_30_happens_at_the_first_2_30_on_the_fall_back_night() -> None:
    s = one_layer(Rotation((1, 2, 3), paris(2026, 10, 24, 2, 30), "daily", "Europe/Paris"))
    assert durations(s, paris(2026, 10, 24, 2, 30), paris(2026, 10, 27, 2, 30)) == [
        timedelta(hours=24),
        timedelta(hours=25),  # 2026-10-25 00:30Z -> 2026-10-26 01:30Z
        timedelta(hours=24),
    ]
    assert oncall_at(s, paris(2026, 10, 25, 2, 29)) == {1: 1}  # first 02:29 (CEST)
    assert oncall_at(s, paris(2026, 10, 25, 2, 30)) == {1: 2}  # first 02:30: hand-off
    assert oncall_at(s, paris(2026, 10, 25, 2, 15, fold=1)) == {1: 2}  # second 02:15 (CET)


def test_weekly_sunday_2_00_handoff_across_both_dst_changes_of_2026() -> None:
    # 02:00 on 2026-03-29 does not exist: that hand-off happens at 03:00 CEST (01:00Z), which is
    # the same UTC instant as the week before, so that week is still 168 h and the next 167 h.
    s = one_layer(Rotation((1, 2), paris(2026, 3, 22, 2, 0), "weekly", "Europe/Paris"))
    assert timeline(s, paris(2026, 3, 22, 2), paris(2026, 4, 5, 2)) == [
        (1, "2026-03-22T02:00:00+01:00", "2026-03-29T03:00:00+02:00"),
        (2, "2026-03-29T03:00:00+02:00", "2026-04-05T02:00:00+02:00"),
    ]
    assert durations(s, paris(2026, 3, 22, 2), paris(2026, 4, 5, 2)) == [
        timedelta(hours=168),
        timedelta(hours=167),
    ]
    # 02:00 on 2026-10-25 happens twice: the first one (CEST) is the hand-off.
    assert durations(s, paris(2026, 10, 18, 2), paris(2026, 11, 1, 2)) == [
        timedelta(hours=168),
        timedelta(hours=169),
    ]


def test_weekly_sunday_3_00_handoff_lasts_167_then_169_hours_around_dst() -> None:
    s = one_layer(Rotation((1, 2), paris(2026, 3, 22, 3, 0), "weekly", "Europe/Paris"))
    assert durations(s, paris(2026, 3, 22, 3), paris(2026, 3, 29, 3)) == [timedelta(hours=167)]
    assert durations(s, paris(2026, 10, 18, 3), paris(2026, 10, 25, 3)) == [timedelta(hours=169)]
    slot = rotation_shift_at(s.layers[0].rotation, paris(2026, 10, 25, 2, 59, fold=1))
    assert slot.start == paris(2026, 10, 18, 3) and slot.end == paris(2026, 10, 25, 3)


def test_handoff_at_midnight_changes_the_person_exactly_at_midnight() -> None:
    s = one_layer(Rotation((1, 2), paris(2026, 3, 2, 0, 0), "daily", "Europe/Paris"))
    assert oncall_at(s, paris(2026, 3, 2, 23, 59, 59)) == {1: 1}
    assert oncall_at(s, paris(2026, 3, 3, 0, 0)) == {1: 2}
    assert set(durations(s, paris(2026, 3, 2), paris(2026, 3, 9))) == {timedelta(hours=24)}


def test_midnight_handoff_on_a_day_without_midnight_happens_when_the_clocks_resume() -> None:
    havana = ZoneInfo("America/Havana")  # 2026-03-08 00:00 -> 01:00: midnight does not exist
    rot = Rotation((1, 2), datetime(2026, 3, 7, 0, 0, tzinfo=havana), "daily", "America/Havana")
    slot = rotation_shift_at(rot, datetime(2026, 3, 8, 12, 0, tzinfo=havana))
    assert slot.start == datetime(2026, 3, 8, 1, 0, tzinfo=havana) == utc(2026, 3, 8, 5, 0)
    assert slot.user_id == 2
    # The day before keeps 24 h (00:00 CST -> 01:00 CDT); this one ends at the next midnight.
    assert slot.end == datetime(2026, 3, 9, 0, 0, tzinfo=havana)
    assert slot.end - slot.start == timedelta(hours=23)
    previous = rotation_shift_at(rot, slot.start - timedelta(seconds=1))
    assert previous.end - previous.start == timedelta(hours=24)


def test_custom_length_is_absolute_time_and_drifts_in_wall_clock_across_dst() -> None:
    rot = Rotation((1, 2), paris(2026, 3, 28, 8, 0), timedelta(hours=12), "Europe/Paris")
    slot = rotation_shift_at(rot, paris(2026, 3, 29, 12, 0))
    assert slot.start == paris(2026, 3, 29, 9, 0) and slot.end == paris(2026, 3, 29, 21, 0)


def test_instants_before_the_rotation_start_extend_the_rotation_backwards() -> None:
    rot = Rotation((1, 2, 3), paris(2026, 3, 2, 9, 0), "weekly", "Europe/Paris")
    slot = rotation_shift_at(rot, paris(2026, 2, 25, 12, 0))
    assert slot.index == -1 and slot.user_id == 3
    assert (slot.start, slot.end) == (paris(2026, 2, 23, 9, 0), paris(2026, 3, 2, 9, 0))
    assert rotation_shift_at(rot, paris(2025, 2, 25, 12, 0)).start.tzinfo == UTC


def test_one_person_rotation_reads_as_one_unbroken_shift() -> None:
    s = one_layer(Rotation((7,), paris(2026, 3, 2, 9, 0), "weekly", "Europe/Paris"))
    assert timeline(s, paris(2026, 3, 2), paris(2026, 4, 2)) == [
        (7, "2026-03-02T00:00:00+01:00", "2026-04-02T00:00:00+02:00")
    ]


# --------------------------------------------------------------------------- overrides


def week_of_alice(*overrides: Override) -> Schedule:
    return one_layer(
        Rotation((1, 2), paris(2026, 3, 2, 0, 0), "weekly", "Europe/Paris"), overrides=overrides
    )


def test_overlapping_overrides_the_later_one_wins_and_no_hole_is_left() -> None:
    s = week_of_alice(
        Override(10, 1, paris(2026, 3, 2), paris(2026, 3, 5), 2),  # Mon-Wed: Bob
        Override(11, 1, paris(2026, 3, 3), paris(2026, 3, 4), 3),  # Tue, created later: Carol
        Override(9, 1, paris(2026, 3, 4, 12), paris(2026, 3, 6), 4),  # older, under 10
    )
    assert timeline(s, paris(2026, 3, 2), paris(2026, 3, 9)) == [
        (2, "2026-03-02T00:00:00+01:00", "2026-03-03T00:00:00+01:00"),
        (3, "2026-03-03T00:00:00+01:00", "2026-03-04T00:00:00+01:00"),
        (2, "2026-03-04T00:00:00+01:00", "2026-03-05T00:00:00+01:00"),  # 10 resumes after 11
        (4, "2026-03-05T00:00:00+01:00", "2026-03-06T00:00:00+01:00"),  # 9 where 10 stops
        (1, "2026-03-06T00:00:00+01:00", "2026-03-09T00:00:00+01:00"),
    ]
    assert oncall_at(s, paris(2026, 3, 4, 13)) == {1: 2}
    pieces = shifts(s, paris(2026, 3, 2), paris(2026, 3, 9))
    assert all(a.end == b.start for a, b in zip(pieces, pieces[1:], strict=False))
    assert [p.override_id for p in pieces] == [10, 11, 10, 9, None]


def test_override_for_one_night_of_someone_elses_week() -> None:
    s = one_layer(
        Rotation((1, 2), paris(2026, 3, 2, 8, 0), "weekly", "Europe/Paris"),
        coverage=AFTER_HOURS,
        overrides=(
            Override(5, 1, paris(2026, 3, 4, 18), paris(2026, 3, 5, 8), 3, replaces_user_id=1),
        ),
    )
    assert oncall_at(s, paris(2026, 3, 4, 23)) == {1: 3}
    assert oncall_at(s, paris(2026, 3, 5, 19)) == {1: 1}
    assert oncall_at(s, paris(2026, 3, 5, 12)) == {}  # the client's own team is at work
    night = [x for x in shifts(s, paris(2026, 3, 2), paris(2026, 3, 9)) if x.user_id == 3]
    assert night == [
        Shift(
            1,
            3,
            paris(2026, 3, 4, 18).astimezone(UTC),
            paris(2026, 3, 5, 8).astimezone(UTC),
            "override",
            5,
        )
    ]


def test_a_swap_is_two_overrides_exchanging_two_shifts() -> None:
    base = week_of_alice()
    layer = base.layers[0]
    week1, week2 = shifts(base, paris(2026, 3, 2), paris(2026, 3, 16))
    assert (week1.user_id, week2.user_id) == (1, 2)
    a, b = swap(layer, week1, week2, ids=(100, 101))
    assert (a.user_id, a.replaces_user_id, b.user_id, b.replaces_user_id) == (2, 1, 1, 2)
    swapped = week_of_alice(a, b)
    assert [x.user_id for x in shifts(swapped, paris(2026, 3, 2), paris(2026, 3, 16))] == [2, 1]
    assert user_shifts(swapped, 1, paris(2026, 3, 2), paris(2026, 3, 16))[0].start == week2.start


# --------------------------------------------------------------------------- open slots and gaps


def test_open_slots_in_the_rotation_and_from_an_override_are_reported() -> None:
    s = one_layer(
        Rotation((1, None, 2), paris(2026, 3, 2, 9), "daily", "Europe/Paris"),
        overrides=(Override(1, 1, paris(2026, 3, 4, 12), paris(2026, 3, 4, 14), None),),
    )
    assert oncall_at(s, paris(2026, 3, 3, 12)) == {1: None}
    slots = open_slots(s, paris(2026, 3, 2, 9), paris(2026, 3, 5, 9))
    assert [(x.source, x.start, x.end) for x in slots] == [
        ("rotation", paris(2026, 3, 3, 9), paris(2026, 3, 4, 9)),
        ("override", paris(2026, 3, 4, 12), paris(2026, 3, 4, 14)),
    ]


def test_a_layer_with_nobody_is_a_gap_over_all_covered_time() -> None:
    s = schedule(
        Layer(1, "primary", Rotation((1,), paris(2026, 3, 2), "weekly", "Europe/Paris")),
        Layer(2, "secondary", Rotation((), paris(2026, 3, 2), "weekly", "Europe/Paris")),
        coverage=AFTER_HOURS,
    )
    assert oncall_at(s, paris(2026, 3, 4, 23)) == {1: 1, 2: None}
    assert gaps(s, paris(2026, 3, 6, 12), paris(2026, 3, 9, 12)) == [
        (2, paris(2026, 3, 6, 18), paris(2026, 3, 9, 8)),
    ]


# --------------------------------------------------------------------------- dual on-call


def test_dual_on_call_has_two_people_at_every_covered_instant_and_nobody_outside() -> None:
    s = schedule(
        Layer(1, "primary", Rotation((1, 2, 3), paris(2026, 3, 2, 9), "weekly", "Europe/Paris")),
        Layer(2, "secondary", Rotation((4, 5), paris(2026, 3, 2, 2, 30), "daily", "Europe/Paris")),
        coverage=AFTER_HOURS,
    )
    start, end = paris(2026, 3, 20), paris(2026, 4, 10)  # spans the spring-forward night
    all_shifts = shifts(s, start, end)
    t = start
    while t < end:
        now = oncall_at(s, t)
        if covers(AFTER_HOURS, t):
            assert sorted(now) == [1, 2] and None not in now.values(), t
            holding = [x for x in all_shifts if x.start <= t < x.end]
            assert {x.layer_id: x.user_id for x in holding} == now and len(holding) == 2
        else:
            assert now == {}
        t += timedelta(minutes=30)


# --------------------------------------------------------------------------- validation


def test_bad_inputs_are_refused_with_clear_messages() -> None:
    with pytest.raises(ValueError, match="rotation.start must be a timezone-aware"):
        Rotation((1,), datetime(2026, 3, 2), "weekly", "Europe/Paris")
    with pytest.raises(ValueError, match="rotation.length"):
        Rotation((1,), paris(2026, 3, 2), "monthly", "Europe/Paris")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="override.end must be after"):
        Override(1, 1, paris(2026, 3, 2), paris(2026, 3, 2), 1)
    with pytest.raises(ValueError, match="unknown layer 9"):
        week_of_alice(Override(1, 9, paris(2026, 3, 2), paris(2026, 3, 3), 1))
    with pytest.raises(ValueError, match="override ids must be unique"):
        week_of_alice(
            Override(1, 1, paris(2026, 3, 2), paris(2026, 3, 3), 1),
            Override(1, 1, paris(2026, 3, 4), paris(2026, 3, 5), 2),
        )
