"""The only writers of incident state: trigger, dedup, acknowledge, claim, escalate, log, hand
over, resolve, and the engine's step firing. Every change appends a timeline entry and publishes
an event in the same transaction.

Races are settled with a row lock on the incident (`_lock`): SELECT ... FOR NO KEY UPDATE on
PostgreSQL; on SQLite every writing transaction already holds the database write lock (BEGIN
IMMEDIATE, see db.py). So each function reads the current state under the lock, decides, writes.
The lock comes first, before any other row of the incident is read or written (its operation
ids, its notifications): the one lock order of db.py, so two writers never wait on each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from .. import access, audit
from ..batching import Step
from ..errors import ActionError
from ..intake.base import IntakeEvent
from ..intake.keys import IntakeTarget
from ..live import events
from ..models import (
    Alert,
    EscalationPolicy,
    EscalationStep,
    Incident,
    Notification,
    Operation,
    Role,
    Status,
    StepFiring,
    TimelineEntry,
    User,
)
from . import escalation

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


def _lock(session: Session, incident_id: int, actor: Actor | None = None) -> Incident:
    """Lock the incident row for this transaction; for a person, check they may act on it."""
    inc = _try_lock(session, incident_id, skip_locked=False)
    if actor is not None and actor.user is not None:
        try:
            access.check_act_on_incident(session, actor.user, inc)
        except access.Denied as e:
            raise ActionError(e.message, e.status) from None
    if inc is None:
        raise ActionError(f"incident {incident_id} not found", 404)
    return inc


def _try_lock(session: Session, incident_id: int, *, skip_locked: bool) -> Incident | None:
    locked = _try_lock_many(session, [incident_id], skip_locked=skip_locked)
    return locked[0] if locked else None


def _try_lock_many(session: Session, incident_ids: list[int], *, skip_locked: bool) -> list[Incident]:
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


def _note(
    session: Session, inc: Incident, kind: str, actor: Actor, message: str, now: datetime,
    *, at_commit: bool = False, **data: Any,
) -> None:
    _note_id(session, inc.id, kind, actor, message, now, at_commit=at_commit, **data)


def _note_id(
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


def _publish(session: Session, inc: Incident, kind: str, now: datetime, *, flush: bool = True, **data: Any) -> None:
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


def _stop_escalation(session: Session, inc: Incident, purposes: tuple[str, ...] = ("page",)) -> None:
    inc.next_escalation_at = None
    # Pages not yet sent are pointless now (the engine re-checks before sending anyway).
    session.execute(
        update(Notification)
        .where(
            Notification.incident_id == inc.id,
            Notification.status == "pending",
            Notification.purpose.in_(purposes),
        )
        .values(status="cancelled", last_error="incident no longer needs a response")
    )


def _responded(inc: Incident, now: datetime) -> None:
    if inc.responded_at is None:
        inc.responded_at = now


def _text(value: Any, what: str, *, required: bool = True) -> str:
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


def _fmt(t: datetime) -> str:
    return t.strftime("%H:%M UTC")


# --- intake ----------------------------------------------------------------------------------
# The hot path: an alert storm can bring hundreds of alerts a second. So intake works on an
# IntakeTarget (cached facts about the key's service and client) and writes with plain SQL on
# the session's connection, no ORM unit of work. One statement attaches the alert to the open
# incident with its key or opens one; its timeline entry, raw alert and event are then queued for
# the commit (events.append_at_commit): one more statement. Concurrent requests' alerts share one
# transaction (ingest_steps, for batching.GroupCommit): BEGIN, COMMIT and the commit-time work
# are paid once per batch, not once per alert.

_T = Incident.__table__
# Built once: constructing a statement with literal values costs more than running it.
_FIND_OPEN = select(_T.c.id).where(
    _T.c.service_id == bindparam("b_service"), _T.c.dedup_key == bindparam("b_dedup"),
    _T.c.status != Status.resolved.value,
)
_OPEN_ONLY = text("status != 'resolved'")  # literal: it must match the index predicate


# An alert with the key of an open incident counts itself in; otherwise it opens one, in one
# statement either way, returning (id, alert_count): a new incident starts at 1, a repeat makes
# it at least 2. Incident numbers (what engineers text back) must not skip by repeats.
# SQLite: an upsert, the partial unique index on open (service, dedup key) the arbiter. (SQLite
# numbers a row max(id) + 1 when it is stored, so a repeat uses up nothing.)
_SQLITE_INSERT = sqlite_insert(_T)
_UPSERT_SQLITE = (
    _SQLITE_INSERT.on_conflict_do_update(
        index_elements=["service_id", "dedup_key"], index_where=_OPEN_ONLY,
        set_={"alert_count": _T.c.alert_count + 1, "last_alert_at": _SQLITE_INSERT.excluded.last_alert_at})
    .returning(_T.c.id, _T.c.alert_count)
)
# PostgreSQL would draw a number from the sequence for every INSERT that meets a conflict (an
# upsert would skip a number per repeat). So an UPDATE goes first, as a CTE, and the INSERT's row
# exists only when the UPDATE found nothing. No row back: an alert with the same key won the
# INSERT a moment ago. Written as text once: SQLAlchemy would compile a DML CTE afresh on every
# call.
_NEW_COLUMNS = ("client_id", "service_id", "policy_id", "summary", "details", "source", "severity", "urgency",
                "dedup_key", "status", "alert_count", "created_at", "last_alert_at", "response_deadline",
                "held_until", "next_escalation_at", "esc_seq", "esc_step", "esc_loop")
_ATTACH_OR_OPEN_PG = text(f"""
WITH attached AS (
    UPDATE incidents SET alert_count = alert_count + 1, last_alert_at = :n_last_alert_at
    WHERE service_id = :n_service_id AND dedup_key = :n_dedup_key AND status != 'resolved'
    RETURNING id, alert_count
), opened AS (
    INSERT INTO incidents ({", ".join(_NEW_COLUMNS)})
    SELECT {", ".join(":n_" + c for c in _NEW_COLUMNS)} WHERE NOT EXISTS (SELECT 1 FROM attached)
    ON CONFLICT (service_id, dedup_key) WHERE status != 'resolved' DO NOTHING
    RETURNING id, alert_count
)
SELECT id, alert_count FROM attached UNION ALL SELECT id, alert_count FROM opened
""").bindparams(*[bindparam(f"n_{c}", type_=_T.c[c].type) for c in _NEW_COLUMNS])
_ALERTS = Alert.__table__
_TIMELINE = TimelineEntry.__table__
_INSERT_NOTE = insert(_TIMELINE)
_INSERT_FIRING = insert(StepFiring.__table__).returning(StepFiring.__table__.c.id)


@dataclass
class IngestResult:
    outcome: str  # created | attached | acknowledged | resolved | no_open_incident | ...
    dedup_key: str
    incident_id: int | None


def ingest_steps(target: IntakeTarget, parsed: list[IntakeEvent], payload: Any, now: datetime) -> list[Step]:
    """A request's alerts as group-commit steps (batching.GroupCommit), each keyed by the incident
    it locks, (service, dedup key): concurrent requests' alerts then share a transaction."""
    return [((target.service_id, ev.dedup_key or ""), partial(ingest, target=target, ev=ev, payload=payload, now=now))
            for ev in parsed]


