"""Changing what exists: an escalation policy (its name, deadline and steps) and a person (their
details, role, and whether they may log in and be paged). Service functions with validation; a
refusal raises EditError with a message fit for a form. Both are audited."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from . import audit, escalation, logins
from .auth import EMAIL_RE, PHONE_RE
from .models import Client, EscalationPolicy, EscalationStep, EscalationTarget, Role, Service, User
from .policies import StepInput


class EditError(ValueError):
    pass


def users_of(session: Session, policy: EscalationPolicy) -> list[str]:
    """What uses this policy: client names and "client / service" names."""
    clients = session.execute(select(Client.name).where(Client.policy_id == policy.id).order_by(Client.name)).scalars().all()
    services = session.execute(
        select(Client.name, Service.name).join(Client, Service.client_id == Client.id)
        .where(Service.policy_id == policy.id).order_by(Client.name, Service.name)).all()
    return [*clients, *(f"{c} / {s}" for c, s in services)]


def update_policy(session: Session, actor: User, policy: EscalationPolicy, *, name: str, steps: list[StepInput],
                  repeat: int, response_minutes: int, ack_timeout_minutes: int | None, now: datetime) -> EscalationPolicy:
    """Replace a policy's settings and steps. An incident escalating under it takes the new steps
    from its next one on."""
    spec = escalation.PolicySpec(tuple(escalation.StepSpec(s.delay_minutes, s.targets) for s in steps), repeat,
                                 response_minutes, ack_timeout_minutes)
    errors = escalation.validate(spec)
    name = (name or "").strip()
    if not name:
        errors.insert(0, "a policy needs a name")
    elif session.execute(select(EscalationPolicy.id).where(EscalationPolicy.name == name,
                                                             EscalationPolicy.id != policy.id)).first():
        errors.insert(0, f"another policy is already called {name!r}")
    if errors:
        raise EditError("; ".join(errors))
    policy.name, policy.repeat = name, repeat
    policy.response_minutes, policy.ack_timeout_minutes = response_minutes, ack_timeout_minutes
    policy.steps.clear()
    session.flush()
    for i, s in enumerate(steps):
        step = EscalationStep(position=i, delay_minutes=s.delay_minutes)
        for t in s.targets:
            step.targets.append(EscalationTarget(kind=t.kind, user_id=t.id if t.kind == "user" else None,
                                                 layer_id=t.id if t.kind == "layer" else None))
        policy.steps.append(step)
    session.flush()
    audit.record(session, "policy.updated", actor=actor, at=now, target=f"policy:{policy.id}", name=name)
    return policy


def delete_policy(session: Session, actor: User, policy: EscalationPolicy, now: datetime) -> None:
    used = users_of(session, policy)
    from .models import OPEN_STATUSES, Incident

    open_ones = session.execute(select(func.count()).select_from(Incident).where(
        Incident.policy_id == policy.id, Incident.status.in_(OPEN_STATUSES))).scalar() or 0
    if open_ones:
        used.append(f"{open_ones} open incident{'s' if open_ones > 1 else ''}")
    if used:
        raise EditError(f"{policy.name} is in use by {', '.join(used)}: give them another policy first")
    audit.record(session, "policy.deleted", actor=actor, at=now, target=f"policy:{policy.id}", name=policy.name)
    session.delete(policy)
    session.flush()


def update_user(session: Session, actor: User, user: User, *, name: str, email: str, role: str, phone: str | None,
                client_id: int | None, now: datetime) -> User:
    if user.has_role(Role.admin) and not actor.has_role(Role.admin):
        raise EditError("only an admin can change an admin")
    if role == Role.admin.value and not actor.has_role(Role.admin):
        raise EditError("only an admin can make someone an admin")
    if role not in {r.value for r in Role}:
        raise EditError(f"the role must be one of {', '.join(r.value.replace('_', ' ') for r in Role)}")
    if user.id == actor.id and role != user.role:
        raise EditError("you cannot change your own role: ask another admin")
    name, email = (name or "").strip(), (email or "").strip().lower()
    if not name:
        raise EditError("a name is required")
    if not EMAIL_RE.match(email):
        raise EditError("that is not an e-mail address")
    if session.execute(select(User.id).where(func.lower(User.email) == email, User.id != user.id)).first():
        raise EditError("another person already has that e-mail")
    phone = re.sub(r"[\s().-]", "", phone or "") or None
    if phone and not PHONE_RE.match(phone):
        raise EditError("the phone number must be in international form, like +33612345678")
    if role == Role.client_viewer.value and client_id is None:
        raise EditError("a client viewer belongs to a client: choose it")
    user.name, user.email, user.role, user.phone = name, email, role, phone
    user.client_id = client_id if role == Role.client_viewer.value else None
    session.flush()
    audit.record(session, "user.updated", actor=actor, at=now, target=f"user:{user.id}", user=user.email)
    return user


def set_active(session: Session, actor: User, user: User, active: bool, now: datetime) -> None:
    """Deactivate (cannot log in, is never paged, every session ends; the history keeps the
    name) or reactivate a person."""
    if user.id == actor.id:
        raise EditError("you cannot deactivate yourself")
    if user.has_role(Role.admin) and not actor.has_role(Role.admin):
        raise EditError("only an admin can deactivate an admin")
    if user.active == active:
        return
    user.active = active
    if not active:
        user.session_version += 1
        logins.end_all_sessions(session, user, now)
    audit.record(session, "user.deactivated" if not active else "user.reactivated", actor=actor, at=now,
                 target=f"user:{user.id}", user=user.email)


def policies_paging(session: Session, user: User) -> list[str]:
    """The policies that page this person by name (a deactivated person is skipped by them)."""
    q = (select(EscalationPolicy.name).join(EscalationStep, EscalationStep.policy_id == EscalationPolicy.id)
         .join(EscalationTarget, EscalationTarget.step_id == EscalationStep.id)
         .where(or_(EscalationTarget.user_id == user.id)).distinct().order_by(EscalationPolicy.name))
    return list(session.execute(q).scalars())
