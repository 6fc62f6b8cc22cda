"""Property test through the database: schedules stored with the managers' functions (random
coverage, one or two layers, random rotations, overlapping overrides) answer "who is on call"
with exactly one person per layer at every covered instant, and nobody outside coverage.

The pure functions are tested at length in test_schedule_properties.py; this checks that the
rows -> pure model mapping (rotation versions, overrides, coverage) keeps those properties, and
that the escalation path's lean reading (rosters.layer_oncall) gives the same answer."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.models import User
from app.schedules import overrides, whos_on
from app.schedules import store as schedule_store
from app.schedules.coverage import Coverage, covers
from app.schedules.rosters import layer_oncall

counter = itertools.count()
ENGINEERS = ("alice", "bob", "carol", "theo")
COVERAGES = [
    None,
    {"kind": "after_hours", "day_start": "08:00", "day_end": "18:00", "workdays": [0, 1, 2, 3, 4], "holidays": "FR",
     "tz": "Europe/Paris"},
    {"kind": "window", "start": "07:00", "end": "22:00", "days": [0, 1, 2, 3, 4, 5, 6], "tz": "Europe/Paris"},
    {"kind": "window", "start": "22:00", "end": "06:00", "days": [4, 5], "tz": "America/New_York"},
]


@st.composite
def plans(draw: st.DrawFn) -> dict:
    layers = []
    for _ in range(draw(st.integers(1, 2))):  # 2 = dual on-call
        layers.append({
            "members": draw(st.lists(st.sampled_from(ENGINEERS), min_size=1, max_size=4)),
            "length": draw(st.sampled_from(["weekly", "daily", "custom"])),
            "length_hours": draw(st.integers(1, 72)),
            "handoff_day": draw(st.integers(0, 6)),
            "handoff_time": draw(st.sampled_from(["00:00", "02:30", "09:00", "18:00"])),
            "start_date": draw(st.sampled_from(["2026-02-20", "2026-03-20", "2026-10-20"])),
            "timezone": draw(st.sampled_from(["Europe/Paris", "America/New_York", "UTC"])),
        })
    spans = st.tuples(st.integers(0, 40 * 24), st.integers(1, 6 * 24), st.sampled_from(ENGINEERS), st.integers(0, 1))
    return {"coverage": draw(st.sampled_from(COVERAGES)), "layers": layers,
            "overrides": draw(st.lists(spans, max_size=5)),
            "probes": draw(st.lists(st.integers(0, 40 * 24 * 60), min_size=10, max_size=10))}


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=plans())
def test_every_covered_instant_has_one_person_per_layer_and_no_one_outside(world, database, plan: dict) -> None:
    base = datetime(2026, 3, 20, tzinfo=UTC)  # spans the spring-forward nights of New York and Paris
    now = base - timedelta(days=60)
    with database.transaction() as s:
        maya = s.get(User, world.maya)
        sched = schedule_store.save_schedule(s, maya, None, name=f"random {next(counter)}", pool_id=1,
                                             timezone="Europe/Paris", coverage=plan["coverage"], now=now)
        layer_ids = []
        for i, layer in enumerate(plan["layers"]):
            spec = schedule_store.RotationSpec.parse({**layer, "members": [world.ids[m] for m in layer["members"]],
                                                      "start_date": "2026-01-05"})
            row = schedule_store.save_layer(s, maya, sched.id, None, name=f"L{i}", rotation=spec, now=now)
            # A second version, from a later date: the layer's history must tile too.
            later = schedule_store.RotationSpec.parse({**layer, "members": [world.ids[m] for m in reversed(layer["members"])]})
            schedule_store.save_layer(s, maya, sched.id, row.id, name=f"L{i}", rotation=later, now=now)
            layer_ids.append(row.id)
        for hours, length, who, which in plan["overrides"]:
            start = base + timedelta(hours=hours)
            overrides.create(s, maya, layer_ids[which % len(layer_ids)], world.ids[who], start,
                             start + timedelta(hours=length), now)
    cov = Coverage.from_dict(plan["coverage"]) if plan["coverage"] else None
    with database.transaction() as s:
        maya = s.get(User, world.maya)
        for minutes in plan["probes"]:
            t = base + timedelta(minutes=minutes)
            (mine,) = [x for x in whos_on.oncall(s, maya, t)["schedules"] if x["id"] == sched.id]
            holders = [layer["on_call"] for layer in mine["layers"]]
            # The escalation path's lean reading agrees with the full one.
            assert [layer_oncall(s, lid, t)[0] for lid in layer_ids] == [
                [h["user"]["id"]] if h else [] for h in holders]
            if cov is None or covers(cov, t):
                assert all(h is not None and h["user"] is not None for h in holders), (t, holders)
                assert len(holders) == len(layer_ids)
                assert all(h["start"] <= t.isoformat() < h["end"] for h in holders)
            else:
                assert holders == [None] * len(layer_ids), (t, holders)
        schedule_store.delete_schedule(s, maya, sched.id, now)  # the next example starts clean
