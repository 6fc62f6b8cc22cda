"""What people do to an incident: acknowledge, claim a responder slot, escalate now, log an action,
hand over, resolve; each at most once per operation id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import audit
from ..clients import handover
from ..errors import ActionError
from ..models import Incident, Operation, Status, User
from ..notify import client_mail
from .firing import fire_step
from .record import (
    Actor,
    Outcome,
    checked_text,
    lock,
    mark_responded,
    note,
    publish,
    stop_escalation,
    try_lock,
    utc_hhmm,
)


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
    if try_lock(session, incident_id, skip_locked=False) is None:
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
        inc = lock(session, incident_id, actor)
        if inc.status == Status.resolved.value:
            who = f" by {inc.resolved_by.name}" if inc.resolved_by else ""
            return Outcome("already_resolved", f"#{inc.number} was already resolved{who} at {utc_hhmm(inc.resolved_at or now)}.", inc, 409)
        if inc.status == Status.handed_over.value:
            return Outcome("handed_over", f"#{inc.number} was handed over to the client's team.", inc, 409)
        if inc.status == Status.acknowledged.value:
            if actor.user is not None and inc.acknowledged_by_id == actor.user.id:
                return Outcome("already_acknowledged", f"You had already acknowledged #{inc.number}.", inc)
            who = inc.acknowledged_by.name if inc.acknowledged_by else "an integration"
            return Outcome("acknowledged_by_other",
                           f"#{inc.number} was already acknowledged by {who} at {utc_hhmm(inc.acknowledged_at or now)}.",
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
        mark_responded(inc, now)
    if inc.policy and inc.policy.ack_timeout_minutes:
        inc.ack_timeout_at = now + timedelta(minutes=inc.policy.ack_timeout_minutes)
    stop_escalation(session, inc)
    note(session, inc, "acknowledged", actor, f"Acknowledged by {actor.label}{how}.", now)
    publish(session, inc, "acknowledged", now)
    if inc.source == "email" and actor.user is not None:  # the client who wrote is told someone is on it
        client_mail.acknowledged(session, inc, now)


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
        inc = lock(session, incident_id, actor)
        if inc.client.tier != "1h":
            # Two responders belong to dual on-call (the 1-hour tier); a 4-hour incident has one
            # engineer, who acknowledges it.
            raise ActionError(f"#{inc.number} is a single-engineer (4-hour) incident: it has no responder slots; "
                              "acknowledge it instead", 409)
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
        mark_responded(inc, now)
        note(session, inc, "claimed", actor, f"{user.name} took slot #{n}.", now, slot=n)
        audit.human(session, "incident.claimed", actor, inc, now, slot=n)
        if inc.status == Status.triggered.value:
            # Claiming means someone is on it: that is an acknowledgement, and stops escalation.
            _acknowledge(session, inc, actor, now, how=f" by claiming slot #{n}")
        session.flush()
        session.refresh(inc)
        publish(session, inc, "claimed", now, slot=n)
        return Outcome("claimed", f"You hold slot #{n} of #{inc.number}.", inc)

    return run_once(session, op_id, user, f"claim{n}", incident_id, act, now)


def escalate_now(session: Session, incident_id: int, actor: Actor, now: datetime, *, engine: str = "") -> Outcome:
    """Fire the next step at once (a human asking for help, or "escalate" from the phone)."""
    inc = lock(session, incident_id, actor)
    if inc.status not in (Status.triggered.value, Status.acknowledged.value):
        raise ActionError(f"#{inc.number} is {inc.status.replace('_', ' ')}: nothing to escalate", 409)
    fired = fire_step(session, inc, now, actor=actor, manual=True, engine=engine)
    if not fired:
        raise ActionError(f"#{inc.number} has no escalation step left", 409)
    audit.human(session, "incident.escalated", actor, inc, now)
    return Outcome("escalated", f"#{inc.number} escalated.", inc)


def log_action(session: Session, incident_id: int, actor: Actor, text: Any, now: datetime) -> Outcome:
    body = checked_text(text, "text")
    inc = lock(session, incident_id, actor)
    note(session, inc, "action", actor, body, now)
    publish(session, inc, "action_logged", now, text=body, by=actor.label)
    return Outcome("logged", "Action logged.", inc)


def hand_over(session: Session, incident_id: int, actor: Actor, reason: Any, now: datetime) -> Outcome:
    """An application bug belongs to the client's own team: we stop escalating and say why."""
    why = checked_text(reason, "reason")
    inc = lock(session, incident_id, actor)
    if inc.status not in (Status.triggered.value, Status.acknowledged.value):
        raise ActionError(f"#{inc.number} is {inc.status.replace('_', ' ')}: it cannot be handed over", 409)
    inc.status = Status.handed_over.value
    inc.handed_over_at = now
    inc.handover_reason = why
    mark_responded(inc, now)
    stop_escalation(session, inc, ("page", "help"))
    note(session, inc, "handed_over", actor, f"Handed over to {inc.client.name}'s team: {why}", now)
    handover.start(session, inc, actor.user, why, now)  # tells the client's contact chain, in order
    audit.human(session, "incident.handed_over", actor, inc, now)
    publish(session, inc, "handed_over", now, reason=why)
    return Outcome("handed_over", f"#{inc.number} handed over to the client's team.", inc)


