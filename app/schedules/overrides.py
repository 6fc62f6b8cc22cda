"""Overrides: someone covers a stretch of a layer (a night, a weekend), two shifts are swapped, or
a stretch is deliberately left open for the pool to claim. They win over the rotation (the
latest override wins over older ones) and show in every timeline of who was on call.

Overrides in the past are allowed on purpose: "Bob actually covered Alice's Tuesday night" is
recorded after the fact so that the allowance report pays whoever really held the shift.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..access import require_manager
from ..db import clean_text, is_id
from ..errors import ActionError
from ..live import events
from ..models import PoolMember, ScheduleLayer, ScheduleOverride, User
from . import rotations as pure
from .rosters import load, pieces_around

MAX_LENGTH = timedelta(days=92)
TICK = timedelta(microseconds=1)


def _layer(session: Session, layer_id: Any) -> ScheduleLayer:
    layer = session.get(ScheduleLayer, layer_id) if is_id(layer_id) else None
    if layer is None:
        raise ActionError("schedule layer not found", 404)
    return layer


def _holder_at(session: Session, layer: ScheduleLayer, t: datetime) -> int | None:
    (roster,) = load(session, t, t + TICK, schedule_ids=[layer.schedule_id])
    return next((p.user_id for p in pieces_around(roster, t, t + TICK, staffed=True) if p.layer_id == layer.id), None)


def create(session: Session, actor: User, layer_id: Any, user_id: Any, start: datetime, end: datetime,
           now: datetime, note: Any = "") -> ScheduleOverride:
    """`user_id` holds the layer during [start, end); None leaves that stretch open (claimable)."""
    require_manager(actor)
    layer = _layer(session, layer_id)
    if end <= start:
        raise ActionError("the end must be after the start", 400)
    if end - start > MAX_LENGTH:
        raise ActionError("an override lasts at most 92 days: change the rotation instead", 400)
    if user_id is not None:
        member = session.execute(
            select(User).join(PoolMember, PoolMember.user_id == User.id)
            .where(PoolMember.pool_id == layer.schedule.pool_id, User.id == user_id, User.active)
        ).scalar_one_or_none() if is_id(user_id) else None
        if member is None:
            raise ActionError(f"the person covering must be an active engineer of {layer.schedule.pool.name}", 400)
    note = clean_text(note, 500)
    row = ScheduleOverride(
        layer_id=layer.id, starts_at=start, ends_at=end, user_id=user_id,
        replaces_user_id=_holder_at(session, layer, start), kind="override" if user_id else "open",
        note=note, created_at=now, created_by_id=actor.id,
    )
    session.add(row)
    session.flush()
    _changed(session, layer, now)
    return row


def swap(session: Session, actor: User, layer_id: Any, start_a: datetime, start_b: datetime,
         now: datetime) -> tuple[ScheduleOverride, ScheduleOverride]:
    """Exchange the holders of the two shifts of a layer that start at `start_a` and `start_b`
    (whole shifts, as the rotation and earlier overrides make them)."""
    require_manager(actor)
    layer = _layer(session, layer_id)
    lo, hi = min(start_a, start_b), max(start_a, start_b)
    (roster,) = load(session, lo - timedelta(days=35), hi + timedelta(days=35), schedule_ids=[layer.schedule_id])
    pieces = [p for p in pieces_around(roster, lo, hi + TICK, staffed=True) if p.layer_id == layer.id]
    a = next((p for p in pieces if p.start == start_a), None)
    b = next((p for p in pieces if p.start == start_b), None)
    if a is None or b is None or a == b:
        raise ActionError("choose two different shifts of this layer", 400)
    if a.user_id == b.user_id:
        raise ActionError("both shifts have the same holder: nothing to swap", 400)
    pure_layer = next(x for x in roster.plan.layers if x.id == layer.id)
    first, second = pure.swap(pure_layer, a, b, ids=(1, 2))  # ids: the database gives the real ones
    rows = []
    for o in (first, second):
        row = ScheduleOverride(layer_id=layer.id, starts_at=o.start, ends_at=o.end, user_id=o.user_id,
                               replaces_user_id=o.replaces_user_id, kind="swap", note="swap",
                               created_at=now, created_by_id=actor.id)
        session.add(row)
        rows.append(row)
    session.flush()
    _changed(session, layer, now)
    return rows[0], rows[1]


def delete(session: Session, actor: User, override_id: int, now: datetime) -> None:
    require_manager(actor)
    row = session.get(ScheduleOverride, override_id) if is_id(override_id) else None
    if row is None:
        raise ActionError("override not found", 404)
    layer = row.layer
    session.delete(row)
    session.flush()
    _changed(session, layer, now)


def listed(session: Session, schedule_id: int, start: datetime) -> list[ScheduleOverride]:
    """A schedule's overrides that end after `start`, in time order (for its page)."""
    return list(session.execute(
        select(ScheduleOverride).join(ScheduleLayer, ScheduleLayer.id == ScheduleOverride.layer_id)
        .where(ScheduleLayer.schedule_id == schedule_id, ScheduleOverride.ends_at > start)
        .order_by(ScheduleOverride.starts_at, ScheduleOverride.id)
    ).scalars())


def _changed(session: Session, layer: ScheduleLayer, now: datetime) -> None:
    events.publish(session, "schedule.changed", now=now,
                   data={"schedule": {"id": layer.schedule_id, "name": layer.schedule.name}, "layer_id": layer.id})
