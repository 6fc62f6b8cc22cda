"""Property tests: random rotations, overrides and coverage (Paris, New York, UTC).

What must hold whatever the input:
* each layer's shifts tile exactly the covered time - no overlap, no hole, nothing outside;
* at every covered instant each layer has exactly one shift (so two layers -> two entries), and
  none outside coverage; `oncall_at` agrees with `shifts`;
* the holder is the highest-id override covering the instant, else the rotation's participant;
* rotation hand-offs keep their local wall-clock time across DST (or fall at the end of a gap).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.schedules.coverage import Coverage, covers, format_hhmm, intervals, next_start
from app.schedules.rotations import (
    Layer,
    Override,
    Rotation,
    Schedule,
    Shift,
    oncall_at,
    rotation_shift_at,
    shifts,
)

ZONES = ["Europe/Paris", "America/New_York", "UTC"]
WINDOW = timedelta(days=21)
LO, HI = datetime(2025, 1, 1), datetime(2027, 12, 31)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

users = st.one_of(st.none(), st.integers(min_value=1, max_value=30))
lengths = st.one_of(
    st.sampled_from(["weekly", "daily"]),
    st.integers(min_value=30, max_value=10 * 24 * 60).map(lambda m: timedelta(minutes=m)),
)
hhmm = st.integers(min_value=0, max_value=24 * 60 - 1).map(format_hhmm)
weekdays = st.lists(st.integers(min_value=0, max_value=6), unique=True).map(sorted)


# Days on which the clocks change (a uniform draw rarely lands on them).
DST_DAYS = {
    "Europe/Paris": [date(2025, 3, 30), date(2025, 10, 26), date(2026, 3, 29), date(2026, 10, 25)],
    "America/New_York": [date(2025, 3, 9), date(2025, 11, 2), date(2026, 3, 8), date(2026, 11, 1)],
}
NIGHT_TIMES = [time(0, 0), time(1, 0), time(1, 30), time(2, 0), time(2, 30), time(3, 0)]


def near_dst() -> st.SearchStrategy[datetime]:
    """Instants within four days of a DST change (UTC noon of that day, +- minutes)."""
    return st.builds(
        lambda day, minutes: datetime.combine(day, time(12), UTC) + timedelta(minutes=minutes),
        st.sampled_from([d for days in DST_DAYS.values() for d in days]),
        st.integers(-4 * 1440, 4 * 1440),
    )


@st.composite
def dst_rotations(draw: st.DrawFn) -> tuple[Rotation, datetime]:
    """A daily/weekly rotation handing off (mostly) at night, anchored on an ordinary day some
    weeks before a DST change of its own zone, and an instant next to that change."""
    tz = draw(st.sampled_from(sorted(DST_DAYS)))
    change = draw(st.sampled_from(DST_DAYS[tz]))
    length = draw(st.sampled_from(["daily", "weekly"]))
    # weekly: same weekday as the change, so one hand-off falls on the change day itself
    days_before = 7 * draw(st.integers(1, 8)) + (
        draw(st.integers(0, 6)) if length == "daily" else 0
    )
    wall = draw(st.sampled_from(NIGHT_TIMES)) if draw(st.booleans()) else draw(st.times())
    participants = draw(st.lists(users, min_size=1, max_size=6))
    rotation = Rotation(
        tuple(participants),
        datetime.combine(change - timedelta(days=days_before), wall, ZoneInfo(tz)),
        length,
        tz,
    )
    t = datetime.combine(change, time(12), UTC) + timedelta(minutes=draw(st.integers(-2880, 2880)))
    return rotation, t


def aware(tz: str) -> st.SearchStrategy[datetime]:
    return st.datetimes(LO, HI, timezones=st.just(ZoneInfo(tz)), allow_imaginary=False)


@st.composite
def rotations(draw: st.DrawFn) -> Rotation:
    tz = draw(st.sampled_from(ZONES))
    participants = draw(st.lists(users, min_size=1, max_size=6))
    return Rotation(tuple(participants), draw(aware(tz)), draw(lengths), tz)


@st.composite
def coverages(draw: st.DrawFn) -> Coverage | None:
    kind = draw(st.sampled_from(["none", "always", "after_hours", "window"]))
    tz = draw(st.sampled_from(ZONES))
    if kind == "none":
        return None
    if kind == "always":
        return Coverage.from_dict({"kind": "always", "tz": tz})
    if kind == "after_hours":
        a, b = sorted(draw(st.lists(st.integers(0, 1440), min_size=2, max_size=2, unique=True)))
        return Coverage.from_dict(
            {
                "kind": "after_hours",
                "tz": tz,
                "day_start": format_hhmm(a),
                "day_end": format_hhmm(b),
                "workdays": draw(weekdays),
                "holidays": draw(st.sampled_from([None, "FR", "US"])),
            }
        )
    start, end = draw(hhmm), draw(st.one_of(hhmm, st.just("24:00")))
    return Coverage.from_dict(
        {"kind": "window", "tz": tz, "start": start, "end": end, "days": draw(weekdays)}
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Schedule, datetime, datetime]:
    start = draw(st.datetimes(LO, HI, timezones=st.just(UTC)))
    end = start + WINDOW
    layers = tuple(
        Layer(i + 1, f"layer {i + 1}", draw(rotations()))
        for i in range(draw(st.integers(1, 2)))  # 2 = dual on-call
    )
    n = draw(st.integers(0, 8))
    ids = draw(st.lists(st.integers(1, 1000), min_size=n, max_size=n, unique=True))
    overrides = []
    for override_id in ids:  # random ids: creation order is unrelated to position in time
        o_start = start + timedelta(minutes=draw(st.integers(-3 * 1440, 22 * 1440)))
        length = timedelta(minutes=draw(st.integers(1, 10 * 1440)))
        layer_id = draw(st.sampled_from([layer.id for layer in layers]))
        overrides.append(Override(override_id, layer_id, o_start, o_start + length, draw(users)))
    schedule = Schedule(1, "random", "UTC", layers, draw(coverages()), tuple(overrides))
    return schedule, start, end


def expected_holder(schedule: Schedule, layer: Layer, t: datetime) -> int | None:
    """Reference model: highest-id override covering t, else the rotation's participant."""
    covering = [o for o in schedule.overrides if o.layer_id == layer.id and o.start <= t < o.end]
    if covering:
        return max(covering, key=lambda o: o.id).user_id
    return rotation_shift_at(layer.rotation, t).user_id


