"""Who is on call and whether a client is covered, at an instant, read from the database.

Thin wrappers: the decisions themselves are pure functions in coverage.py and schedules.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from .incidents.escalation import TargetSpec
from .intake.keys import IntakeTarget
from .models import User


@dataclass(frozen=True)
class CoverageDecision:
    hold_until: datetime | None = None  # escalate only from then on
    urgency: str | None = None  # override the alert's urgency
    message: str | None = None  # for the timeline


def coverage_decision(client: IntakeTarget, now: datetime) -> CoverageDecision:
    spec = client.coverage or {"kind": "always"}
    if spec.get("kind", "always") == "always":
        return CoverageDecision()
    from .schedules.coverage import Coverage, covers, next_start

    cov = Coverage.from_dict({"tz": client.timezone, **spec})
    if covers(cov, now):
        return CoverageDecision()
    start = next_start(cov, now)
    if client.out_of_coverage == "low_urgency" or start is None:
        return CoverageDecision(
            urgency="low",
            message=f"Outside {client.client_name}'s coverage hours: notifying at low urgency.",
        )
    local = start.astimezone(ZoneInfo(cov.tz)).strftime("%a %d %b %H:%M %Z")
    return CoverageDecision(
        hold_until=start,
        message=f"Outside {client.client_name}'s coverage hours: held, and escalated when coverage starts ({local}).",
    )


def resolve_target(session: Session, target: TargetSpec, now: datetime) -> tuple[list[int], str]:
    """The ids of the people a step target means at `now`, and a label for the timeline."""
    if target.kind == "user":
        user = session.get(User, target.id)
        if user is None or not user.active:
            return [], f"user #{target.id} (inactive or removed)"
        return [user.id], user.name
    if target.kind == "layer":
        from .schedules.rosters import layer_oncall

        return layer_oncall(session, target.id, now)
    return [], f"unknown target kind {target.kind!r}"
