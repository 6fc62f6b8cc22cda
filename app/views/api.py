"""The JSON API the PWA (and scripts) use: incidents and their actions, and the event feed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask_login import login_required
from flask_wtf.csrf import generate_csrf

from .. import access, incidents
from ..incidents import Actor, Outcome, escalation
from ..models import Incident, Status
from ..web import db_session, fail, now, optional_json_object, outcome_response, user, vigil
from ..web.openapi import spec

bp = Blueprint("api", __name__, url_prefix="/api/v1")
docs = Blueprint("openapi", __name__)


@docs.get("/api/openapi.json")
def openapi() -> Any:
    return jsonify(spec())

STATUS_FILTERS = {
    "open": [Status.triggered.value, Status.acknowledged.value, Status.handed_over.value],
    "all": [s.value for s in Status],
    **{s.value: [s.value] for s in Status},
}


@bp.get("/me")
@login_required
def me() -> Any:
    u = user()
    return jsonify({"user": {"id": u.id, "name": u.name, "email": u.email, "role": u.role},
                    "csrf_token": generate_csrf()})


@bp.get("/incidents")
@login_required
def list_incidents() -> Any:
    status = request.args.get("status", "open")
    if status not in STATUS_FILTERS:
        fail(400, f"status must be one of {', '.join(STATUS_FILTERS)}")
    try:
        limit = min(max(int(request.args.get("limit", 100)), 1), 500)
        before = int(request.args["before_id"]) if "before_id" in request.args else None
        if before is not None and before >= 2**31:
            before = None  # ids are 32-bit on PostgreSQL: a larger bound means "all" (not an overflow)
        elif before is not None and before < 1:
            before = 1  # no id lies below 1: a smaller bound finds nothing (not an overflow either)
    except ValueError:
        fail(400, "limit and before_id must be integers")
    rows = access.visible_incidents(db_session(), user(), STATUS_FILTERS[status], limit=limit, before_id=before)
    return jsonify({"incidents": [incidents.snapshot(i) for i in rows]})


@bp.get("/incidents/<int:incident_id>")
@login_required
def get_incident(incident_id: int) -> Any:
    s = db_session()
    inc = access.check_see_incident(s, user(), s.get(Incident, incident_id))
    timeline = incidents.timeline_of(s, inc.id)
    plan = []
    if inc.policy:
        for pos, due in escalation.plan(escalation.PolicySpec.from_model(inc.policy), inc.held_until or inc.created_at):
            plan.append({"step": pos.step + 1, "pass": pos.loop + 1, "due_at": due.isoformat()})
    return jsonify({
        "incident": incidents.snapshot(inc),
        "details": inc.details,
        "severity": inc.severity,
        "dedup_key": inc.dedup_key,
        "handover_reason": inc.handover_reason,
        "resolution_summary": inc.resolution_summary,
        "sla_breached_at": inc.sla_breached_at.isoformat() if inc.sla_breached_at else None,
        "held_until": inc.held_until.isoformat() if inc.held_until else None,
        "escalation_plan": plan,
        "timeline": [
            {"id": t.id, "at": t.at.isoformat(), "kind": t.kind, "actor": t.actor_label, "message": t.message}
            for t in timeline
        ],
    })


def _act(action: Callable[..., Outcome], *args: Any, **kw: Any) -> Response:
    s = db_session()
    out = action(s, *args, **kw)
    s.commit()
    return outcome_response(out)


def _op_id(body: dict[str, Any], incident_id: int) -> str | None:
    op = body.get("op_id") or request.headers.get("Idempotency-Key")
    if op is not None and not isinstance(op, str):
        fail(400, "op_id must be a string")
    if op is not None:
        # An operation is recorded before the action runs: make sure its incident exists (and
        # is visible), or the record breaks its foreign key (a 500 found by the API fuzz test).
        s = db_session()
        access.check_see_incident(s, user(), s.get(Incident, incident_id))
    return op


@bp.post("/incidents/<int:incident_id>/ack")
@login_required
def ack(incident_id: int) -> Response:
    body = optional_json_object()
    return _act(incidents.acknowledge, incident_id, Actor.of(user()), now(), op_id=_op_id(body, incident_id))


@bp.post("/incidents/<int:incident_id>/claim")
@login_required
def claim(incident_id: int) -> Response:
    body = optional_json_object()
    return _act(incidents.claim_slot, incident_id, Actor.of(user()), body.get("slot"), now(), op_id=_op_id(body, incident_id))


@bp.post("/incidents/<int:incident_id>/escalate")
@login_required
def escalate(incident_id: int) -> Response:
    optional_json_object()
    return _act(incidents.escalate_now, incident_id, Actor.of(user()), now())


@bp.post("/incidents/<int:incident_id>/actions")
@login_required
def log_action(incident_id: int) -> Response:
    body = optional_json_object()
    return _act(incidents.log_action, incident_id, Actor.of(user()), body.get("text"), now())


@bp.post("/incidents/<int:incident_id>/handover")
@login_required
def handover(incident_id: int) -> Response:
    body = optional_json_object()
    return _act(incidents.hand_over, incident_id, Actor.of(user()), body.get("reason"), now())


@bp.post("/incidents/<int:incident_id>/resolve")
@login_required
def resolve(incident_id: int) -> Response:
    body = optional_json_object()
    return _act(incidents.resolve, incident_id, Actor.of(user()), body.get("summary"), now())


@bp.get("/events")
@login_required
def events_since() -> Any:
    """What happened after event `since`: how a reconnecting client catches up."""
    try:
        since = int(request.args.get("since", "0"))
        limit = min(max(int(request.args.get("limit", 200)), 1), 500)
    except ValueError:
        fail(400, "since and limit must be integers")
    if since < 0:
        fail(400, "since must be 0 or more")
    since = min(since, 2**63 - 1)  # nothing lies beyond the largest event id (and the driver refuses more)
    visible = access.visible_client_ids(db_session(), user())
    events = vigil().bus.replay(since, limit, lambda cid: visible is None or cid in visible)
    return jsonify({"events": events})
