"""Who is on call: rotations, layers, overrides and the resulting shift timeline.

Pure functions over frozen dataclasses (the DB models are mapped onto these elsewhere). Inputs
are aware datetimes, ints for user ids and IANA zone names; outputs are aware UTC.

Model
-----
* A `Schedule` has layers (e.g. "primary" and "secondary"); every layer independently has exactly
  one shift at every covered instant, so a two-layer schedule has two entries at every covered
  instant. A shift's user may be ``None``: an OPEN SLOT (nobody assigned) - still a shift, so
  "no hole" holds, but reported by `open_slots` / `gaps` so managers are warned ahead of time.
* A layer follows a `Rotation`: participants take turns, hand-offs at ``rotation.start`` and then
  every ``length``. ``"daily"``/``"weekly"`` hand-offs happen at the same LOCAL wall-clock time (and
  weekday) in ``rotation.tz``, so across DST a weekly shift lasts 167 or 169 hours (a daily one
  23 or 25). A custom `timedelta` length is absolute elapsed time and ignores DST.
  Hand-offs whose wall time does not exist that day (spring-forward gap) happen when the gap
  ends; ambiguous ones (fall-back) happen at the first occurrence (see `app.coverage`).
* Instants before ``rotation.start`` are answered too: the rotation is extended backwards
  arithmetically (shift index -1 belongs to the last participant, and so on). This keeps
  "who was on call" questions total and lets a rotation be re-anchored without a hole.
* A layer's rotation may change over time without rewriting the past (the allowance report pays
  for what was, not for what the rotation says today): `Layer.earlier` keeps the rotations that
  applied before, each up to the instant it was replaced, and `Layer.since` is when the layer
  began - before it the layer has no shifts (overrides still apply). Without them (the default)
  the layer has always followed its one rotation.
* An `Override` replaces its layer's rotation during [start, end). Overlapping overrides on the
  same layer: the higher id (created later) wins, and the lower one still applies wherever the
  higher one does not reach - so overrides never create holes. A swap is two overrides (`swap`).
* Outside the schedule's `Coverage` there are no shifts at all (None = covered 24/7).

Speed: rotation positions are computed arithmetically from the anchor (a date difference or a
timedelta division, then at most a step or two of correction around DST), and overrides are
looked up through a per-layer index sorted by start, so `oncall_at` touches only the overrides
that can overlap `t`. Wall-clock -> UTC conversions are memoised in `app.coverage.local_to_utc`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

from .coverage import Coverage, covers, intervals, local_to_utc, require_aware, zone

Source = Literal["rotation", "override"]
RotationLength = Literal["weekly", "daily"] | timedelta

_PERIOD_DAYS = {"daily": 1, "weekly": 7}


def _check_user(value: object, what: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{what} must be an int user id or None")


@dataclass(frozen=True)
class Rotation:
    """Participants taking turns; ``None`` in `participants` is an open slot in the cycle.

    An empty `participants` tuple is allowed: a layer with nobody, i.e. one long open slot.
    """

    participants: tuple[int | None, ...]
    start: datetime
    length: RotationLength = "weekly"
    tz: str = "Europe/Paris"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "participants", tuple(self.participants))
        for p in self.participants:
            _check_user(p, "rotation.participants")
        start = require_aware(self.start, "rotation.start")
        set_(self, "start", start)
        try:
            tz = zone(self.tz)
        except ValueError as exc:
            raise ValueError(f"rotation.tz: {exc}") from None
        if isinstance(self.length, timedelta):
            if self.length <= timedelta(0):
                raise ValueError("rotation.length must be positive")
            period = None
        elif self.length in _PERIOD_DAYS:
            period = _PERIOD_DAYS[self.length]
        else:
            raise ValueError("rotation.length must be 'weekly', 'daily' or a timedelta")
        # The hand-off is defined by start's wall clock (and weekday) in tz. Derived values are
        # private non-field attributes, so equality/hash stay those of the declared fields.
        local = start.astimezone(tz)
        set_(self, "_zone", tz)
        set_(self, "_period_days", period)
        set_(self, "_anchor_day", local.date())
        set_(self, "_wall", local.time().replace(fold=0))


def _handoff(rot: Rotation, k: int) -> datetime:
    """Instant of the k-th hand-off (k = 0 is rotation.start's, negative before it)."""
    period: int | None = rot._period_days  # type: ignore[attr-defined]
    if period is None:
        return rot.start + rot.length * k  # type: ignore[operator]
    zone_: ZoneInfo = rot._zone  # type: ignore[attr-defined]
    return local_to_utc(rot._anchor_day + timedelta(days=k * period), rot._wall, zone_)  # type: ignore[attr-defined]


def _participant(rot: Rotation, k: int) -> int | None:
    n = len(rot.participants)
    return rot.participants[k % n] if n else None


class RotationSlot(NamedTuple):
    """The rotation's shift at some instant. `index` counts hand-offs since rotation.start
    (0 = the shift starting at rotation.start, negative before it); the participant is
    ``participants[index % len(participants)]``."""

    index: int
    start: datetime
    end: datetime
    user_id: int | None


def rotation_shift_at(rotation: Rotation, t: datetime) -> RotationSlot:
    """The rotation shift containing `t`, in O(1): no walking from the anchor."""
    t = require_aware(t, "t")
    period: int | None = rotation._period_days  # type: ignore[attr-defined]
    if period is None:
        k = (t - rotation.start) // rotation.length  # type: ignore[operator]  # floor, also < 0
        start = rotation.start + rotation.length * k  # type: ignore[operator]
        end = start + rotation.length  # type: ignore[operator]
        return RotationSlot(k, start, end, _participant(rotation, k))
    # Guess from the local calendar, then correct: near the hand-off time on a DST day (or for
    # an instant before today's hand-off) the guess is off by one.
    today = t.astimezone(rotation._zone).date()  # type: ignore[attr-defined]
    k = (today - rotation._anchor_day).days // period  # type: ignore[attr-defined]
    start = _handoff(rotation, k)
    while t < start:
        k -= 1
        start = _handoff(rotation, k)
    end = _handoff(rotation, k + 1)
    while t >= end:
        k += 1
        start, end = end, _handoff(rotation, k + 1)
    return RotationSlot(k, start, end, _participant(rotation, k))


Era = tuple[datetime | None, datetime | None, Rotation]  # [start, end) of one rotation


@dataclass(frozen=True)
class Layer:
    """A rotation with an identity (what an escalation step targets).

    `earlier` lists the rotations that applied before `rotation`, oldest first, each with the
    instant it stopped applying (strictly increasing); `rotation` applies from the last of them
    on. `since`: the layer has no rotation shifts before it (None: it always existed).
    """

    id: int
    name: str
    rotation: Rotation
    since: datetime | None = None
    earlier: tuple[tuple[Rotation, datetime], ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        since = None if self.since is None else require_aware(self.since, "layer.since")
        earlier = tuple((r, require_aware(u, "layer.earlier: until")) for r, u in self.earlier)
        set_(self, "since", since)
        set_(self, "earlier", earlier)
        bounds = ([since] if since else []) + [u for _, u in earlier]
        if any(a >= b for a, b in pairwise(bounds)):
            raise ValueError("layer.earlier must end in increasing order, after layer.since")
        eras: list[Era] = []
        start = since
        for rotation, until in earlier:
            eras.append((start, until, rotation))
            start = until
        eras.append((start, None, self.rotation))
        set_(self, "_eras", tuple(eras))
        set_(self, "_untils", tuple(u for _, u in earlier))
        set_(self, "_simple", since is None and not earlier)


def layer_slot_at(layer: Layer, t: datetime) -> RotationSlot | None:
    """The layer's rotation shift at `t`, cut at the edges of the rotation's era; None before
    the layer began. Overrides are not applied here (see `oncall_at`)."""
    t = require_aware(t, "t")
    if layer._simple:  # type: ignore[attr-defined]
        return rotation_shift_at(layer.rotation, t)
    if layer.since is not None and t < layer.since:
        return None
    start, end, rotation = layer._eras[bisect_right(layer._untils, t)]  # type: ignore[attr-defined]
    slot = rotation_shift_at(rotation, t)
    return RotationSlot(
        slot.index,
        slot.start if start is None else max(slot.start, start),
        slot.end if end is None else min(slot.end, end),
        slot.user_id,
    )


@dataclass(frozen=True)
class Override:
    """`user_id` covers layer `layer_id` during [start, end); None turns it into an open slot.
    `replaces_user_id` is for display/audit only and never changes who is on call."""

    id: int
    layer_id: int
    start: datetime
    end: datetime
    user_id: int | None
    replaces_user_id: int | None = None

    def __post_init__(self) -> None:
        start = require_aware(self.start, "override.start")
        end = require_aware(self.end, "override.end")
        if end <= start:
            raise ValueError("override.end must be after override.start")
        _check_user(self.user_id, "override.user_id")
        _check_user(self.replaces_user_id, "override.replaces_user_id")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)


@dataclass(frozen=True)
class Shift:
    """One piece of a layer's final timeline, UTC. `user_id` None = open slot.

    `rotation_index` is the rotation's hand-off index (`RotationSlot.index`) for rotation
    pieces, `override_id` the winning override for override pieces. When touching pieces of the
    same user and source are merged, the merged shift keeps the ids of its first part.
    """

    layer_id: int
    user_id: int | None
    start: datetime
    end: datetime
    source: Source
    override_id: int | None = None
    rotation_index: int | None = None


@dataclass(frozen=True)
class _OverrideIndex:
    """A layer's overrides sorted by start. Any override overlapping t starts in
    (t - longest, t], so two bisections bound the candidates."""

    items: tuple[Override, ...]
    starts: tuple[datetime, ...]
    longest: timedelta

    def overlapping(self, start: datetime, end: datetime) -> list[Override]:
        lo = bisect_right(self.starts, start - self.longest)
        hi = bisect_left(self.starts, end)
        return [o for o in self.items[lo:hi] if o.end > start]

    def at(self, t: datetime) -> Override | None:
        lo = bisect_right(self.starts, t - self.longest)
        hi = bisect_right(self.starts, t)
        best: Override | None = None
        for o in self.items[lo:hi]:
            if o.end > t and (best is None or o.id > best.id):
                best = o
        return best


@dataclass(frozen=True)
class Schedule:
    """Layers + coverage + overrides. `tz` is the schedule's display zone only: rotations and
    coverage carry their own zones (a client in Paris can be covered by a rotation run from
    another office). Layer ids and override ids must be unique; overrides must target a layer."""

    id: int
    name: str
    tz: str
    layers: tuple[Layer, ...]
    coverage: Coverage | None = None  # None = always covered
    overrides: tuple[Override, ...] = ()
    _index: dict[int, _OverrideIndex] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "layers", tuple(self.layers))
        set_(self, "overrides", tuple(self.overrides))
        layer_ids = [layer.id for layer in self.layers]
        if len(set(layer_ids)) != len(layer_ids):
            raise ValueError("schedule.layers: layer ids must be unique")
        ids = [o.id for o in self.overrides]
        if len(set(ids)) != len(ids):
            raise ValueError("schedule.overrides: override ids must be unique (higher id wins)")
        by_layer: dict[int, list[Override]] = {}
        for o in self.overrides:
            if o.layer_id not in layer_ids:
                raise ValueError(f"override {o.id} refers to unknown layer {o.layer_id}")
            by_layer.setdefault(o.layer_id, []).append(o)
        for layer_id, items in by_layer.items():
            items.sort(key=lambda o: (o.start, o.id))
            self._index[layer_id] = _OverrideIndex(
                tuple(items), tuple(o.start for o in items), max(o.end - o.start for o in items)
            )