def ingest(session: Session, target: IntakeTarget, ev: IntakeEvent, payload: Any, now: datetime) -> IngestResult:
    """Apply one parsed alert event for the target's service. The raw payload is always kept."""
    dedup = ev.dedup_key or uuid.uuid4().hex
    incident_id: int | None
    if ev.action == "trigger":
        incident_id, created = trigger(session, target, ev, dedup, now)
        outcome = "created" if created else "attached"
    else:
        incident_id = find_open(session, target.service_id, dedup)
        if incident_id is None:
            outcome = "no_open_incident"
        else:
            actor = Actor.system(target.source)
            if ev.action == "acknowledge":
                outcome = acknowledge(session, incident_id, actor, now).outcome
            else:
                outcome = resolve(session, incident_id, actor, f"Resolved by {target.source}: the alert cleared.", now).outcome
    events.append_at_commit(session, _ALERTS, {
        "incident_id": incident_id, "service_id": target.service_id, "integration_key_id": target.key_id,
        "source": target.source, "action": ev.action, "dedup_key": dedup, "summary": ev.summary,
        "outcome": outcome, "received_at": now, "payload": payload,
    })
    return IngestResult(outcome, dedup, incident_id)


def find_open(session: Session, service_id: int, dedup_key: str) -> int | None:
    return session.connection().execute(_FIND_OPEN, {"b_service": service_id, "b_dedup": dedup_key}).scalar()


