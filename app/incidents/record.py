"""An incident's record: the snapshot that events and answers carry, its timeline, and the row
lock every writer takes first.

Races are settled with a row lock on the incident (`lock`): SELECT ... FOR NO KEY UPDATE on
PostgreSQL; on SQLite every writing transaction already holds the database write lock (BEGIN
IMMEDIATE, see db.py). So each function reads the current state under the lock, decides, writes.
The lock comes first, before any other row of the incident is read or written (its operation
ids, its notifications): the one lock order of db.py, so two writers never wait on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, joinedload

from .. import access, bulk
from ..errors import ActionError
from ..live import events
from ..models import Incident, Notification, PageIncident, TimelineEntry, User

_TIMELINE = TimelineEntry.__table__
_INSERT_NOTE = insert(_TIMELINE)

MAX_TEXT = 4000


@dataclass(frozen=True)
class Actor:
    """Who did something: a user, or a named system (an integration, the engine, SMS)."""

    user: User | None
    label: str

    @classmethod
    def of(cls, user: User, via: str | None = None) -> Actor:
        return cls(user, user.name if not via else f"{user.name} (via {via})")

    @classmethod
    def system(cls, label: str) -> Actor:
        return cls(None, label)


@dataclass
class Outcome:
    outcome: str
    message: str
    incident: Incident | None = None
    status: int = 200
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outcome": self.outcome, "message": self.message, **self.data}
        if self.incident is not None:
            out["incident"] = snapshot(self.incident)
        return out


def snapshot(inc: Incident) -> dict[str, Any]:
    """The compact view of an incident carried by events and action results."""

    def name(u: User | None) -> str | None:
        return u.name if u else None

    return snapshot_of(
        id=inc.id, status=inc.status, summary=inc.summary, urgency=inc.urgency, source=inc.source,
        client={"id": inc.client_id, "name": inc.client.name, "slug": inc.client.slug},
        service={"id": inc.service_id, "name": inc.service.name}, tier=inc.client.tier,
        alert_count=inc.alert_count, created_at=inc.created_at, response_deadline=inc.response_deadline,
        acknowledged_by=name(inc.acknowledged_by), acknowledged_at=inc.acknowledged_at, resolved_at=inc.resolved_at,
        slot1=(inc.slot1_user_id, name(inc.slot1_user)), slot2=(inc.slot2_user_id, name(inc.slot2_user)),
        next_escalation_at=inc.next_escalation_at,
    )


def snapshots(session: Session, incident_ids: set[int] | list[int]) -> dict[int, dict[str, Any]]:
    """snapshot() of several incidents, read in one statement without loading them (for hot
    paths: the engine recording a batch of deliveries)."""
    if not incident_ids:
        return {}
    rows = session.connection().execute(_snapshots_query(), {"ids": list(incident_ids)}).all()
    return {r.id: snapshot_of(
        id=r.id, status=r.status, summary=r.summary, urgency=r.urgency, source=r.source,
        client={"id": r.client_id, "name": r.client_name, "slug": r.slug},
        service={"id": r.service_id, "name": r.service_name}, tier=r.tier, alert_count=r.alert_count,
        created_at=r.created_at, response_deadline=r.response_deadline, acknowledged_by=r.ack_name,
        acknowledged_at=r.acknowledged_at, resolved_at=r.resolved_at, slot1=(r.slot1_user_id, r.slot1_name),
        slot2=(r.slot2_user_id, r.slot2_name), next_escalation_at=r.next_escalation_at,
    ) for r in rows}


@lru_cache(maxsize=1)
def _snapshots_query() -> Any:
    """Built once: its aliases and cache key cost more to make than the query takes to run."""
    from sqlalchemy.orm import aliased

    from ..models import Client, Service

    i, c, sv = Incident.__table__, Client.__table__, Service.__table__
    ack, s1, s2 = (aliased(User.__table__) for _ in range(3))
    return (
        select(i.c.id, i.c.status, i.c.summary, i.c.urgency, i.c.source, i.c.client_id, c.c.name.label("client_name"),
               c.c.slug, c.c.tier, i.c.service_id, sv.c.name.label("service_name"), i.c.alert_count, i.c.created_at,
               i.c.response_deadline, ack.c.name.label("ack_name"), i.c.acknowledged_at, i.c.resolved_at,
               i.c.slot1_user_id, s1.c.name.label("slot1_name"), i.c.slot2_user_id, s2.c.name.label("slot2_name"),
               i.c.next_escalation_at)
        .select_from(i.join(c, c.c.id == i.c.client_id).join(sv, sv.c.id == i.c.service_id)
                     .outerjoin(ack, ack.c.id == i.c.acknowledged_by_id).outerjoin(s1, s1.c.id == i.c.slot1_user_id)
                     .outerjoin(s2, s2.c.id == i.c.slot2_user_id))
        .where(bulk.among(i.c.id))
    )


def snapshot_of(
    *, id: int, status: str, summary: str, urgency: str, source: str, client: dict[str, Any],
    service: dict[str, Any], tier: str, alert_count: int, created_at: datetime, response_deadline: datetime,
    acknowledged_by: str | None = None, acknowledged_at: datetime | None = None, resolved_at: datetime | None = None,
    slot1: tuple[int | None, str | None] = (None, None), slot2: tuple[int | None, str | None] = (None, None),
    next_escalation_at: datetime | None = None,
) -> dict[str, Any]:
    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t else None

    return {
        "id": id,
        "number": id,
        "status": status,
        "summary": summary,
        "urgency": urgency,
        "client": client,
        "service": service,
        "source": source,
        "alert_count": alert_count,
        "created_at": created_at.isoformat(),
        "response_deadline": response_deadline.isoformat(),
        "acknowledged_by": acknowledged_by,
        "acknowledged_at": iso(acknowledged_at),
        "resolved_at": iso(resolved_at),
        "slots": {"1": {"user_id": slot1[0], "name": slot1[1]}, "2": {"user_id": slot2[0], "name": slot2[1]}},
        "dual": tier == "1h",
        "next_escalation_at": iso(next_escalation_at),
    }


def timeline_of(session: Session, incident_id: int) -> list[TimelineEntry]:
    return list(session.execute(
        select(TimelineEntry).where(TimelineEntry.incident_id == incident_id).order_by(TimelineEntry.id)
    ).scalars())


# --- small shared pieces -------------------------------------------------------------------


def lock(session: Session, incident_id: int, actor: Actor | None = None) -> Incident:
    """Lock the incident row for this transaction; for a person, check they may act on it."""
    inc = try_lock(session, incident_id, skip_locked=False)
    if actor is not None and actor.user is not None:
        try:
            access.check_act_on_incident(session, actor.user, inc)
        except access.Denied as e:
            raise ActionError(e.message, e.status) from None
    if inc is None:
        raise ActionError(f"incident {incident_id} not found", 404)
    return inc


def try_lock(session: Session, incident_id: int, *, skip_locked: bool) -> Incident | None:
    locked = try_lock_many(session, [incident_id], skip_locked=skip_locked)
    return locked[0] if locked else None


def try_lock_many(session: Session, incident_ids: list[int], *, skip_locked: bool) -> list[Incident]:
    # skip_locked: an engine passes over a row another engine is working on (PostgreSQL).
    # In id order, so two transactions locking overlapping sets cannot deadlock. NO KEY UPDATE
    # (key_share=True), not FOR UPDATE: the rows we then insert that point at the incident
    # (timeline, operation ids, pages) take KEY SHARE on it, which this mode lets through; FOR
    # UPDATE would make another transaction's insert wait on us (see the lock order in db.py).
    return list(session.execute(
        select(Incident)
        .where(Incident.id.in_(incident_ids))
        .order_by(Incident.id)
        .options(joinedload(Incident.client, innerjoin=True), joinedload(Incident.service, innerjoin=True))
        .with_for_update(of=Incident, skip_locked=skip_locked, key_share=True)
        .execution_options(populate_existing=True)
    ).scalars())


def note(
    session: Session, inc: Incident, kind: str, actor: Actor, message: str, now: datetime,
    *, at_commit: bool = False, **data: Any,
) -> None:
    note_id(session, inc.id, kind, actor, message, now, at_commit=at_commit, **data)


def note_id(
    session: Session, incident_id: int, kind: str, actor: Actor, message: str, now: datetime,
    *, at_commit: bool = False, **data: Any,
) -> None:
    # A plain INSERT: timeline rows are append-only; the unit of work would only add overhead.
    # at_commit: written with the transaction's events (see events.append_at_commit), for hot
    # paths that do not read the timeline back before they commit.
    row = {
        "incident_id": incident_id, "at": now, "kind": kind, "actor_id": actor.user.id if actor.user else None,
        "actor_label": actor.label, "message": message, "data": data,
    }
    if at_commit:
        events.append_at_commit(session, _TIMELINE, row)
    else:
        events.write_queued_rows(session)  # so the timeline keeps the order things happened in
        session.connection().execute(_INSERT_NOTE, row)


def publish(session: Session, inc: Incident, kind: str, now: datetime, *, flush: bool = True, **data: Any) -> None:
    if flush:  # the snapshot reads relationships; make ids and FKs real first
        session.flush()
    events.publish(
        session,
        f"incident.{kind}",
        now=now,
        incident_id=inc.id,
        client_id=inc.client_id,
        data={"incident": snapshot(inc), **data},
    )


def stop_escalation(session: Session, inc: Incident, purposes: tuple[str, ...] = ("page",)) -> None:
    inc.next_escalation_at = None
    # Pages not yet sent are pointless now (the engine re-checks before sending anyway). Not a
    # bundle's: it may be for other incidents still waiting (it goes out about those, or not at all).
    session.execute(
        update(Notification)
        .where(
            Notification.incident_id == inc.id,
            Notification.status == "pending",
            Notification.purpose.in_(purposes),
            Notification.id.not_in(select(PageIncident.notification_id).where(PageIncident.incident_id == inc.id)),
        )
        .values(status="cancelled", last_error="incident no longer needs a response")
    )


def mark_responded(inc: Incident, now: datetime) -> None:
    if inc.responded_at is None:
        inc.responded_at = now


def checked_text(value: Any, what: str, *, required: bool = True) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ActionError(f"{what} is required", 400)
        return ""
    if not isinstance(value, str):
        raise ActionError(f"{what} must be a string", 400)
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise ActionError(f"{what} is longer than {MAX_TEXT} characters", 400)
    return value


def utc_hhmm(t: datetime) -> str:
    return t.strftime("%H:%M UTC")
