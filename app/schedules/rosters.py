"""Who is on call, read from the database: schedule rows mapped onto the pure model
(rotations.py).

Every question loads what it needs in a handful of queries (schedules, layers, rotation
versions and members through selectinload; the overrides of the window in one more) and answers
with the pure functions, so "who is on call now" for fifty schedules stays well under 10 ms.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..models import (
    LayerRotation,
    Pool,
    RotationMember,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
    ShiftStart,
    User,
)
from . import rotations as pure
from .coverage import Coverage, covers

_L, _S, _P = ScheduleLayer.__table__.c, Schedule.__table__.c, Pool.__table__.c
_O, _V, _M = ScheduleOverride.__table__.c, LayerRotation.__table__.c, RotationMember.__table__.c

# A shift's true start and end are looked for this far around the instants asked about (the
# timeline is cut at the window's edges): a weekly rotation needs 7 days, a long override more.
MARGIN = timedelta(days=35)
NEAR = timedelta(days=8)


@dataclass(frozen=True)
class Roster:
    """A schedule as loaded for a window: the pure model plus the names the screens show."""

    id: int
    name: str
    pool_id: int
    pool_name: str
    tz: str
    coverage: Coverage | None
    layer_names: dict[int, str]  # in the schedule's order
    plan: pure.Schedule

    @property
    def staffed(self) -> pure.Schedule:
        """The same schedule without its coverage hours: whole shifts, as claimed and swapped."""
        return replace(self.plan, coverage=None)

    def label(self, layer_id: int) -> str:
        return f"{self.layer_names.get(layer_id, f'layer #{layer_id}')} ({self.name})"


@lru_cache(maxsize=4096)
def _rotation(members: tuple[int | None, ...], start: datetime, length: str, hours: int | None,
              tz: str) -> pure.Rotation:
    # Rotation versions never change once written (a change is a new version), and building one
    # (zone, wall clock of the anchor) is most of the cost of mapping a layer: memoise by value.
    span: pure.RotationLength = timedelta(hours=hours or 0) if length == "custom" else length  # type: ignore[assignment]
    return pure.Rotation(members, start, span, tz)


def _layer(layer_id: int, name: str, versions: list[tuple[datetime, pure.Rotation]]) -> pure.Layer | None:
    """The pure layer: its latest rotation, the earlier ones with when each was replaced, and
    when the layer began (its first version). None for a layer without any rotation yet."""
    if not versions:
        return None
    versions.sort(key=lambda v: v[0])
    earlier = tuple((rot, nxt[0]) for (_, rot), nxt in zip(versions, versions[1:], strict=False))
    return pure.Layer(layer_id, name, versions[-1][1], versions[0][0], earlier)


def coverage_of(spec: dict[str, Any] | None) -> Coverage | None:
    if not spec or spec.get("kind") == "always":
        return None
    return _coverage(json.dumps(spec, sort_keys=True))


@lru_cache(maxsize=1024)
def _coverage(spec: str) -> Coverage:
    return Coverage.from_dict(json.loads(spec))  # validated once per distinct setting


def load(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    schedule_ids: Iterable[int] | None = None,
    pool_ids: Iterable[int] | None = None,
) -> list[Roster]:
    """Schedules (all, or those given, or those of the pools given) with the overrides that
    overlap [start, end).

    Plain statements, five in all whatever the number of schedules, and no ORM objects: the
    dashboard asks this every few seconds, and mapping rows to objects was 90% of its cost."""
    c = session.connection()
    q = (select(_S.id, _S.name, _S.pool_id, _S.timezone, _S.coverage, _P.name.label("pool_name"))
         .join_from(Schedule.__table__, Pool.__table__, _S.pool_id == _P.id).order_by(_S.name))
    if schedule_ids is not None:
        q = q.where(_S.id.in_(list(schedule_ids)))
    if pool_ids is not None:
        q = q.where(_S.pool_id.in_(list(pool_ids)))
    heads = c.execute(q).all()
    if not heads:
        return []
    layers = c.execute(select(_L.id, _L.schedule_id, _L.name).where(_L.schedule_id.in_([h.id for h in heads]))
                       .order_by(_L.schedule_id, _L.position, _L.id)).all()
    ids = [x.id for x in layers]
    members: dict[int, list[int | None]] = defaultdict(list)
    for r in c.execute(select(_M.rotation_id, _M.user_id).join_from(
            RotationMember.__table__, LayerRotation.__table__, _M.rotation_id == _V.id)
            .where(_V.layer_id.in_(ids)).order_by(_M.rotation_id, _M.position)):
        members[r.rotation_id].append(r.user_id)
    versions: dict[int, list[tuple[datetime, pure.Rotation]]] = defaultdict(list)
    for v in c.execute(select(_V.id, _V.layer_id, _V.effective_from, _V.start, _V.length, _V.length_hours,
                              _V.timezone).where(_V.layer_id.in_(ids))):
        rotation = _rotation(tuple(members[v.id]), v.start, v.length, v.length_hours, v.timezone)
        versions[v.layer_id].append((v.effective_from, rotation))
    overrides: dict[int, list[pure.Override]] = defaultdict(list)
    for r in c.execute(
        select(_O.id, _O.layer_id, _O.starts_at, _O.ends_at, _O.user_id, _O.replaces_user_id)
        .where(_O.layer_id.in_(ids), _O.starts_at < end, _O.ends_at > start)
    ):
        overrides[r.layer_id].append(pure.Override(r.id, r.layer_id, r.starts_at, r.ends_at, r.user_id, r.replaces_user_id))
    by_schedule: dict[int, list[Any]] = defaultdict(list)
    for x in layers:
        by_schedule[x.schedule_id].append(x)
    out = []
    for h in heads:
        rows = by_schedule[h.id]
        usable = tuple(p for p in (_layer(x.id, x.name, versions[x.id]) for x in rows) if p is not None)
        coverage = coverage_of(h.coverage)
        plan = pure.Schedule(h.id, h.name, h.timezone, usable, coverage,
                             tuple(o for p in usable for o in overrides.get(p.id, ())))
        out.append(Roster(h.id, h.name, h.pool_id, h.pool_name, h.timezone, coverage,
                          {x.id: x.name for x in rows}, plan))
    return out


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    active: bool

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "active": self.active}


def people(session: Session, ids: Iterable[int | None]) -> dict[int, Person]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.name, User.active).where(User.id.in_(wanted)))
    return {r.id: Person(r.id, r.name, r.active) for r in rows}


def pieces_around(roster: Roster, start: datetime, end: datetime, *, staffed: bool = False) -> list[pure.Shift]:
    """Shifts overlapping [start, end) with their true edges. The timeline is built a week
    around the window first (enough for weekly hand-offs), and only if a shift reaches that
    edge, MARGIN around it: beyond MARGIN an edge is reported where the look stopped."""
    plan = roster.staffed if staffed else roster.plan
    for margin in (NEAR, MARGIN):
        lo, hi = start - margin, end + margin
        found = [p for p in pure.shifts(plan, lo, hi) if p.end > start and p.start < end]
        if all(lo < p.start and p.end < hi for p in found):
            break
    return found


def layer_oncall(session: Session, layer_id: int, now: datetime) -> tuple[list[int], str]:
    """Who holds a layer at `now`, for an escalation step: ([user id], label), or ([], label)
    when nobody can be paged (open slot, outside the schedule's hours, not begun, deactivated).

    The escalation hot path (an alert storm fires hundreds of steps a second), so it reads only
    what decides the answer at `now`, with plain statements: the layer and its schedule's hours,
    the latest override covering `now`, else the rotation version in force and its turns. The
    result is the same as `pure.oncall_at` over the whole loaded schedule (tested)."""
    c = session.connection()
    head = c.execute(_LAYER_HEAD, {"layer": layer_id, "now": now}).first()
    if head is None:
        return [], f"schedule layer #{layer_id} (removed)"
    label = f"{head.layer_name} ({head.schedule_name})"
    coverage = coverage_of(head.coverage)
    if coverage is not None and not covers(coverage, now):
        return [], f"{label}, outside the schedule's hours"
    if head.override_id is not None:
        uid = head.override_user_id
    else:
        turns = c.execute(_VERSION_AT, {"layer": layer_id, "now": now}).all()
        if not turns:
            return [], f"{label}, not begun yet"
        v = turns[0]
        length: pure.RotationLength = timedelta(hours=v.length_hours or 0) if v.length == "custom" else v.length  # type: ignore[assignment]
        members = tuple(t.user_id for t in turns if t.position is not None)
        uid = pure.rotation_shift_at(pure.Rotation(members, v.start, length, v.timezone), now).user_id
    if uid is None:
        return [], label
    person = c.execute(_PERSON, {"id": uid}).first()
    if person is None or not person.active:
        return [], f"{label} ({person.name if person else f'user #{uid}'} is deactivated)"
    # A start not confirmed in time, whose outgoing engineer the team keeps responsible: both.
    stays = c.execute(_OUTGOING_STAYS, {"layer": layer_id, "user": uid, "now": now}).first()
    if stays is not None and stays.id != uid and stays.active:
        return [uid, stays.id], f"{label}, and {stays.name} until {person.name} confirms the shift"
    return [uid], label


_SS, _U = ShiftStart.__table__, User.__table__.c
_OUTGOING_STAYS = (
    select(_U.id, _U.name, _U.active).join(_SS, _SS.c.previous_user_id == _U.id)
    .where(_SS.c.layer_id == bindparam("layer"), _SS.c.user_id == bindparam("user"), _SS.c.outgoing_stays,
           _SS.c.ready_at.is_(None), _SS.c.starts_at <= bindparam("now"), _SS.c.ends_at > bindparam("now"))
    .order_by(_SS.c.starts_at.desc()).limit(1)
)
# Overlapping overrides: the latest (highest id) wins, as in pure.oncall_at.
_OVERRIDE_AT = (
    select(_O.id).where(_O.layer_id == bindparam("layer"), _O.starts_at <= bindparam("now"),
                        _O.ends_at > bindparam("now"))
    .order_by(_O.id.desc()).limit(1).scalar_subquery()
)
_LAYER_HEAD = (
    select(_L.name.label("layer_name"), _S.name.label("schedule_name"), _S.coverage,
           _OVERRIDE_AT.label("override_id"),
           select(_O.user_id).where(_O.id == _OVERRIDE_AT).scalar_subquery().label("override_user_id"))
    .join_from(ScheduleLayer.__table__, Schedule.__table__, _L.schedule_id == _S.id)
    .where(_L.id == bindparam("layer"))
)
_IN_FORCE = (
    select(_V.id).where(_V.layer_id == bindparam("layer"), _V.effective_from <= bindparam("now"))
    .order_by(_V.effective_from.desc()).limit(1).scalar_subquery()
)
_VERSION_AT = (
    select(_V.start, _V.length, _V.length_hours, _V.timezone, _M.position, _M.user_id)
    .join_from(LayerRotation.__table__, RotationMember.__table__, _M.rotation_id == _V.id, isouter=True)
    .where(_V.id == _IN_FORCE)
    .order_by(_M.position)
)
_PERSON = select(User.__table__.c.name, User.__table__.c.active).where(User.__table__.c.id == bindparam("id"))
