"""Escalation policies as data, the two presets that match the contract tiers, and changing an
existing policy (the manager's policy screen)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from .. import audit
from ..errors import EditError
from ..models import (
    OPEN_STATUSES,
    Client,
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
    Incident,
    ScheduleLayer,
    Service,
    User,
)
from . import escalation


@dataclass(frozen=True)
class Preset:
    tier: str
    title: str
    response_minutes: int
    # Which role each step notifies; the caller says who (or which schedule layer) plays it.
    steps: tuple[tuple[int, tuple[str, ...]], ...]  # (delay after this step, roles)
    repeat: int = 2

    @property
    def roles(self) -> list[str]:
        """The roles its steps name, in order of first appearance."""
        return list(dict.fromkeys(r for _, rs in self.steps for r in rs))


PRESETS = {
    # 4-hour SLA: M+0 the on-call engineer, M+30 the same engineer again, M+60 the team lead.
    # Two more passes keep paging until the 4-hour deadline (M+90 ... M+240).
    "4h": Preset("4h", "4-hour SLA", 240, ((30, ("primary",)), (30, ("primary",)), (30, ("lead",)))),
    # 1-hour SLA, dual on-call: M+0 engineer #1, M+30 engineer #2 as well, M+60 the manager.
    "1h": Preset("1h", "1-hour SLA, dual on-call", 60, ((30, ("primary",)), (30, ("secondary",)), (30, ("manager",)))),
}


@dataclass(frozen=True)
class StepInput:
    delay_minutes: int
    targets: tuple[escalation.TargetSpec, ...]


class PolicyError(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def create(
    session: Session,
    name: str,
    steps: list[StepInput],
    *,
    now: datetime,
    repeat: int = 0,
    response_minutes: int = 240,
    ack_timeout_minutes: int | None = None,
    preset: str | None = None,
) -> EscalationPolicy:
    spec = escalation.PolicySpec(
        tuple(escalation.StepSpec(s.delay_minutes, s.targets) for s in steps),
        repeat,
        response_minutes,
        ack_timeout_minutes,
    )
    errors = escalation.validate(spec)
    name = name.strip()
    if not name:
        errors.insert(0, "a policy needs a name")
    elif len(name) > 200:
        errors.insert(0, "a policy name is at most 200 characters")
    elif session.execute(select(EscalationPolicy.id).where(EscalationPolicy.name == name)).scalar() is not None:
        errors.insert(0, f"a policy called {name!r} already exists")
    errors += _unknown_targets(session, steps)
    if errors:
        raise PolicyError(errors)
    policy = EscalationPolicy(
        name=name,
        preset=preset,
        repeat=repeat,
        response_minutes=response_minutes,
        ack_timeout_minutes=ack_timeout_minutes,
        created_at=now,
    )
    for i, s in enumerate(steps):
        step = EscalationStep(position=i, delay_minutes=s.delay_minutes)
        for t in s.targets:
            step.targets.append(
                EscalationTarget(
                    kind=t.kind,
                    user_id=t.id if t.kind == "user" else None,
                    layer_id=t.id if t.kind == "layer" else None,
                )
            )
        policy.steps.append(step)
    session.add(policy)
    return policy


def _unknown_targets(session: Session, steps: list[StepInput]) -> list[str]:
    """Targets naming no user or layer (a stale or forged form): refused, not a broken row."""
    wanted = {(t.kind, t.id) for s in steps for t in s.targets}
    known = set()
    for kind, model in (("user", User), ("layer", ScheduleLayer)):
        ids = [i for k, i in wanted if k == kind and 0 < i <= 2**31 - 1]
        if ids:
            known |= {(kind, i) for i in session.execute(select(model.id).where(model.id.in_(ids))).scalars()}
    return [f"unknown {kind} {ident}" for kind, ident in sorted(wanted - known)]


def create_preset(
    session: Session,
    tier: str,
    name: str,
    roles: dict[str, escalation.TargetSpec],
    *,
    now: datetime,
) -> EscalationPolicy:
    """Build a policy from a tier preset. `roles` says who plays primary/secondary/lead/manager,
    e.g. {"primary": TargetSpec("layer", 3), "lead": TargetSpec("user", 7)}."""
    preset = PRESETS[tier]
    missing = sorted({r for _, rs in preset.steps for r in rs} - roles.keys())
    if missing:
        raise PolicyError([f"the {preset.title} preset needs a target for: {', '.join(missing)}"])
    steps = [StepInput(delay, tuple(roles[r] for r in rs)) for delay, rs in preset.steps]
    return create(
        session, name, steps, now=now, repeat=preset.repeat,
        response_minutes=preset.response_minutes, preset=tier,
    )


# --- changing what exists (the manager's policy screen) ------------------------------------


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
    open_ones = session.execute(select(func.count()).select_from(Incident).where(
        Incident.policy_id == policy.id, Incident.status.in_(OPEN_STATUSES))).scalar() or 0
    if open_ones:
        used.append(f"{open_ones} open incident{'s' if open_ones > 1 else ''}")
    if used:
        raise EditError(f"{policy.name} is in use by {', '.join(used)}: give them another policy first")
    audit.record(session, "policy.deleted", actor=actor, at=now, target=f"policy:{policy.id}", name=policy.name)
    session.delete(policy)
    session.flush()


def policies_paging(session: Session, user: User) -> list[str]:
    """The policies that page this person by name (a deactivated person is skipped by them)."""
    q = (select(EscalationPolicy.name).join(EscalationStep, EscalationStep.policy_id == EscalationPolicy.id)
         .join(EscalationTarget, EscalationTarget.step_id == EscalationStep.id)
         .where(or_(EscalationTarget.user_id == user.id)).distinct().order_by(EscalationPolicy.name))
    return list(session.execute(q).scalars())
