"""Where alerts come in. Authenticated by integration key (or an API token with the ingest scope);
every refusal is a clear 4xx."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify, request

from .. import access, incidents
from ..accounts.tokens import scope
from ..batching import Busy
from ..intake import PARSERS, events_v2
from ..intake.base import IntakeError, IntakeEvent
from ..intake.keys import IntakeTarget, lookup, target_for_service
from ..models import Service
from ..web import ApiError, db_session, exempt, fail, json_body, now, user, vigil
from ..web.httpsec import uses_token

bp = Blueprint("intake", __name__)


def _key_from_headers() -> str | None:
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    if scheme.lower() == "basic" and value:
        # Alertmanager's and Grafana's basic_auth: the key is the password.
        try:
            return base64.b64decode(value).decode().partition(":")[2] or None
        except ValueError:
            return None
    return request.headers.get("X-Vigil-Key")


def _authenticate(source: str, key: str | None) -> IntakeTarget:
    if not key:
        fail(401, "an integration key is required (in the URL, or as a Bearer token)")
    target = lookup(db_session(), key)
    if target is None or target.revoked:
        fail(401, "unknown or revoked integration key")
    if target.source != source:
        fail(403, f"this integration key is for {target.source}, not {source}")
    return target


def _write(target: IntakeTarget, parsed: list[IntakeEvent], body: Any) -> list[incidents.IngestResult]:
    try:
        return incidents.write_alerts(db_session(), vigil().intake, target, parsed, body, now())
    except Busy as e:
        fail(503, f"{e}; nothing was stored, send the alert again")


def _accept(source: str, target: Callable[[], IntakeTarget]) -> Any:
    """A request's alerts in a source's format: parsed, written, answered 202. `target` says where
    they land, or refuses the request; it is asked once the body is known to be JSON."""
    parser = PARSERS.get(source)
    if parser is None:
        fail(404, f"unknown source {source!r}; one of {', '.join(sorted(PARSERS))}")
    body = json_body(require_object=False)
    where = target()
    try:
        parsed = parser.parse(body)
    except IntakeError as e:
        fail(e.status, e.message, errors=e.errors)
    results = _write(where, parsed, body)
    return jsonify({
        "status": "accepted",
        "results": [
            {"outcome": r.outcome, "dedup_key": r.dedup_key, "incident": r.incident_id}
            for r in results
        ],
    }), 202


@bp.post("/api/v1/intake/<source>/<key>")
@exempt
def intake_with_key(source: str, key: str) -> Any:
    return _accept(source, lambda: _authenticate(source, key))


@bp.post("/api/v1/intake/<source>")
@exempt
def intake_with_header(source: str) -> Any:
    key = _key_from_headers()
    return _accept(source, lambda: _authenticate(source, key))


def _pd_invalid(errors: list[str], status: int = 400) -> Any:
    return jsonify({"status": "invalid event", "message": "Event object is invalid", "errors": errors}), status


@bp.post("/v2/enqueue")
@exempt
def enqueue() -> Any:
    """PagerDuty Events API v2, same path and answers, so a tool only needs a new host name."""
    mimetype = request.mimetype or ""
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        return _pd_invalid(["Content-Type must be application/json"], 415)
    try:
        body = json_body(require_object=False)
    except ApiError as e:  # malformed JSON: answered in PagerDuty's shape too (found by the API fuzz test)
        return _pd_invalid([e.message], e.status)
    try:
        key = events_v2.routing_key(body)
    except IntakeError as e:
        return _pd_invalid(e.errors)
    row = lookup(db_session(), key)
    if row is None or row.revoked:
        return _pd_invalid(["routing_key is not a known integration key"], 401)
    if row.source != events_v2.SOURCE:
        return _pd_invalid([f"this routing_key is for {row.source}, not the Events API v2"], 403)
    try:
        parsed = events_v2.parse(body)
    except IntakeError as e:
        return _pd_invalid(e.errors)
    results = _write(row, parsed, body)
    return jsonify({"status": "success", "message": "Event processed", "dedup_key": results[0].dedup_key}), 202


@bp.post("/api/v1/services/<int:service_id>/intake/<source>")
@exempt  # a token only: the session cookie is refused here, so there is nothing to forge
@scope("ingest")
def token_intake(service_id: int, source: str) -> Any:
    """Alerts with an API token (ingest scope) instead of a per-service integration key: one
    credential for a central monitoring system that watches many clients."""
    if not uses_token():
        fail(401, "send an API token with the ingest scope as Authorization: Bearer")
    s = db_session()
    svc = s.get(Service, service_id)
    if svc is None:
        fail(404, "service not found")
    access.check_ingest(s, user(), svc.client_id)
    return _accept(source, lambda: target_for_service(s, svc.id, source))