def trigger(
    session: Session, target: IntakeTarget, ev: IntakeEvent, dedup_key: str, now: datetime
) -> tuple[int, bool]:
    """Open an incident, or attach to the open one with the same dedup key (no new page).
    Returns (incident id, created)."""
    conn = session.connection()
    values, decision = _new_incident(target, ev, dedup_key, now)
    if conn.dialect.name == "postgresql":
        stmt, params = _ATTACH_OR_OPEN_PG, {f"n_{k}": v for k, v in values.items()}
    else:
        stmt, params = _UPSERT_SQLITE, values
    row = conn.execute(stmt, params).first()
    if row is None:
        # Race (PostgreSQL): another alert with this key opened the incident just now; our INSERT
        # waited for its commit, then did nothing. Once more: the UPDATE finds it now.
        row = conn.execute(stmt, params).one()
    incident_id, count = row
    if count == 1:
        _opened(session, incident_id, target, values, decision, ev, now)
        return incident_id, True
    _note_id(session, incident_id, "alert_repeated", Actor.system(target.source),
             f"The alert fired again ({count} alerts); no new page.", now, at_commit=True, alert_count=count)
    events.publish(session, "incident.alert_repeated", now=now, incident_id=incident_id, client_id=target.client_id,
                   data={"incident": {"id": incident_id, "alert_count": count, "last_alert_at": now.isoformat()}})
    return incident_id, False


def _new_incident(target: IntakeTarget, ev: IntakeEvent, dedup_key: str, now: datetime) -> tuple[dict[str, Any], Any]:
    from ..oncall import coverage_decision  # coverage hours belong to schedules

    decision = coverage_decision(target, now)
    start = decision.hold_until or now  # held alerts escalate, and the SLA clock runs, from then
    return {
        "client_id": target.client_id, "service_id": target.service_id, "policy_id": target.policy_id,
        "summary": ev.summary, "details": ev.details, "source": target.source, "severity": ev.severity,
        "urgency": decision.urgency or ev.urgency, "dedup_key": dedup_key, "status": Status.triggered.value,
        "alert_count": 1, "created_at": now, "last_alert_at": now,
        "response_deadline": start + timedelta(minutes=target.response_minutes or 60),
        "held_until": decision.hold_until, "next_escalation_at": start,
        "esc_seq": 0, "esc_step": 0, "esc_loop": 0,
    }, decision


def _opened(
    session: Session, incident_id: int, target: IntakeTarget, values: dict[str, Any], decision: Any,
    ev: IntakeEvent, now: datetime,
) -> None:
    source = Actor.system(target.source)
    _note_id(session, incident_id, "triggered", source, f"Incident opened: {ev.summary}", now,
             at_commit=True, severity=ev.severity, urgency=values["urgency"])
    if decision.message:
        _note_id(session, incident_id, "coverage", Actor.system("coverage"), decision.message, now, at_commit=True)
    if target.policy_id is None:
        _note_id(session, incident_id, "warning", Actor.system("escalation"),
                 "No escalation policy for this service: every manager and admin will be paged.", now, at_commit=True)
    snap = snapshot_of(
        id=incident_id, status=values["status"], summary=values["summary"], urgency=values["urgency"],
        source=values["source"], client={"id": target.client_id, "name": target.client_name, "slug": target.client_slug},
        service={"id": target.service_id, "name": target.service_name}, tier=target.tier, alert_count=1,
        created_at=now, response_deadline=values["response_deadline"], next_escalation_at=values["next_escalation_at"],
    )
    events.publish(session, "incident.triggered", now=now, incident_id=incident_id, client_id=target.client_id,
                   data={"incident": snap})


