"""What is due, and when: pure functions of (policy, position, instant).

A policy is a list of steps. Step n notifies its targets in parallel, then waits
`delay_minutes` before step n+1; after the last step the policy starts over, `repeat` more times.
So the 4-hour preset (delays 30, 30, 30) fires at M+0, M+30, M+60, then M+90, ...

Each next due time is computed from the previous step's *due* time, never from when it actually
fired: an engine that was down for ten minutes fires the late step at once and the following
step still falls at its contractual minute, so lateness never accumulates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models import EscalationPolicy


@dataclass(frozen=True)
class TargetSpec:
    kind: str  # "user" | "layer"
    id: int


@dataclass(frozen=True)
class StepSpec:
    delay_minutes: int
    targets: tuple[TargetSpec, ...]


@dataclass(frozen=True)
class PolicySpec:
    steps: tuple[StepSpec, ...]
    repeat: int = 0
    response_minutes: int = 240
    ack_timeout_minutes: int | None = None

    @classmethod
    def from_model(cls, policy: EscalationPolicy) -> PolicySpec:
        return cls(
            steps=tuple(
                StepSpec(
                    s.delay_minutes,
                    tuple(
                        TargetSpec(t.kind, t.user_id if t.kind == "user" else t.layer_id or 0)
                        for t in s.targets
                    ),
                )
                for s in policy.steps
            ),
            repeat=policy.repeat,
            response_minutes=policy.response_minutes,
            ack_timeout_minutes=policy.ack_timeout_minutes,
        )


@dataclass(frozen=True, order=True)
class Position:
    loop: int  # which pass over the policy (0 = first)
    step: int  # index of the step


def first(policy: PolicySpec, start: datetime) -> tuple[Position, datetime] | None:
    """The first step and when it is due (at `start`: M+0)."""
    if not policy.steps:
        return None
    return Position(0, 0), start


def after(policy: PolicySpec, pos: Position, due_at: datetime) -> tuple[Position, datetime] | None:
    """The step that follows `pos` (due at `due_at`), or None when the policy is exhausted."""
    delay = timedelta(minutes=policy.steps[pos.step].delay_minutes)
    step, loop = pos.step + 1, pos.loop
    if step >= len(policy.steps):
        step, loop = 0, loop + 1
    if loop > policy.repeat:
        return None
    return Position(loop, step), due_at + delay


def plan(policy: PolicySpec, start: datetime) -> list[tuple[Position, datetime]]:
    """Every step the policy will fire if nobody acknowledges, in order."""
    out: list[tuple[Position, datetime]] = []
    nxt = first(policy, start)
    while nxt is not None:
        out.append(nxt)
        nxt = after(policy, *nxt)
    return out


def validate(policy: PolicySpec) -> list[str]:
    """Problems that make a policy unable to keep the promise; empty when it is fine."""
    errors = []
    if not policy.steps:
        errors.append("a policy needs at least one step")
    for i, step in enumerate(policy.steps):
        if not step.targets:
            errors.append(f"step {i + 1} has no targets")
        if not 0 <= step.delay_minutes <= 24 * 60:
            errors.append(f"step {i + 1}: delay must be between 0 and 1440 minutes")
        if step.delay_minutes == 0 and i == len(policy.steps) - 1 and policy.repeat:
            errors.append("the last step of a repeating policy needs a delay above 0")
    if not 0 <= policy.repeat <= 20:
        errors.append("repeat must be between 0 and 20")
    if not 1 <= policy.response_minutes <= 7 * 24 * 60:
        errors.append("the response deadline must be between 1 minute and 7 days")
    if policy.ack_timeout_minutes is not None and not 1 <= policy.ack_timeout_minutes <= 7 * 24 * 60:
        errors.append("the acknowledgement timeout must be between 1 minute and 7 days")
    return errors
