"""Components: a client's services as its page shows them. The state is derived (an engineer's
override first, then a running maintenance window, then the worst open incident) by `state_of`,
a pure function; `ensure` gives every service its component."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import access
from ..db import is_id
from ..errors import ActionError, Denied
from ..live import events
from ..models import Role, Service, StatusComponent, User
from ..models.status import COMPONENT_STATES

# An incident's public impact (from its urgency and severity) and the component state it means.
IMPACT_STATE = {"critical": "major_outage", "major": "partial_outage", "minor": "degraded_performance"}
RANK = {s: i for i, s in enumerate(("operational", "degraded_performance", "partial_outage", "major_outage"))}


def impact_of(urgency: str, severity: str | None) -> str:
    if urgency != "high":
        return "minor"
    return "critical" if (severity or "").lower() in ("critical", "crit", "fatal", "emergency", "p1", "sev1") else "major"


def state_of(override: str | None, in_maintenance: bool, impacts: Iterable[tuple[str, str]]) -> str:
    """`impacts`: (impact, public status) of the open incidents on the component. An incident
    being monitored (a fix is in) shows as degraded at most."""
    if override:
        return override
    if in_maintenance:
        return "under_maintenance"
    worst = "operational"
    for impact, status in impacts:
        state = IMPACT_STATE.get(impact, "degraded_performance")
        if status == "monitoring":
            state = "degraded_performance"
        if RANK[state] > RANK[worst]:
            worst = state
    return worst


def of_client(session: Session, client_id: int) -> list[tuple[Service, StatusComponent | None]]:
    """Every service of the client with its page settings (None: never changed), in page order."""
    rows = session.execute(
        select(Service, StatusComponent).outerjoin(StatusComponent, StatusComponent.service_id == Service.id)
        .where(Service.client_id == client_id).order_by(Service.id)).all()
    pairs = [(svc, comp) for svc, comp in rows]
    pairs.sort(key=lambda p: (p[1].position if p[1] else 0, p[0].id))
    return pairs


def change(session: Session, actor: User, service_id: int, fields: dict[str, Any], now: datetime) -> StatusComponent:
    """An engineer of the client (or staff) sets a component's state by hand (`override`, None to
    derive it again), or its public name, description, order, or hides it."""
    svc = session.get(Service, service_id) if is_id(service_id) else None
    if svc is None or not access.can_see_client(session, actor, svc.client_id):
        raise Denied("component not found", 404)
    if not actor.has_role(Role.admin, Role.manager, Role.engineer):
        raise Denied("your role cannot change the status page")
    comp = session.execute(select(StatusComponent).where(StatusComponent.service_id == svc.id)).scalar_one_or_none()
    if comp is None:
        comp = StatusComponent(service_id=svc.id, client_id=svc.client_id, name=None, description="", position=0,
                               hidden=False, created_at=now, updated_at=now)
        try:
            with session.begin_nested():  # race: two first changes at once; the unique service_id keeps one
                session.add(comp)
                session.flush()
        except IntegrityError:
            comp = session.execute(select(StatusComponent).where(StatusComponent.service_id == svc.id)).scalar_one()
    if "override" in fields:
        value = fields["override"] or None
        if value is not None and value not in COMPONENT_STATES:
            raise ActionError(f"override is one of {', '.join(COMPONENT_STATES)}, or null", 400)
        comp.override, comp.override_at = value, (now if value else None)
    if "name" in fields:
        if not isinstance(fields["name"], str) or not fields["name"].strip() or len(fields["name"]) > 200:
            raise ActionError("name is text of 1 to 200 characters", 400)
        comp.name = fields["name"].strip()  # type: ignore[union-attr]
    if "description" in fields:
        if not isinstance(fields["description"], str) or len(fields["description"]) > 2000:
            raise ActionError("description is text of at most 2000 characters", 400)
        comp.description = fields["description"].strip()
    if "position" in fields:
        if not isinstance(fields["position"], int) or isinstance(fields["position"], bool) or not (
                0 <= fields["position"] <= 10_000):
            raise ActionError("position is a whole number from 0 to 10000", 400)
        comp.position = fields["position"]
    if "hidden" in fields:
        if not isinstance(fields["hidden"], bool):
            raise ActionError("hidden is true or false", 400)
        comp.hidden = fields["hidden"]
    comp.updated_at = now
    session.flush()
    events.publish(session, "status.component_changed", now=now, client_id=comp.client_id,
                   data={"service_id": svc.id})
    return comp