# --- human actions ---------------------------------------------------------------------------


def run_once(
    session: Session,
    op_id: str | None,
    user: User | None,
    kind: str,
    incident_id: int,
    action: Callable[[], Outcome],
    now: datetime,
) -> Outcome:
    """Run `action` at most once per client-generated operation id; a replay gets the first
    answer back (errors included) and writes nothing."""
    if not op_id:
        return action()
    if not isinstance(op_id, str) or len(op_id) > 100:
        raise ActionError("op_id must be a string of at most 100 characters", 400)

    # The incident first (the lock order): the same queued ack replayed several times at once
    # then runs one after another, and each later one finds the first one's operation row. (The
    # row was inserted first before: its foreign key's share lock on the incident, then the
    # action's exclusive one, deadlocked two replays on PostgreSQL.)
    if _try_lock(session, incident_id, skip_locked=False) is None:
        raise ActionError(f"incident {incident_id} not found", 404)

    def replay(op: Operation) -> Outcome:
        if op.user_id != (user.id if user else None) or op.kind != kind or op.incident_id != incident_id:
            raise ActionError("this operation id was already used for another action", 409)
        result = dict(op.result)
        return Outcome(result.pop("outcome", "replayed"), result.pop("message", ""), None,
                       op.status_code, {**result, "replayed": True})

    found = session.execute(select(Operation).where(Operation.op_id == op_id)).scalar_one_or_none()
    if found is not None:
        return replay(found)
    op = Operation(op_id=op_id, user_id=user.id if user else None, kind=kind,
                   incident_id=incident_id, status_code=0, created_at=now)
    try:
        # Race: one operation id sent for two different incidents at once (the incident locks
        # do not meet). The unique op_id settles it; the second INSERT waits and then fails.
        with session.begin_nested():
            session.add(op)
            session.flush()
    except IntegrityError:
        found = session.execute(select(Operation).where(Operation.op_id == op_id)).scalar_one_or_none()
        if found is None:  # cannot happen with the incident locked, but never a 500 for it
            raise ActionError(f"incident {incident_id} not found", 404) from None
        return replay(found)
    try:
        out = action()
    except ActionError as e:
        out = Outcome("refused", e.message, None, e.status, e.data)
    op.status_code = out.status
    op.result = out.as_dict()
    return out


def acknowledge(
    session: Session, incident_id: int, actor: Actor, now: datetime, *, op_id: str | None = None
) -> Outcome:
    def act() -> Outcome:
        inc = _lock(session, incident_id, actor)
        if inc.status == Status.resolved.value:
            who = f" by {inc.resolved_by.name}" if inc.resolved_by else ""
            return Outcome("already_resolved", f"#{inc.number} was already resolved{who} at {_fmt(inc.resolved_at or now)}.", inc, 409)
        if inc.status == Status.handed_over.value:
            return Outcome("handed_over", f"#{inc.number} was handed over to the client's team.", inc, 409)
        if inc.status == Status.acknowledged.value:
            if actor.user is not None and inc.acknowledged_by_id == actor.user.id:
                return Outcome("already_acknowledged", f"You had already acknowledged #{inc.number}.", inc)
            who = inc.acknowledged_by.name if inc.acknowledged_by else "an integration"
            return Outcome("acknowledged_by_other",
                           f"#{inc.number} was already acknowledged by {who} at {_fmt(inc.acknowledged_at or now)}.",
                           inc, 409, {"acknowledged_by": who})
        _acknowledge(session, inc, actor, now)
        audit.human(session, "incident.acknowledged", actor, inc, now)
        return Outcome("acknowledged", f"#{inc.number} acknowledged.", inc)

    return run_once(session, op_id, actor.user, "ack", incident_id, act, now)