# --------------------------------------------------------------------------- timeline


def _rotation_pieces(layer: Layer, start: datetime, end: datetime) -> list[RotationSlot]:
    """The rotation slots overlapping [start, end), in order, cut at era edges (not at start
    and end). They are contiguous from max(start, layer.since) on."""
    out: list[RotationSlot] = []
    for era_start, era_end, rot in layer._eras:  # type: ignore[attr-defined]
        lo = start if era_start is None else max(start, era_start)
        hi = end if era_end is None else min(end, era_end)
        if lo >= hi:
            continue
        slot = rotation_shift_at(rot, lo)
        while True:
            out.append(
                RotationSlot(
                    slot.index,
                    slot.start if era_start is None else max(slot.start, era_start),
                    slot.end if era_end is None else min(slot.end, era_end),
                    slot.user_id,
                )
            )
            if slot.end >= hi:
                break
            k = slot.index + 1
            slot = RotationSlot(k, slot.end, _handoff(rot, k + 1), _participant(rot, k))
    return out


def _layer_timeline(
    schedule: Schedule, layer: Layer, start: datetime, end: datetime
) -> list[Shift]:
    """Contiguous pieces covering [start, end) for one layer, overrides applied, unmerged."""
    rotation = _rotation_pieces(layer, start, end)
    index = schedule._index.get(layer.id)
    overrides = index.overlapping(start, end) if index else []
    if not overrides:
        return [
            Shift(
                layer.id, r.user_id, max(r.start, start), min(r.end, end), "rotation", None, r.index
            )
            for r in rotation
        ]
    # Cut at every boundary, then decide each elementary piece: highest-id override covering
    # it, else the rotation. A sweep keeps the overrides in force at the piece (`overlapping`
    # returns them sorted by start): over a year most pieces have none, so this stays linear.
    points = {start, end}
    points.update(r.start for r in rotation if start < r.start < end)
    for o in overrides:
        points.update(p for p in (o.start, o.end) if start < p < end)
    out: list[Shift] = []
    ri = oi = 0
    active: list[Override] = []
    for a, b in pairwise(sorted(points)):
        while ri < len(rotation) and rotation[ri].end <= a:
            ri += 1
        while oi < len(overrides) and overrides[oi].start <= a:
            active.append(overrides[oi])
            oi += 1
        if active:
            active = [o for o in active if o.end > a]
        winner: Override | None = max(active, key=lambda o: o.id) if active else None
        if winner is not None:
            out.append(Shift(layer.id, winner.user_id, a, b, "override", winner.id, None))
        elif ri < len(rotation) and rotation[ri].start <= a:
            r = rotation[ri]
            out.append(Shift(layer.id, r.user_id, a, b, "rotation", None, r.index))
        # else: before the layer began, and no override: no shift at all
    return out


