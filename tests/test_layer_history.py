"""A layer's rotation changes over time without rewriting the past (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.schedules.coverage import covers
from app.schedules.rotations import (
    Layer,
    Override,
    Rotation,
    Schedule,
    layer_slot_at,
    oncall_at,
    rotation_shift_at,
    shifts,
)
from tests.test_schedule_properties import coverages, rotations, sample_instants, users

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


OLD = Rotation((1, 2), paris(2026, 3, 2, 9), "weekly", "Europe/Paris")
NEW = Rotation((3, 4), paris(2026, 3, 2, 9), "weekly", "Europe/Paris")


def test_a_new_rotation_applies_from_its_era_and_the_past_keeps_the_old_one() -> None:
    layer = Layer(1, "primary", NEW, since=paris(2026, 3, 2, 9), earlier=((OLD, paris(2026, 3, 18, 12)),))
    s = Schedule(1, "Pool A", "Europe/Paris", (layer,))
    assert oncall_at(s, paris(2026, 3, 10)) == {1: 2}  # the old rotation's second week
    assert oncall_at(s, paris(2026, 3, 18, 12)) == {1: 3}  # the new one from the change on
    pieces = shifts(s, paris(2026, 3, 1), paris(2026, 3, 24))
    assert [(p.user_id, p.start, p.end) for p in pieces] == [
        (1, paris(2026, 3, 2, 9), paris(2026, 3, 9, 9)),
        (2, paris(2026, 3, 9, 9), paris(2026, 3, 16, 9)),
        (1, paris(2026, 3, 16, 9), paris(2026, 3, 18, 12)),  # cut short by the change
        (3, paris(2026, 3, 18, 12), paris(2026, 3, 23, 9)),
        (4, paris(2026, 3, 23, 9), paris(2026, 3, 24)),
    ]


def test_before_the_layer_began_nobody_is_on_call_unless_an_override_says_so() -> None:
    layer = Layer(1, "primary", OLD, since=paris(2026, 3, 2, 9))
    s = Schedule(1, "Pool A", "Europe/Paris", (layer,),
                 overrides=(Override(1, 1, paris(2026, 3, 1), paris(2026, 3, 2), 7),))
    assert oncall_at(s, paris(2026, 2, 20)) == {}
    assert oncall_at(s, paris(2026, 3, 1, 12)) == {1: 7}
    assert layer_slot_at(layer, paris(2026, 3, 2, 8)) is None
    assert [(p.user_id, p.source) for p in shifts(s, paris(2026, 2, 28), paris(2026, 3, 3))] == [
        (7, "override"), (1, "rotation")]


def test_eras_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="increasing order"):
        Layer(1, "p", NEW, since=paris(2026, 3, 20), earlier=((OLD, paris(2026, 3, 18)),))


@st.composite
def layers_with_history(draw: st.DrawFn) -> tuple[Schedule, datetime, datetime]:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=draw(st.integers(0, 24 * 600)))
    end = start + timedelta(days=21)
    cuts = sorted(draw(st.lists(st.integers(-5 * 1440, 25 * 1440), min_size=1, max_size=4, unique=True)))
    bounds = [start + timedelta(minutes=m) for m in cuts]
    since = bounds[0] if draw(st.booleans()) else None
    untils = bounds[1:] if since is not None else bounds
    earlier = tuple((draw(rotations()), u) for u in untils)
    layer = Layer(1, "primary", draw(rotations()), since=since, earlier=earlier)
    overrides = []
    for i in range(draw(st.integers(0, 4))):
        o_start = start + timedelta(minutes=draw(st.integers(-2 * 1440, 22 * 1440)))
        o_len = timedelta(minutes=draw(st.integers(1, 4 * 1440)))
        overrides.append(Override(i + 1, 1, o_start, o_start + o_len, draw(users)))
    return Schedule(1, "h", "UTC", (layer,), draw(coverages()), tuple(overrides)), start, end


def reference(schedule: Schedule, t: datetime) -> tuple[bool, int | None]:
    """(someone holds the layer, who): highest override, else the era's rotation, else nobody."""
    layer = schedule.layers[0]
    covering = [o for o in schedule.overrides if o.start <= t < o.end]
    if covering:
        return True, max(covering, key=lambda o: o.id).user_id
    if layer.since is not None and t < layer.since:
        return False, None
    rotation = next((r for r, until in layer.earlier if t < until), layer.rotation)
    return True, rotation_shift_at(rotation, t).user_id


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers_with_history())
def test_at_every_instant_the_era_in_force_decides_and_shifts_agree(case: tuple[Schedule, datetime, datetime]) -> None:
    schedule, start, end = case
    pieces = shifts(schedule, start, end)
    layer = schedule.layers[0]
    extra = [u for _, u in layer.earlier] + ([layer.since] if layer.since else [])
    for t in sample_instants(schedule, pieces, start, end, extra + [start]):
        held, who = reference(schedule, t)
        inside = schedule.coverage is None or covers(schedule.coverage, t)
        now = oncall_at(schedule, t)
        holding = [p for p in pieces if p.start <= t < p.end]
        if inside and held:
            assert now == {1: who} and [p.user_id for p in holding] == [who], t
        else:
            assert now == {} and holding == [], t