def resolve(session: Session, incident_id: int, actor: Actor, summary: Any, now: datetime) -> Outcome:
    text = checked_text(summary, "summary", required=actor.user is not None)
    inc = lock(session, incident_id, actor)
    if inc.status == Status.resolved.value:
        who = f" by {inc.resolved_by.name}" if inc.resolved_by else ""
        return Outcome("already_resolved", f"#{inc.number} was already resolved{who}.", inc, 409)
    inc.status = Status.resolved.value
    inc.resolved_at = now
    inc.resolved_by_id = actor.user.id if actor.user else None
    inc.resolution_summary = text or None
    inc.ack_timeout_at = None
    if actor.user is not None:
        mark_responded(inc, now)
    stop_escalation(session, inc, ("page", "help"))
    note(session, inc, "resolved", actor, f"Resolved by {actor.label}" + (f": {text}" if text else "."), now)
    audit.human(session, "incident.resolved", actor, inc, now)
    publish(session, inc, "resolved", now)
    if inc.source == "email":  # the client who wrote gets the summary
        client_mail.resolved(session, inc, now)
    return Outcome("resolved", f"#{inc.number} resolved.", inc)


def reopen(session: Session, incident_id: int, actor: Actor, why: str, now: datetime) -> Outcome:
    """A resolved incident is open again (a client's reply within the reopen window): it escalates
    from the first step, with a new response deadline. The timeline's "reopened" entry keeps what
    the first round was (reports count reopened incidents from it)."""
    inc = lock(session, incident_id, actor)
    if inc.status != Status.resolved.value:
        return Outcome("not_resolved", f"#{inc.number} is not resolved.", inc, 409)
    before = {"resolved_at": _iso(inc.resolved_at), "responded_at": _iso(inc.responded_at),
              "sla_breached_at": _iso(inc.sla_breached_at), "response_deadline": _iso(inc.response_deadline)}
    minutes = inc.policy.response_minutes if inc.policy else 60
    inc.status = Status.triggered.value
    inc.resolved_at = inc.resolved_by_id = inc.resolution_summary = None
    inc.acknowledged_at = inc.acknowledged_by_id = inc.ack_timeout_at = None
    inc.responded_at = inc.sla_breached_at = None
    inc.response_deadline = now + timedelta(minutes=minutes)
    inc.esc_step, inc.esc_loop, inc.next_escalation_at = 0, 0, now
    inc.last_alert_at = now
    note(session, inc, "reopened", actor, f"Reopened: {why}", now, previous=before)
    publish(session, inc, "reopened", now, reason=why)
    return Outcome("reopened", f"#{inc.number} reopened.", inc)


def write_to_client(session: Session, incident_id: int, actor: Actor, text: Any, now: datetime,
                    *, reply_domain: str = "") -> Outcome:
    """An engineer writes to the client from the incident screen; the answer threads back here."""
    body = checked_text(text, "text")
    inc = lock(session, incident_id, actor)
    to = client_mail.write(session, inc, actor.label, body, now, reply_domain=reply_domain)
    if to is None:
        raise ActionError(f"#{inc.number} has nobody to write to: it did not come by e-mail and "
                          f"{inc.client.name} has no hand-over address", 409)
    note(session, inc, "client_mail_out", actor, f"Wrote to {to}: {body}", now, to=to)
    publish(session, inc, "client_mailed", now, to=to)
    return Outcome("sent", f"Your message to {to} is on its way.", inc, data={"to": to})


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None