def _clip(pieces: list[Shift], covered: list[tuple[datetime, datetime]]) -> list[Shift]:
    """Intersect sorted contiguous pieces with sorted disjoint covered intervals."""
    out: list[Shift] = []
    j = 0
    for p in pieces:
        while j < len(covered) and covered[j][1] <= p.start:
            j += 1
        jj = j
        while jj < len(covered) and covered[jj][0] < p.end:
            a, b = max(p.start, covered[jj][0]), min(p.end, covered[jj][1])
            if a < b:
                out.append(
                    Shift(p.layer_id, p.user_id, a, b, p.source, p.override_id, p.rotation_index)
                )
            jj += 1
    return out


def _merge(pieces: list[Shift]) -> list[Shift]:
    """Join touching pieces of the same user and source (a merged piece keeps the ids of its
    first part): one person's unbroken stretch reads as one shift."""
    out: list[Shift] = []
    for p in pieces:
        last = out[-1] if out else None
        if last and last.end == p.start and last.user_id == p.user_id and last.source == p.source:
            out[-1] = Shift(
                last.layer_id,
                last.user_id,
                last.start,
                p.end,
                last.source,
                last.override_id,
                last.rotation_index,
            )
        else:
            out.append(p)
    return out


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Final timeline of every layer within [start, end): overrides applied, clipped to the
    schedule's coverage, touching same-user pieces merged; sorted by (start, layer_id)."""
    start = require_aware(start, "start")
    end = require_aware(end, "end")
    if start >= end:
        return []
    covered = (
        [(start, end)] if schedule.coverage is None else intervals(schedule.coverage, start, end)
    )
    if not covered:
        return []
    lo, hi = covered[0][0], covered[-1][1]  # no need to build the timeline outside coverage
    out: list[Shift] = []
    for layer in schedule.layers:
        timeline = _layer_timeline(schedule, layer, lo, hi)
        out.extend(_merge(_clip(timeline, covered) if len(covered) > 1 else timeline))
    out.sort(key=lambda s: (s.start, s.layer_id))
    return out