def _acknowledge(session: Session, inc: Incident, actor: Actor, now: datetime, how: str = "") -> None:
    inc.status = Status.acknowledged.value
    inc.acknowledged_at = now
    inc.acknowledged_by_id = actor.user.id if actor.user else None
    if actor.user is not None:
        _responded(inc, now)
    if inc.policy and inc.policy.ack_timeout_minutes:
        inc.ack_timeout_at = now + timedelta(minutes=inc.policy.ack_timeout_minutes)
    _stop_escalation(session, inc)
    _note(session, inc, "acknowledged", actor, f"Acknowledged by {actor.label}{how}.", now)
    _publish(session, inc, "acknowledged", now)


def claim_slot(
    session: Session, incident_id: int, actor: Actor, slot: Any, now: datetime, *, op_id: str | None = None
) -> Outcome:
    """Take responder slot #1 or #2. Exactly one engineer holds a slot: the row lock makes the
    check and the write one step, so of two simultaneous claims the second sees the first."""
    if slot not in (1, 2, "1", "2"):
        raise ActionError("slot must be 1 or 2", 400)
    n = int(slot)
    user = actor.user
    if user is None:
        raise ActionError("only a person can claim a slot", 400)

    def act() -> Outcome:
        inc = _lock(session, incident_id, actor)
        if inc.status == Status.resolved.value:
            return Outcome("already_resolved", f"#{inc.number} is already resolved.", inc, 409)
        holder_id = inc.slot1_user_id if n == 1 else inc.slot2_user_id
        other_id = inc.slot2_user_id if n == 1 else inc.slot1_user_id
        if holder_id == user.id:
            return Outcome("already_yours", f"You already hold slot #{n}.", inc)
        if holder_id is not None:
            holder = inc.slot1_user if n == 1 else inc.slot2_user
            name = holder.name if holder else "someone"
            return Outcome("slot_taken", f"Slot #{n} is already held by {name}.", inc, 409,
                           {"holder": {"id": holder_id, "name": name}})
        if other_id == user.id:
            return Outcome("holds_other_slot", f"You already hold slot #{3 - n}.", inc, 409)
        if n == 1:
            inc.slot1_user_id, inc.slot1_at = user.id, now
        else:
            inc.slot2_user_id, inc.slot2_at = user.id, now
        _responded(inc, now)
        _note(session, inc, "claimed", actor, f"{user.name} took slot #{n}.", now, slot=n)
        audit.human(session, "incident.claimed", actor, inc, now, slot=n)
        if inc.status == Status.triggered.value:
            # Claiming means someone is on it: that is an acknowledgement, and stops escalation.
            _acknowledge(session, inc, actor, now, how=f" by claiming slot #{n}")
        session.flush()
        session.refresh(inc)
        _publish(session, inc, "claimed", now, slot=n)
        return Outcome("claimed", f"You hold slot #{n} of #{inc.number}.", inc)

    return run_once(session, op_id, user, f"claim{n}", incident_id, act, now)


def escalate_now(session: Session, incident_id: int, actor: Actor, now: datetime, *, engine: str = "") -> Outcome:
    """Fire the next step at once (a human asking for help, or "escalate" from the phone)."""
    inc = _lock(session, incident_id, actor)
    if inc.status not in (Status.triggered.value, Status.acknowledged.value):
        raise ActionError(f"#{inc.number} is {inc.status.replace('_', ' ')}: nothing to escalate", 409)
    fired = fire_step(session, inc, now, actor=actor, manual=True, engine=engine)
    if not fired:
        raise ActionError(f"#{inc.number} has no escalation step left", 409)
    audit.human(session, "incident.escalated", actor, inc, now)
    return Outcome("escalated", f"#{inc.number} escalated.", inc)


def log_action(session: Session, incident_id: int, actor: Actor, text: Any, now: datetime) -> Outcome:
    body = _text(text, "text")
    inc = _lock(session, incident_id, actor)
    _note(session, inc, "action", actor, body, now)
    _publish(session, inc, "action_logged", now, text=body, by=actor.label)
    return Outcome("logged", "Action logged.", inc)


