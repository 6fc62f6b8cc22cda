"""The engine's side of an incident: fire the escalation steps that are due, re-trigger timed-out
acknowledgements, mark missed response deadlines, note deliveries on the timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from ..models import EscalationPolicy, EscalationStep, Incident, Role, Status, StepFiring, User
from ..notify.plan import Recipient, plan_pages, recipient
from ..schedules.rosters import layer_oncall
from . import escalation
from .record import Actor, note, publish, try_lock_many, utc_hhmm

# Each engine entry point locks the row (skipping rows another engine holds) and re-checks that
# the work is still due under the lock: of two engines that both saw a step as due, the second
# finds it already moved on and does nothing.

_INSERT_FIRING = insert(StepFiring.__table__).returning(StepFiring.__table__.c.id)


def fire_due(
    session: Session, incident_ids: list[int], now: datetime, engine: str, cache: FiringCache | None = None
) -> int:
    """Fire the due step of each of these incidents (an engine's chunk: the rows are locked in
    one statement). Returns how many fired."""
    cache = cache or FiringCache()
    fired = 0
    for inc in try_lock_many(session, incident_ids, skip_locked=True):
        if inc.status != Status.triggered.value or inc.next_escalation_at is None or inc.next_escalation_at > now:
            continue
        if not fire_step(session, inc, now, engine=engine, cache=cache):
            inc.next_escalation_at = None  # nothing left to fire; stop looking at it
        fired += 1
    return fired


def retrigger_due(session: Session, incident_ids: list[int], now: datetime) -> int:
    done = 0
    for inc in try_lock_many(session, incident_ids, skip_locked=True):
        if inc.status == Status.acknowledged.value and inc.ack_timeout_at and inc.ack_timeout_at <= now:
            retrigger(session, inc, now)
            done += 1
    return done


def breach_due(session: Session, incident_ids: list[int], now: datetime) -> int:
    done = 0
    for inc in try_lock_many(session, incident_ids, skip_locked=True):
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
    note(session, inc, kind, Actor.system("notifications"), message, now, at_commit=True, **data)
    publish(session, inc, "notified", now, flush=False, message=message)


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
    cache = cache or FiringCache()
    spec = cache.policy(session, inc.policy_id)
    pos = escalation.Position(inc.esc_loop, inc.esc_step)
    if not spec.steps or pos.step >= len(spec.steps) or pos.loop > spec.repeat:
        return False
    due = inc.next_escalation_at if (not manual and inc.next_escalation_at) else now
    step = spec.steps[pos.step]

    user_ids: list[int] = []
    notes: list[str] = []
    why: list[str] = []
    for target in step.targets:
        found, label = cache.target(session, target, now)
        if not found:
            notes.append(f"{label}: nobody on call")
        elif len(found) > 1:
            why.append(label)  # a layer held by two (an outgoing engineer kept responsible): say so
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
        unreachable = [u.name for u in users if u.id not in planned]
        msg = f"{label}: notifying {', '.join(u.name for u in users)}" + (f" ({'; '.join(why)})." if why else ".")
        if manual:
            msg = f"Escalated by hand by {who.label}. " + msg
        if lateness >= 5000:
            msg += f" Fired {lateness // 1000} s late (the engine was not running when it fell due)."
        note(session, inc, "escalated", who, msg, now, at_commit=True, step=pos.step, loop=pos.loop,
              users=[u.id for u in users], lateness_ms=lateness)
        if unreachable:
            note(session, inc, "warning", Actor.system("escalation"),
                  f"NOBODY REACHABLE: {', '.join(unreachable)} has no enabled contact method.", now, at_commit=True)
    else:
        note(session, inc, "step_skipped", who,
              f"{label}: {'; '.join(notes) or 'no targets'}. Going straight to the next step.", now,
              at_commit=True, step=pos.step, loop=pos.loop)

    inc.esc_seq += 1
    nxt = escalation.after(spec, pos, due)
    if nxt is None:
        inc.esc_step, inc.esc_loop = len(spec.steps), spec.repeat + 1
        if inc.status == Status.triggered.value:
            inc.next_escalation_at = None
            note(session, inc, "exhausted", Actor.system("escalation"),
                  "ESCALATION EXHAUSTED: every step has fired and nobody has acknowledged.", now, at_commit=True)
    else:
        (npos, ndue) = nxt
        inc.esc_step, inc.esc_loop = npos.step, npos.loop
        if inc.status == Status.triggered.value:
            # Skipped step (nobody on call): the next one fires now, not at its usual minute.
            inc.next_escalation_at = ndue if users else now
    # The incident's relationships are loaded (the engine locked it with them) and its new
    # position is in memory: the commit flushes it all, no need to flush per incident here.
    publish(session, inc, "escalated", now, flush=False, step=pos.step, loop=pos.loop, users=[u.name for u in users])
    return True


def resolve_target(session: Session, target: escalation.TargetSpec, now: datetime) -> tuple[list[int], str]:
    """The ids of the people a step target means at `now`, and a label for the timeline."""
    if target.kind == "user":
        user = session.get(User, target.id)
        if user is None or not user.active:
            return [], f"user #{target.id} (inactive or removed)"
        return [user.id], user.name
    if target.kind == "layer":
        return layer_oncall(session, target.id, now)
    return [], f"unknown target kind {target.kind!r}"


class FiringCache:
    """What an engine tick reads again and again: policies, and how to reach people. The engine
    makes a fresh one every tick, so nothing here is older than one tick."""

    def __init__(self) -> None:
        self._policies: dict[int | None, escalation.PolicySpec] = {}
        self._people: dict[int, Recipient] = {}
        self._targets: dict[tuple[escalation.TargetSpec, datetime], tuple[list[int], str]] = {}

    def target(self, session: Session, target: escalation.TargetSpec, now: datetime) -> tuple[list[int], str]:
        """Who a step target means at `now` (an alert storm asks about the same layer a hundred
        times in one tick)."""
        key = (target, now)
        if key not in self._targets:
            self._targets[key] = resolve_target(session, target, now)
        return self._targets[key]

    def policy(self, session: Session, policy_id: int | None) -> escalation.PolicySpec:
        if policy_id not in self._policies:
            self._policies[policy_id] = _load_policy(session, policy_id)
        return self._policies[policy_id]

    def people(self, session: Session, ids: list[int]) -> list[Recipient]:
        missing = [i for i in ids if i not in self._people]
        if missing:
            rows = session.execute(
                select(User).where(User.id.in_(missing), User.active)
                .options(selectinload(User.notification_rules), selectinload(User.contact_methods))
            ).scalars()
            for u in rows:
                self._people[u.id] = recipient(u)
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
    note(session, inc, "retriggered", Actor.system("escalation"),
          f"Acknowledged by {who} but not resolved within {minutes} minutes: escalating again.", now)
    publish(session, inc, "retriggered", now)


def mark_sla_breach(session: Session, inc: Incident, now: datetime) -> None:
    inc.sla_breached_at = now
    note(session, inc, "sla_breached", Actor.system("escalation"),
          f"RESPONSE DEADLINE MISSED: nobody responded by {utc_hhmm(inc.response_deadline)}.", now)
    publish(session, inc, "sla_breached", now)