def sample_instants(
    schedule: Schedule, pieces: list[Shift], start: datetime, end: datetime, extra: list[datetime]
) -> list[datetime]:
    """Random instants plus every boundary (and the microsecond before): edges hide the bugs."""
    tick = timedelta(microseconds=1)
    points = set(extra)
    for p in pieces:
        points |= {p.start, p.start - tick, p.end, p.end - tick}
    for o in schedule.overrides:
        points |= {o.start, o.start - tick, o.end, o.end - tick}
    return sorted(t for t in points if start <= t < end)


@SETTINGS
@given(
    scenarios(),
    st.lists(st.integers(0, int(WINDOW.total_seconds()) - 1), min_size=10, max_size=10),
)
def test_every_layer_has_exactly_one_holder_at_every_covered_instant_and_none_outside(
    scenario: tuple[Schedule, datetime, datetime], offsets: list[int]
) -> None:
    schedule, start, end = scenario
    pieces = shifts(schedule, start, end)
    extra = [start + timedelta(seconds=s) for s in offsets]
    for t in sample_instants(schedule, pieces, start, end, extra):
        inside = schedule.coverage is None or covers(schedule.coverage, t)
        now = oncall_at(schedule, t)
        holding = [p for p in pieces if p.start <= t < p.end]
        if not inside:
            assert now == {} and holding == []
            continue
        assert sorted(now) == [layer.id for layer in schedule.layers]
        assert sorted(p.layer_id for p in holding) == sorted(now)  # exactly one per layer
        for p in holding:
            assert now[p.layer_id] == p.user_id
        for layer in schedule.layers:
            assert now[layer.id] == expected_holder(schedule, layer, t)