def oncall_at(schedule: Schedule, t: datetime) -> dict[int, int | None]:
    """layer_id -> user id (None = open slot) at instant t; {} outside coverage. A layer that
    had not begun yet (`Layer.since`) is absent unless an override covers t."""
    t = require_aware(t, "t")
    if schedule.coverage is not None and not covers(schedule.coverage, t):
        return {}
    out: dict[int, int | None] = {}
    for layer in schedule.layers:
        index = schedule._index.get(layer.id)
        override = index.at(t) if index else None
        if override is not None:
            out[layer.id] = override.user_id
        elif layer._simple:  # type: ignore[attr-defined]
            out[layer.id] = rotation_shift_at(layer.rotation, t).user_id
        elif (slot := layer_slot_at(layer, t)) is not None:
            out[layer.id] = slot.user_id
    return out


def open_slots(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Covered stretches where a layer has nobody (rotation slot or override set to None)."""
    return [s for s in shifts(schedule, start, end) if s.user_id is None]


def gaps(
    schedule: Schedule, start: datetime, end: datetime
) -> list[tuple[int, datetime, datetime]]:
    """(layer_id, start, end) of every open slot, for warning managers ahead of time.
    A schedule with no layers at all has no gaps to report per layer (nothing to staff)."""
    return [(s.layer_id, s.start, s.end) for s in open_slots(schedule, start, end)]


def user_shifts(schedule: Schedule, user_id: int, start: datetime, end: datetime) -> list[Shift]:
    return [s for s in shifts(schedule, start, end) if s.user_id == user_id]


def swap(
    layer: Layer, shift_a: Shift, shift_b: Shift, *, ids: tuple[int, int]
) -> tuple[Override, Override]:
    """Two overrides exchanging the holders of two shifts of `layer`. `ids` must be higher than
    any existing override id of the layer for the swap to win (later wins)."""
    for s in (shift_a, shift_b):
        if s.layer_id != layer.id:
            raise ValueError(f"shift of layer {s.layer_id} cannot be swapped on layer {layer.id}")
    return (
        Override(ids[0], layer.id, shift_a.start, shift_a.end, shift_b.user_id, shift_a.user_id),
        Override(ids[1], layer.id, shift_b.start, shift_b.end, shift_a.user_id, shift_b.user_id),
    )


def schedules_oncall_at(
    schedules: Iterable[Schedule], t: datetime
) -> dict[int, dict[int, int | None]]:
    """schedule id -> `oncall_at` for many schedules at once (the dashboard's question)."""
    return {s.id: oncall_at(s, t) for s in schedules}