def hand_over(session: Session, incident_id: int, actor: Actor, reason: Any, now: datetime) -> Outcome:
    """An application bug belongs to the client's own team: we stop escalating and say why."""
    why = _text(reason, "reason")
    inc = _lock(session, incident_id, actor)
    if inc.status not in (Status.triggered.value, Status.acknowledged.value):
        raise ActionError(f"#{inc.number} is {inc.status.replace('_', ' ')}: it cannot be handed over", 409)
    inc.status = Status.handed_over.value
    inc.handed_over_at = now
    inc.handover_reason = why
    _responded(inc, now)
    _stop_escalation(session, inc, ("page", "help"))
    _note(session, inc, "handed_over", actor, f"Handed over to {inc.client.name}'s team: {why}", now)
    audit.human(session, "incident.handed_over", actor, inc, now)
    _publish(session, inc, "handed_over", now, reason=why)
    return Outcome("handed_over", f"#{inc.number} handed over to the client's team.", inc)


def resolve(session: Session, incident_id: int, actor: Actor, summary: Any, now: datetime) -> Outcome:
    text = _text(summary, "summary", required=actor.user is not None)
    inc = _lock(session, incident_id, actor)
    if inc.status == Status.resolved.value:
        who = f" by {inc.resolved_by.name}" if inc.resolved_by else ""
        return Outcome("already_resolved", f"#{inc.number} was already resolved{who}.", inc, 409)
    inc.status = Status.resolved.value
    inc.resolved_at = now
    inc.resolved_by_id = actor.user.id if actor.user else None
    inc.resolution_summary = text or None
    inc.ack_timeout_at = None
    if actor.user is not None:
        _responded(inc, now)
    _stop_escalation(session, inc, ("page", "help"))
    _note(session, inc, "resolved", actor, f"Resolved by {actor.label}" + (f": {text}" if text else "."), now)
    audit.human(session, "incident.resolved", actor, inc, now)
    _publish(session, inc, "resolved", now)
    return Outcome("resolved", f"#{inc.number} resolved.", inc)


# --- the engine's side -----------------------------------------------------------------------
# Each engine entry point locks the row (skipping rows another engine holds) and re-checks that
# the work is still due under the lock: of two engines that both saw a step as due, the second
# finds it already moved on and does nothing.


def fire_due(
    session: Session, incident_ids: list[int], now: datetime, engine: str, cache: FiringCache | None = None
) -> int:
    """Fire the due step of each of these incidents (an engine's chunk: the rows are locked in
    one statement). Returns how many fired."""
    cache = cache or FiringCache()
    fired = 0
    for inc in _try_lock_many(session, incident_ids, skip_locked=True):
        if inc.status != Status.triggered.value or inc.next_escalation_at is None or inc.next_escalation_at > now:
            continue
        if not fire_step(session, inc, now, engine=engine, cache=cache):
            inc.next_escalation_at = None  # nothing left to fire; stop looking at it
        fired += 1
    return fired


def retrigger_due(session: Session, incident_ids: list[int], now: datetime) -> int:
    done = 0
    for inc in _try_lock_many(session, incident_ids, skip_locked=True):
        if inc.status == Status.acknowledged.value and inc.ack_timeout_at and inc.ack_timeout_at <= now:
            retrigger(session, inc, now)
            done += 1
    return done


def breach_due(session: Session, incident_ids: list[int], now: datetime) -> int:
    done = 0
    for inc in _try_lock_many(session, incident_ids, skip_locked=True):
        if inc.status == Status.triggered.value and not inc.sla_breached_at and inc.response_deadline <= now:
            mark_sla_breach(session, inc, now)
            done += 1
    return done


def note_delivery(session: Session, incident_id: int, kind: str, message: str, now: datetime, **data: Any) -> None:
    """A delivery outcome on the incident's timeline (written by the engine after each attempt)."""
    inc = session.get(Incident, incident_id)
    if inc is None:
        return
    # A burst of outcomes is recorded in one transaction: the lines go in at its commit, and the
    # incident (loaded with what its snapshot reads) needs no flush for its event.
    _note(session, inc, kind, Actor.system("notifications"), message, now, at_commit=True, **data)
    _publish(session, inc, "notified", now, flush=False, message=message)

