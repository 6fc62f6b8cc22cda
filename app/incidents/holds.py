"""Held incidents let go early: a maintenance window that ends before its time releases the
incidents it held (they escalate now, not at the planned end), with their response deadline
moved as much earlier."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..live import events
from ..models import Incident, Status
from .record import Actor, note_id


def release(session: Session, client_id: int, service_ids: Sequence[int], held_until: datetime, reason: str,
            now: datetime) -> list[int]:
    """Incidents of the client (of these services; all when empty) held until `held_until` that
    have not escalated yet now escalate at `now`. Compare-and-set on (held_until, esc_seq): the
    engine firing a step at the same moment wins, and the row is then left alone."""
    t = Incident.__table__.c
    q = select(t.id, t.response_deadline).where(
        t.client_id == client_id, t.status == Status.triggered.value, t.held_until == held_until, t.esc_seq == 0)
    if service_ids:
        q = q.where(t.service_id.in_(list(service_ids)))
    released = []
    for incident_id, deadline in session.connection().execute(q).all():
        moved = session.connection().execute(
            update(Incident.__table__)
            .where(t.id == incident_id, t.held_until == held_until, t.esc_seq == 0)
            .values(held_until=now, next_escalation_at=now, response_deadline=deadline - (held_until - now))
        ).rowcount
        if moved:
            released.append(incident_id)
            note_id(session, incident_id, "coverage", Actor.system("maintenance"), reason, now)
            events.publish(session, "incident.released", now=now, incident_id=incident_id, client_id=client_id,
                           data={"incident": {"id": incident_id, "next_escalation_at": now.isoformat()}})
    session.expire_all()
    return released
