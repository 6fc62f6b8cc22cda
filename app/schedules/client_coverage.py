"""A client's coverage hours and what happens to an alert outside them (managers edit these).

The decision at intake is coverage_decision; the rest validates and stores the settings, and
says them in words."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ..access import require_manager
from ..db import is_id
from ..errors import ActionError
from ..intake.keys import IntakeTarget, forget_cached_keys
from ..live import events
from ..models import Client, User
from .coverage import Coverage, covers, next_start

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CHOICES = {"hold": "held, and escalated when coverage starts", "low_urgency": "notified at once, at low urgency"}


@dataclass(frozen=True)
class CoverageDecision:
    hold_until: datetime | None = None  # escalate only from then on
    urgency: str | None = None  # override the alert's urgency
    message: str | None = None  # for the timeline


def coverage_decision(client: IntakeTarget, now: datetime) -> CoverageDecision:
    """Whether a new incident pages now: held during a maintenance window that holds pages (until
    it ends), held or at low urgency outside coverage hours, else as usual. One decision: a
    window that ends inside coverage hours escalates then; a window that lets pages through
    leaves coverage hours to decide."""
    window = next((w for w in client.maintenance if w.covers(client.service_id, now)), None)
    if window is not None and window.hold:
        local = window.ends_at.astimezone(ZoneInfo(client.timezone)).strftime("%a %d %b %H:%M %Z")
        return CoverageDecision(
            hold_until=window.ends_at,
            message=f"During the maintenance window \u201c{window.title}\u201d: recorded, not paged; escalated when "
                    f"the window ends ({local}) if still open.",
        )
    decision = _hours_decision(client, now)
    if window is not None:
        said = f"During the maintenance window \u201c{window.title}\u201d, which lets pages through."
        return CoverageDecision(decision.hold_until, decision.urgency, f"{said} {decision.message or ''}".strip())
    return decision


def _hours_decision(client: IntakeTarget, now: datetime) -> CoverageDecision:
    spec = client.coverage or {"kind": "always"}
    if spec.get("kind", "always") == "always":
        return CoverageDecision()
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


def spec_from_form(form: Any) -> dict[str, Any]:
    """The coverage dict from a form's fields (kind, day_start, day_end, workdays, holidays,
    start, end, days; the day lists are checkboxes, read with getlist)."""
    kind = form.get("kind", "always")

    def days(name: str) -> list[int]:
        return [int(d) for d in form.getlist(name) if str(d).isdecimal()]

    if kind == "after_hours":
        return {"kind": kind, "day_start": form.get("day_start", ""), "day_end": form.get("day_end", ""),
                "workdays": days("workdays"), "holidays": (form.get("holidays") or "").strip().upper() or None}
    if kind == "window":
        return {"kind": kind, "start": form.get("start", ""), "end": form.get("end", ""), "days": days("days")}
    return {"kind": kind}


def set_coverage(session: Session, actor: User, client_id: int, spec: Any, out_of_coverage: Any,
                 timezone: Any, now: datetime) -> Client:
    require_manager(actor)
    client = session.get(Client, client_id) if is_id(client_id) else None
    if client is None:
        raise ActionError("client not found", 404)
    if not isinstance(out_of_coverage, str) or out_of_coverage not in CHOICES:
        raise ActionError("outside coverage an alert is either 'hold' or 'low_urgency'", 400)
    if not isinstance(spec, Mapping):
        raise ActionError("coverage must be an object", 400)
    tz = timezone or spec.get("tz") or client.timezone
    if not isinstance(tz, str):
        raise ActionError("timezone must be an IANA time zone name such as 'Europe/Paris'", 400)
    try:
        cov = Coverage.from_dict({**spec, "tz": tz})
    except (ValueError, TypeError) as e:
        raise ActionError(str(e), 400) from None
    client.timezone = cov.tz
    client.coverage = cov.to_dict()
    client.out_of_coverage = out_of_coverage
    session.flush()
    forget_cached_keys()  # intake caches clients' settings: this process sees the change at once
    events.publish(session, "client.coverage_changed", now=now, client_id=client.id,
                   data={"client": {"id": client.id, "name": client.name}, "coverage": client.coverage,
                         "out_of_coverage": client.out_of_coverage})
    return client


def describe(spec: Mapping[str, Any] | None, tz: str) -> str:
    """"after hours: 18:00-08:00 on Mon-Fri, all day at weekends and FR public holidays"."""
    cov = Coverage.from_dict({"kind": "always", **(spec or {}), "tz": (spec or {}).get("tz", tz)})
    if cov.kind == "always":
        return "24/7"
    if cov.kind == "after_hours":
        work = ", ".join(WEEKDAY_NAMES[d] for d in cov.workdays) or "no day"
        hol = f" and {cov.holidays} public holidays" if cov.holidays else ""
        return (f"after hours: outside {cov.day_start}-{cov.day_end} on {work}; all day on other days{hol} "
                f"({cov.tz})")
    days = ", ".join(WEEKDAY_NAMES[d] for d in cov.days) or "no day"
    return f"{cov.start}-{cov.end} on {days} ({cov.tz})"
