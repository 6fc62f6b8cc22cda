"""Where alerts come in. Authenticated by integration key; every refusal is a clear 4xx."""

from __future__ import annotations

import base64
from types import ModuleType
from typing import Any

from flask import Blueprint, jsonify, request

from .. import incidents
from ..batching import Busy
from ..intake import alertmanager, events_v2, generic, grafana
from ..intake.base import IntakeError, IntakeEvent
from ..intake.keys import IntakeTarget, lookup, touch
from ..web import ApiError, db_session, exempt, fail, json_body, now, vigil

bp = Blueprint("intake", __name__)

SOURCES: dict[str, ModuleType] = {m.SOURCE: m for m in (alertmanager, grafana, generic, events_v2)}


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


def write_alerts(target: IntakeTarget, parsed: list[IntakeEvent], body: Any) -> list[incidents.IngestResult]:
    """Store a request's alerts through the process's group writer (batching.GroupCommit)."""
    t = now()
    s = db_session()
    touch(s, target, t)
    # The request's own transaction ends here, and its connection goes back to the pool: waiting
    # for the group writer while holding one could take the very connection the writer needs.
    s.commit()
    try:
        return vigil().intake.run(incidents.ingest_steps(target, parsed, body, t))  # type: ignore[no-any-return]
    except Busy as e:
        fail(503, f"{e}; nothing was stored, send the alert again")


def _ingest(source: str, key: str | None) -> Any:
    module = SOURCES.get(source)
    if module is None:
        fail(404, f"unknown source {source!r}; one of {', '.join(sorted(SOURCES))}")
    body = json_body(require_object=False)
    row = _authenticate(source, key)
    try:
        parsed = module.parse(body)
    except IntakeError as e:
        fail(e.status, e.message, errors=e.errors)
    results = write_alerts(row, parsed, body)
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
    return _ingest(source, key)


@bp.post("/api/v1/intake/<source>")
@exempt
def intake_with_header(source: str) -> Any:
    return _ingest(source, _key_from_headers())


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
    results = write_alerts(row, parsed, body)
    return jsonify({"status": "success", "message": "Event processed", "dedup_key": results[0].dedup_key}), 202