TargetResolver = Callable[[Session, escalation.TargetSpec, datetime], tuple[list[User], str]]


def fire_step(
    session: Session,
    inc: Incident,
    now: datetime,
    *,
    actor: Actor | None = None,
    manual: bool = False,
    engine: str = "",
    cache: FiringCache | None = None,
) -> bool:
    """Fire the incident's next step: resolve its targets, record the firing, plan the pages,
    move the position on. The caller holds the row lock. Returns False when no step is left."""
    from ..notify.plan import plan_pages  # notifications depend on incidents, not the reverse

    cache = cache or FiringCache()
    spec = cache.policy(session, inc.policy_id)
    pos = escalation.Position(inc.esc_loop, inc.esc_step)
    if not spec.steps or pos.step >= len(spec.steps) or pos.loop > spec.repeat:
        return False
    due = inc.next_escalation_at if (not manual and inc.next_escalation_at) else now
    step = spec.steps[pos.step]

    user_ids: list[int] = []
    notes: list[str] = []
    for target in step.targets:
        found, label = cache.target(session, target, now)
        if not found:
            notes.append(f"{label}: nobody on call")
        user_ids += [u for u in found if u not in user_ids]
    users = cache.people(session, user_ids)

    lateness = max(0, int((now - due).total_seconds() * 1000))
    # A plain INSERT, at once: the unique (incident_id, seq) refuses a second firing of this step
    # right here. (Through the ORM it took a flush per incident, most of an engine's CPU in an
    # alert storm; the pages and the incident's new position are flushed once, at commit.)
    firing_id = session.connection().execute(_INSERT_FIRING, {
        "incident_id": inc.id, "seq": inc.esc_seq, "step_index": pos.step, "loop": pos.loop, "due_at": due,
        "fired_at": now, "lateness_ms": lateness, "manual": manual, "engine": engine, "targets": [u.id for u in users],
    }).scalar_one()

    minute = int((due - inc.created_at).total_seconds() // 60)
    label = f"Step {pos.step + 1}" + (f", pass {pos.loop + 1}" if pos.loop else "") + f" (M+{minute})"
    who = actor or Actor.system("escalation")
    if users:
        purpose = "help" if inc.status == Status.acknowledged.value else "page"
        planned = plan_pages(session, inc, firing_id, users, now, purpose)
        unreachable = [u.name for u in users if not any(n.user_id == u.id for n in planned)]
        msg = f"{label}: notifying {', '.join(u.name for u in users)}."
        if manual:
            msg = f"Escalated by hand by {who.label}. " + msg
        if lateness >= 5000:
            msg += f" Fired {lateness // 1000} s late (the engine was not running when it fell due)."
        _note(session, inc, "escalated", who, msg, now, at_commit=True, step=pos.step, loop=pos.loop,
              users=[u.id for u in users], lateness_ms=lateness)
        if unreachable:
            _note(session, inc, "warning", Actor.system("escalation"),
                  f"NOBODY REACHABLE: {', '.join(unreachable)} has no enabled contact method.", now, at_commit=True)
    else:
        _note(session, inc, "step_skipped", who,
              f"{label}: {'; '.join(notes) or 'no targets'}. Going straight to the next step.", now,
              at_commit=True, step=pos.step, loop=pos.loop)

    inc.esc_seq += 1
    nxt = escalation.after(spec, pos, due)
    if nxt is None:
        inc.esc_step, inc.esc_loop = len(spec.steps), spec.repeat + 1
        if inc.status == Status.triggered.value:
            inc.next_escalation_at = None
            _note(session, inc, "exhausted", Actor.system("escalation"),
                  "ESCALATION EXHAUSTED: every step has fired and nobody has acknowledged.", now, at_commit=True)
    else:
        (npos, ndue) = nxt
        inc.esc_step, inc.esc_loop = npos.step, npos.loop
        if inc.status == Status.triggered.value:
            # Skipped step (nobody on call): the next one fires now, not at its usual minute.
            inc.next_escalation_at = ndue if users else now
    # The incident's relationships are loaded (the engine locked it with them) and its new
    # position is in memory: the commit flushes it all, no need to flush per incident here.
    _publish(session, inc, "escalated", now, flush=False, step=pos.step, loop=pos.loop, users=[u.name for u in users])
    return True


@dataclass(frozen=True)
class Person:
    """Who a page is for, and how to reach them: plain data, safe to keep across sessions."""

    id: int
    name: str
    rules: tuple[tuple[str, str, int], ...]  # (urgency, channel kind, delay minutes)
    methods: tuple[tuple[int, str], ...]  # enabled contact methods: (id, kind)


class FiringCache:
    """What an engine tick reads again and again: policies, and how to reach people. The engine
    makes a fresh one every tick, so nothing here is older than one tick."""

    def __init__(self) -> None:
        self._policies: dict[int | None, escalation.PolicySpec] = {}
        self._people: dict[int, Person] = {}
        self._targets: dict[tuple[escalation.TargetSpec, datetime], tuple[list[int], str]] = {}

    def target(self, session: Session, target: escalation.TargetSpec, now: datetime) -> tuple[list[int], str]:
        """Who a step target means at `now` (an alert storm asks about the same layer a hundred
        times in one tick)."""
        from ..oncall import resolve_target

        key = (target, now)
        if key not in self._targets:
            self._targets[key] = resolve_target(session, target, now)
        return self._targets[key]

    def policy(self, session: Session, policy_id: int | None) -> escalation.PolicySpec:
        if policy_id not in self._policies:
            self._policies[policy_id] = _load_policy(session, policy_id)
        return self._policies[policy_id]

    def people(self, session: Session, ids: list[int]) -> list[Person]:
        missing = [i for i in ids if i not in self._people]
        if missing:
            rows = session.execute(
                select(User).where(User.id.in_(missing), User.active)
                .options(selectinload(User.notification_rules), selectinload(User.contact_methods))
            ).scalars()
            for u in rows:
                self._people[u.id] = Person(
                    u.id, u.name,
                    tuple((r.urgency, r.kind, r.delay_minutes) for r in u.notification_rules),
                    tuple((m.id, m.kind) for m in u.contact_methods if m.enabled),
                )
        return [self._people[i] for i in ids if i in self._people]


def _load_policy(session: Session, policy_id: int | None) -> escalation.PolicySpec:
    policy = session.execute(
        select(EscalationPolicy).where(EscalationPolicy.id == policy_id)
        .options(selectinload(EscalationPolicy.steps).selectinload(EscalationStep.targets))
    ).scalar_one_or_none() if policy_id else None
    if policy is not None:
        return escalation.PolicySpec.from_model(policy)
    # No policy (deleted, or a service set up without one): never page nobody. Every manager and
    # admin is paged, every 30 minutes, until someone answers.
    staff = session.execute(
        select(User.id).where(User.role.in_([Role.manager.value, Role.admin.value]), User.active)
    ).scalars().all()
    targets = tuple(escalation.TargetSpec("user", uid) for uid in staff)
    return escalation.PolicySpec((escalation.StepSpec(30, targets),), repeat=8)


def retrigger(session: Session, inc: Incident, now: datetime) -> None:
    """The acknowledgement timed out without a resolution: start escalating again from step 1."""
    who = inc.acknowledged_by.name if inc.acknowledged_by else "someone"
    minutes = inc.policy.ack_timeout_minutes if inc.policy else None
    inc.status = Status.triggered.value
    inc.ack_timeout_at = None
    inc.esc_step, inc.esc_loop = 0, 0
    inc.next_escalation_at = now
    _note(session, inc, "retriggered", Actor.system("escalation"),
          f"Acknowledged by {who} but not resolved within {minutes} minutes: escalating again.", now)
    _publish(session, inc, "retriggered", now)


def mark_sla_breach(session: Session, inc: Incident, now: datetime) -> None:
    inc.sla_breached_at = now
    _note(session, inc, "sla_breached", Actor.system("escalation"),
          f"RESPONSE DEADLINE MISSED: nobody responded by {_fmt(inc.response_deadline)}.", now)
    _publish(session, inc, "sla_breached", now)
