"""Hand-off notes: what the outgoing engineer of a layer leaves for whoever holds it next
("the disk on db-2 is at 85%, watch it"), shown in the incoming engineer's hand-off
notification and on their home screen."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ..errors import ActionError
from ..models import HandoffNote, User
from .rosters import load, pieces_around

MAX_NOTE = 4000


def notes_for(session: Session, layer_id: int, starts_at: datetime) -> list[HandoffNote]:
    """The notes left for the shift of this layer starting at `starts_at`, oldest first."""
    return list(session.execute(
        select(HandoffNote).where(HandoffNote.layer_id == layer_id, HandoffNote.for_start == starts_at)
        .options(joinedload(HandoffNote.author)).order_by(HandoffNote.id)).scalars())


def holding(session: Session, user_id: int, now: datetime) -> list[dict[str, Any]]:
    """The layers this person holds now, each with when their shift ends (the next one's start)
    and the next holder: [{layer_id, label, ends, next_user_id}]."""
    out = []
    for r in load(session, now - timedelta(days=8), now + timedelta(days=8)):
        pieces = pieces_around(r, now, now + timedelta(microseconds=1))
        for p in pieces:
            if p.user_id != user_id:
                continue
            after = [q for q in pieces_around(r, p.end, p.end + timedelta(microseconds=1)) if q.layer_id == p.layer_id]
            out.append({"layer_id": p.layer_id, "label": r.label(p.layer_id), "ends": p.end,
                        "next_user_id": after[0].user_id if after else None})
    return out


def write(session: Session, user: User, layer_id: Any, body: Any, now: datetime) -> HandoffNote:
    """A note from the engineer holding `layer_id` now, for the shift that follows theirs."""
    if not isinstance(body, str) or not body.strip():
        raise ActionError("write the note first", 400)
    body = body.strip()
    if len(body) > MAX_NOTE:
        raise ActionError(f"a note is at most {MAX_NOTE} characters", 400)
    try:
        layer = int(layer_id)
    except (TypeError, ValueError):
        raise ActionError("layer_id must be a layer you hold now", 400) from None
    mine = next((h for h in holding(session, user.id, now) if h["layer_id"] == layer), None)
    if mine is None:
        raise ActionError("you can leave a hand-off note only for a layer you hold now", 409)
    note = HandoffNote(layer_id=layer, author_id=user.id, for_start=mine["ends"], body=body, created_at=now)
    session.add(note)
    session.flush()
    return note


def for_my_shifts(session: Session, user_id: int, now: datetime) -> list[tuple[str, HandoffNote]]:
    """The notes left for the shifts I hold now: [(layer label, note)]."""
    out = []
    for r in load(session, now - timedelta(days=8), now + timedelta(days=8)):
        for p in pieces_around(r, now, now + timedelta(microseconds=1)):
            if p.user_id == user_id:
                out += [(r.label(p.layer_id), n) for n in notes_for(session, p.layer_id, p.start)]
    return out
