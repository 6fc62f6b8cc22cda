"""Open slots and gaps.

An open slot is a stretch of a layer with nobody assigned (a None turn in the rotation, or an
override that leaves a stretch open) that touches the covered hours. It is offered to the
engineers of the schedule's pool and claimed with one tap: the whole remaining slot becomes the
claimer's shift (an override of kind "claim", so it shows in who is on call, in the calendar
feed and in the allowance report). The first claim wins; the others are told who took it.

A gap is what managers are warned about: a covered stretch where a layer has nobody who can be
paged (an open slot, or a deactivated holder).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..access import Denied, schedule_pool_ids, visible_pool_ids
from ..db import is_id
from ..errors import ActionError
from ..live import events
from ..models import PoolMember, Role, ScheduleLayer, ScheduleOverride, User
from . import rotations as pure
from .coverage import intervals
from .rosters import Roster, load, people, pieces_around

TICK = timedelta(microseconds=1)


def _touches_coverage(roster: Roster, start: datetime, end: datetime) -> bool:
    return roster.coverage is None or bool(intervals(roster.coverage, start, end))


def _conflict(staffed: list[pure.Shift], layer_id: int, user_id: int, start: datetime, end: datetime) -> int | None:
    """Another layer of the same schedule this user already holds during [start, end): taking
    both would make one person the two engineers of a dual on-call."""
    for p in staffed:
        if p.user_id == user_id and p.layer_id != layer_id and p.start < end and p.end > start:
            return p.layer_id
    return None


def _member_pools(session: Session, user: User) -> set[int]:
    return set(session.execute(select(PoolMember.pool_id).where(PoolMember.user_id == user.id)).scalars())


@dataclass(frozen=True)
class Slot:
    roster: Roster
    piece: pure.Shift
    eligible: bool

    def as_dict(self, now: datetime) -> dict[str, Any]:
        p, r = self.piece, self.roster
        return {
            "schedule": {"id": r.id, "name": r.name},
            "layer": {"id": p.layer_id, "name": r.layer_names.get(p.layer_id, "")},
            "start": p.start.isoformat(), "end": p.end.isoformat(),
            "in_progress": p.start <= now, "source": p.source, "eligible": self.eligible,
            "claim": {"layer_id": p.layer_id, "start": p.start.isoformat()},
        }


def open_slots(session: Session, user: User, now: datetime, weeks: int) -> list[Slot]:
    """Unclaimed open slots ending after `now` and starting within `weeks`: those the user may
    claim (pool member, not on another layer of that schedule then); managers see them all."""
    end = now + timedelta(weeks=weeks)
    manager = user.has_role(Role.admin, Role.manager)
    mine = _member_pools(session, user)
    out = []
    for r in load(session, now - timedelta(days=35), end + timedelta(days=35), pool_ids=visible_pool_ids(session, user)):
        staffed = pieces_around(r, now, end, staffed=True)
        for p in staffed:
            if p.user_id is not None or not _touches_coverage(r, max(p.start, now), p.end):
                continue
            eligible = r.pool_id in mine and _conflict(staffed, p.layer_id, user.id, max(p.start, now), p.end) is None
            if eligible or manager:
                out.append(Slot(r, p, eligible))
    out.sort(key=lambda s: (s.piece.start, s.roster.name, s.piece.layer_id))
    return out


def claim(session: Session, user: User, layer_id: Any, start: datetime, now: datetime) -> dict[str, Any]:
    """Take the open slot of `layer_id` that starts at `start` (or, once it has begun, the rest of
    it). Raises ActionError: 404 unknown, 403 not in the pool, 409 taken (naming the holder) or
    no longer open."""
    if not is_id(layer_id):
        raise ActionError("layer_id must be a layer's id", 400)
    # The race: several engineers tap "claim" on one slot at once. Locking the layer row (FOR
    # UPDATE on PostgreSQL; on SQLite every writer already holds the write lock, see db.py) makes
    # read-decide-write one step: whoever comes second reads the winner's claim below.
    layer = session.execute(
        select(ScheduleLayer).where(ScheduleLayer.id == layer_id).with_for_update()
    ).scalar_one_or_none()
    pools = schedule_pool_ids(session, user)  # a client viewer sees no layer: 404 too
    if layer is None or (pools is not None and layer.schedule.pool_id not in pools):
        raise ActionError("no such schedule layer", 404)
    if layer.schedule.pool_id not in _member_pools(session, user):
        raise Denied("only engineers of this schedule's pool can claim its open slots")
    t0 = max(start, now)
    (roster,) = load(session, t0 - timedelta(days=35), t0 + timedelta(days=35), schedule_ids=[layer.schedule_id])
    staffed = pieces_around(roster, t0, t0 + TICK, staffed=True)
    piece = next((p for p in staffed if p.layer_id == layer.id), None)
    if piece is not None and piece.user_id is not None:
        holder = people(session, [piece.user_id]).get(piece.user_id)
        name = holder.name if holder else "someone"
        who = "you" if piece.user_id == user.id else name
        raise ActionError(f"This slot of {roster.label(layer.id)} was already taken by {who}.", 409,
                          {"holder": {"id": piece.user_id, "name": name}})
    if piece is None or (piece.start != start and start > now) or piece.end <= now:
        raise ActionError("This slot is no longer open: reload the list of open slots.", 409, {"holder": None})
    around = pieces_around(roster, t0, piece.end, staffed=True)
    if (other := _conflict(around, layer.id, user.id, t0, piece.end)) is not None:
        raise ActionError(f"You are already on call on {roster.label(other)} during that slot.", 409,
                          {"holder": None})
    row = ScheduleOverride(layer_id=layer.id, starts_at=t0, ends_at=piece.end, user_id=user.id, kind="claim",
                           note="claimed an open slot", created_at=now, created_by_id=user.id)
    session.add(row)
    session.flush()
    shift = {"layer": {"id": layer.id, "name": layer.name}, "schedule": {"id": roster.id, "name": roster.name},
             "start": t0.isoformat(), "end": piece.end.isoformat(), "user": {"id": user.id, "name": user.name}}
    events.publish(session, "schedule.slot_claimed", now=now, data={"shift": shift, "override_id": row.id})
    return {"outcome": "claimed", "message": f"You hold {roster.label(layer.id)} from then on.", "shift": shift}


def gaps(session: Session, start: datetime, end: datetime, pool_ids: set[int] | None = None) -> list[dict[str, Any]]:
    """Covered stretches in [start, end) where a layer has nobody who can be paged."""
    out = []
    for r in load(session, start - timedelta(days=35), end + timedelta(days=35), pool_ids=pool_ids):
        pieces = pieces_around(r, start, end)
        who = people(session, (p.user_id for p in pieces))
        for p in pieces:
            holder = who.get(p.user_id) if p.user_id is not None else None
            if p.user_id is not None and holder is not None and holder.active:
                continue
            out.append({
                "schedule": {"id": r.id, "name": r.name},
                "layer": {"id": p.layer_id, "name": r.layer_names.get(p.layer_id, "")},
                "label": r.label(p.layer_id), "tz": r.tz, "start": p.start, "end": p.end,
                "kind": "open_slot" if p.user_id is None else "unreachable",
                "holder": holder.as_dict() if holder else None,
            })
    out.sort(key=lambda g: (g["start"], g["schedule"]["name"], g["layer"]["id"]))
    return out