@SETTINGS
@given(scenarios())
def test_a_layers_shifts_tile_exactly_the_covered_time(
    scenario: tuple[Schedule, datetime, datetime],
) -> None:
    schedule, start, end = scenario
    covered = intervals(schedule.coverage or Coverage(), start, end)
    pieces = shifts(schedule, start, end)
    assert pieces == sorted(pieces, key=lambda p: (p.start, p.layer_id))
    for layer in schedule.layers:
        mine = [p for p in pieces if p.layer_id == layer.id]
        assert all(p.start < p.end and p.start.tzinfo == UTC for p in mine)
        assert all(a.end <= b.start for a, b in zip(mine, mine[1:], strict=False))  # no overlap
        assert sum((p.end - p.start for p in mine), timedelta()) == sum(
            (b - a for a, b in covered), timedelta()
        )
        # and the union is the covered set itself (no hole inside, nothing outside)
        union: list[tuple[datetime, datetime]] = []
        for p in mine:
            if union and union[-1][1] == p.start:
                union[-1] = (union[-1][0], p.end)
            else:
                union.append((p.start, p.end))
        assert union == covered
        # merged: two touching pieces never share holder and source
        for a, b in zip(mine, mine[1:], strict=False):
            assert not (a.end == b.start and a.user_id == b.user_id and a.source == b.source)


@SETTINGS
@given(rotations(), st.one_of(aware("UTC"), near_dst()))
def test_rotation_shift_at_is_consistent_and_keeps_the_local_handoff_time(
    rotation: Rotation, t: datetime
) -> None:
    slot = rotation_shift_at(rotation, t)
    assert slot.start <= t < slot.end
    n = len(rotation.participants)
    assert slot.user_id == rotation.participants[slot.index % n]
    after = rotation_shift_at(rotation, slot.end)
    before = rotation_shift_at(rotation, slot.start - timedelta(microseconds=1))
    assert (after.index, after.start) == (slot.index + 1, slot.end)
    assert (before.index, before.end) == (slot.index - 1, slot.start)
    if isinstance(rotation.length, timedelta):
        assert slot.start == rotation.start + slot.index * rotation.length
    else:
        assert_local_handoff(rotation, slot.index, slot.start, slot.end)


@SETTINGS
@given(dst_rotations())
def test_handoffs_next_to_a_dst_change_keep_their_local_wall_clock_time(
    case: tuple[Rotation, datetime],
) -> None:
    rotation, t = case
    slot = rotation_shift_at(rotation, t)
    for _ in range(3):  # the slot at t and its neighbours: one of them crosses the change
        slot = rotation_shift_at(rotation, slot.start - timedelta(microseconds=1))
    for _ in range(7):
        assert_local_handoff(rotation, slot.index, slot.start, slot.end)
        slot = rotation_shift_at(rotation, slot.end)


def assert_local_handoff(rotation: Rotation, index: int, start: datetime, end: datetime) -> None:
    """A daily/weekly hand-off happens at the anchor's wall-clock time on its day, or - when
    that time does not exist that day - right at the end of the DST gap."""
    tz = ZoneInfo(rotation.tz)
    period = 7 if rotation.length == "weekly" else 1
    anchor = rotation.start.astimezone(tz)
    local = start.astimezone(tz)
    if local.time() == anchor.time().replace(fold=0):  # the usual case: same wall clock...
        assert local.date() == anchor.date() + timedelta(days=index * period)
        assert local.fold == 0 or (start - timedelta(hours=1)).astimezone(tz).time() != local.time()
    else:  # ...or the hand-off time did not exist that day: it is the end of a DST gap
        just_before = (start - timedelta(seconds=1)).astimezone(tz)
        assert just_before.utcoffset() != local.utcoffset()
        assert just_before.time() < anchor.time() < local.time()
    hours = (end - start) / timedelta(hours=1)
    assert abs(hours - 24 * period) <= 1  # DST moves a hand-off by at most an hour here


@SETTINGS
@given(coverages(), st.one_of(aware("UTC"), near_dst()))
def test_coverage_queries_agree_with_each_other(cov: Coverage | None, t: datetime) -> None:
    cov = cov or Coverage()
    around = intervals(cov, t - timedelta(days=2), t + timedelta(days=2))
    assert covers(cov, t) == any(a <= t < b for a, b in around)
    found = next_start(cov, t)
    if found is None:
        assert intervals(cov, t, t + timedelta(days=30)) == []
    else:
        assert found >= t and covers(cov, found)
        assert intervals(cov, t, found) == []  # nothing covered before it
    assert Coverage.from_dict(cov.to_dict()) == cov
