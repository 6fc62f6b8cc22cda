"""The HTTP API described as OpenAPI 3.1, served at /api/openapi.json.

Kept by hand next to the views; tests check that every API route is described and that the
answers match these schemas (schemathesis).
"""

from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"description": description or "OK", "content": {"application/json": {"schema": schema}}}


ERROR = _json(_ref("Error"), "Refused, with a reason")
SESSION = [{"session": []}, {"bearer": []}]
INCIDENT_ID = {"name": "incident_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): ERROR for c in codes}


def _schedules() -> tuple[dict[str, Any], dict[str, Any]]:
    from .schedules import SCHEDULE_PATHS, SCHEDULE_SCHEMAS

    return SCHEDULE_SCHEMAS, SCHEDULE_PATHS


def _action(summary: str, body: dict[str, Any] | None, description: str = "") -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": description,
        "security": SESSION,
        "parameters": [INCIDENT_ID],
        "responses": {
            "200": _json(_ref("ActionResult")),
            # An outcome (who holds it, already resolved...) or a plain refusal (nothing left to escalate).
            "409": _json({"anyOf": [_ref("ActionResult"), _ref("Error")]}, "Refused by the incident's state"),
            **_errors(400, 401, 403, 404, 415),
        },
    }
    if body is not None:
        op["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
    return op


CLIENT_ID = {"name": "client_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
CONN_ID = {"name": "conn_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
CONNECTION_KINDS = ["ssh", "vpn", "bastion", "other"]

OP_ID = {"type": "string", "maxLength": 100, "description": "Client-generated id: a replay returns the first answer"}

INTAKE_RESPONSES = {
    "202": _json({
        "type": "object",
        "required": ["status", "results"],
        "properties": {
            "status": {"const": "accepted"},
            "results": {"type": "array", "items": {
                "type": "object",
                "required": ["outcome", "dedup_key", "incident"],
                "properties": {
                    "outcome": {"type": "string"},
                    "dedup_key": {"type": "string"},
                    "incident": {"type": ["integer", "null"]},
                },
            }},
        },
    }, "Accepted"),
    **_errors(400, 401, 403, 404, 413, 415, 503),  # 503: no turn to write within 120 s, nothing stored
}


def spec() -> dict[str, Any]:
    from . import notify as openapi_notify

    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Vigil API",
            "version": "1",
            "description": "On-call and incident response: alert intake, incidents and their actions, the event feed, who is on call.",
        },
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "Browser session; state-changing requests also need the X-CSRFToken header"},
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "API token (vgl_...), from /settings/tokens. Scopes: read (GET), write (other "
                                          "methods), ingest (/api/v1/services/{id}/intake). A request with a token is "
                                          "authenticated by it alone, and needs no CSRF token."},
                "integrationKey": {"type": "http", "scheme": "bearer", "description": "Integration key"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                },
                "User": {
                    "type": ["object", "null"],
                    "properties": {"id": {"type": ["integer", "null"]}, "name": {"type": ["string", "null"]}},
                },
                "Incident": {
                    "type": "object",
                    "required": ["id", "number", "status", "summary", "urgency", "client", "service", "created_at", "slots"],
                    "properties": {
                        "id": {"type": "integer"},
                        "number": {"type": "integer"},
                        "status": {"enum": ["triggered", "acknowledged", "handed_over", "resolved"]},
                        "summary": {"type": "string"},
                        "urgency": {"enum": ["high", "low"]},
                        "client": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "slug": {"type": "string"}}},
                        "service": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
                        "source": {"type": "string"},
                        "alert_count": {"type": "integer"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "response_deadline": {"type": "string", "format": "date-time"},
                        "acknowledged_by": {"type": ["string", "null"]},
                        "acknowledged_at": {"type": ["string", "null"], "format": "date-time"},
                        "resolved_at": {"type": ["string", "null"], "format": "date-time"},
                        "slots": {"type": "object", "properties": {
                            "1": {"type": "object", "properties": {"user_id": {"type": ["integer", "null"]}, "name": {"type": ["string", "null"]}}},
                            "2": {"type": "object", "properties": {"user_id": {"type": ["integer", "null"]}, "name": {"type": ["string", "null"]}}},
                        }},
                        "dual": {"type": "boolean"},
                        "next_escalation_at": {"type": ["string", "null"], "format": "date-time"},
                    },
                },
                "ActionResult": {
                    "type": "object",
                    "required": ["outcome", "message"],
                    "properties": {
                        "outcome": {"type": "string"},
                        "message": {"type": "string"},
                        "replayed": {"type": "boolean"},
                        "incident": _ref("Incident"),
                    },
                },
                **_schedules()[0],
                "ConnectionSummary": {
                    "type": "object",
                    "required": ["id", "kind", "label", "updated_at"],
                    "additionalProperties": False,
                    "properties": {
                        "id": {"type": "integer"},
                        "kind": {"enum": CONNECTION_KINDS},
                        "label": {"type": "string"},
                        "updated_at": {"type": "string", "format": "date-time"},
                    },
                },
                "ConnectionInput": {
                    "type": "object",
                    "additionalProperties": False,
                    "description": "On PUT, fields present replace the stored ones (null clears) and absent fields are kept.",
                    "properties": {
                        "kind": {"enum": CONNECTION_KINDS},
                        "label": {"type": "string", "minLength": 1, "maxLength": 200, "description": "Not secret"},
                        "host": {"type": ["string", "null"], "maxLength": 255},
                        "port": {"type": ["integer", "null"], "minimum": 1, "maximum": 65535},
                        "user": {"type": ["string", "null"], "maxLength": 100},
                        "jump_host": {"type": ["string", "null"], "maxLength": 255},
                        "vpn_profile": {"type": ["string", "null"], "maxLength": 65536},
                        "instructions": {"type": ["string", "null"], "maxLength": 10000},
                        "password": {"type": ["string", "null"], "maxLength": 1000},
                        "private_key": {"type": ["string", "null"], "maxLength": 16384},
                    },
                },
                "ConnectionRevealed": {
                    "type": "object",
                    "required": ["id", "kind", "label", "host", "port", "user", "jump_host", "vpn_profile",
                                 "instructions", "password", "private_key", "ssh_url"],
                    "properties": {
                        "id": {"type": "integer"},
                        "kind": {"enum": CONNECTION_KINDS},
                        "label": {"type": "string"},
                        **{f: {"type": ["string", "null"]} for f in (
                            "host", "user", "jump_host", "vpn_profile", "instructions", "password", "private_key")},
                        "port": {"type": ["integer", "null"]},
                        "ssh_url": {"type": ["string", "null"], "description": "ssh://user@host:port for ssh and bastion kinds"},
                    },
                },
                "Event": {
                    "type": "object",
                    "required": ["id", "at", "kind", "data"],
                    "properties": {
                        "id": {"type": "integer"},
                        "at": {"type": "string", "format": "date-time"},
                        "kind": {"type": "string"},
                        "incident_id": {"type": ["integer", "null"]},
                        "client_id": {"type": ["integer", "null"]},
                        "data": {"type": "object"},
                    },
                },
            },
        },
        "paths": {
            "/api/v1/me": {"get": {
                "summary": "Who I am, and the CSRF token for state-changing requests",
                "security": SESSION,
                "responses": {"200": _json({"type": "object", "required": ["user", "csrf_token"], "properties": {
                    "user": {"type": "object"}, "csrf_token": {"type": "string"}}}), **_errors(401, 403)},
            }},
            "/api/v1/incidents": {"get": {
                "summary": "Incidents I may see, newest first",
                "security": SESSION,
                "parameters": [
                    {"name": "status", "in": "query", "schema": {"enum": ["open", "all", "triggered", "acknowledged", "handed_over", "resolved"]}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                    {"name": "before_id", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": {"200": _json({"type": "object", "required": ["incidents"], "properties": {
                    "incidents": {"type": "array", "items": _ref("Incident")}}}), **_errors(400, 401, 403)},
            }},
            "/api/v1/incidents/{incident_id}": {"get": {
                "summary": "One incident with its timeline and escalation plan",
                "security": SESSION,
                "parameters": [INCIDENT_ID],
                "responses": {"200": _json({"type": "object", "required": ["incident", "timeline"], "properties": {
                    "incident": _ref("Incident"),
                    "details": {"type": "string"},
                    "timeline": {"type": "array", "items": {"type": "object", "required": ["at", "kind", "message"]}},
                    "escalation_plan": {"type": "array"},
                }}), **_errors(401, 403, 404)},
            }},
            "/api/v1/incidents/{incident_id}/ack": {"post": _action(
                "Acknowledge", {"type": "object", "properties": {"op_id": OP_ID}},
                "Idempotent with op_id (or the Idempotency-Key header).")},
            "/api/v1/incidents/{incident_id}/claim": {"post": _action(
                "Claim responder slot #1 or #2 (a dual on-call incident)",
                {"type": "object", "properties": {"slot": {"enum": [1, 2]}, "op_id": OP_ID}},
                "Exactly one engineer holds a slot; a second claim answers 409 naming the holder.")},
            "/api/v1/incidents/{incident_id}/escalate": {"post": _action("Fire the next escalation step now", None)},
            "/api/v1/incidents/{incident_id}/actions": {"post": _action(
                "Log an action taken", {"type": "object", "properties": {"text": {"type": "string", "maxLength": 4000}}})},
            "/api/v1/incidents/{incident_id}/handover": {"post": _action(
                "Hand over to the client's own team", {"type": "object", "properties": {"reason": {"type": "string", "maxLength": 4000}}})},
            "/api/v1/incidents/{incident_id}/resolve": {"post": _action(
                "Resolve with a summary", {"type": "object", "properties": {"summary": {"type": "string", "maxLength": 4000}}})},
            "/api/v1/events": {"get": {
                "summary": "Events after `since` (how a reconnecting client catches up)",
                "security": SESSION,
                "parameters": [
                    {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                ],
                "responses": {"200": _json({"type": "object", "required": ["events"], "properties": {
                    "events": {"type": "array", "items": _ref("Event")}}}), **_errors(400, 401, 403)},
            }},
            "/api/v1/clients/{client_id}/connections": {
                "get": {
                    "summary": "A client's connection info: labels only, never secrets",
                    "description": "Engineers of the client's pool, managers, admins. Client viewers get 404.",
                    "security": SESSION,
                    "parameters": [CLIENT_ID],
                    "responses": {"200": _json({"type": "object", "required": ["connections"], "properties": {
                        "connections": {"type": "array", "items": _ref("ConnectionSummary")}}}), **_errors(401, 403, 404)},
                },
                "post": {
                    "summary": "Add connection info (managers and admins); stored encrypted",
                    "security": SESSION,
                    "parameters": [CLIENT_ID],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "allOf": [_ref("ConnectionInput"), {"required": ["kind", "label"]}]}}}},
                    "responses": {"201": _json(_ref("ConnectionSummary"), "Created"), **_errors(400, 401, 403, 404, 413, 415)},
                },
            },
            "/api/v1/connections/{conn_id}": {
                "put": {
                    "summary": "Change connection info (managers and admins)",
                    "security": SESSION,
                    "parameters": [CONN_ID],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ConnectionInput")}}},
                    "responses": {"200": _json(_ref("ConnectionSummary")), **_errors(400, 401, 403, 404, 413, 415, 503)},
                },
                "delete": {
                    "summary": "Delete connection info (managers and admins)",
                    "security": SESSION,
                    "parameters": [CONN_ID],
                    "responses": {"204": {"description": "Deleted"}, **_errors(400, 401, 403, 404)},
                },
            },
            "/api/v1/connections/{conn_id}/reveal": {"post": {
                "summary": "Reveal connection info; written to the audit log (who, client, when, address, device)",
                "description": "Engineers of the client's pool, managers, admins; with a token, the write scope. "
                               "Answered with Cache-Control: no-store.",
                "security": SESSION,
                "parameters": [CONN_ID],
                "responses": {"200": _json(_ref("ConnectionRevealed")), **_errors(400, 401, 403, 404, 503)},
            }},
            "/api/v1/services/{service_id}/intake/{source}": {"post": {
                "summary": "Post an alert with an API token (ingest scope) instead of an integration key",
                "description": "For one credential that serves many services (a central monitoring system). "
                               "The token's user must be able to act on the service's client.",
                "security": [{"bearer": []}],
                "parameters": [
                    {"name": "service_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}},
                    {"name": "source", "in": "path", "required": True, "schema": {"enum": ["alertmanager", "grafana", "generic", "events_v2"]}},
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}},
                "responses": INTAKE_RESPONSES,
            }},
            "/api/v1/intake/{source}/{key}": {"post": {
                "summary": "Post an alert (key in the URL)",
                "parameters": [
                    {"name": "source", "in": "path", "required": True, "schema": {"enum": ["alertmanager", "grafana", "generic", "events_v2"]}},
                    {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}},
                "responses": INTAKE_RESPONSES,
            }},
            "/api/v1/intake/{source}": {"post": {
                "summary": "Post an alert (key as Bearer token or basic-auth password)",
                "security": [{"integrationKey": []}],
                "parameters": [{"name": "source", "in": "path", "required": True,
                                "schema": {"enum": ["alertmanager", "grafana", "generic", "events_v2"]}}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}},
                "responses": INTAKE_RESPONSES,
            }},
            "/v2/enqueue": {"post": {
                "summary": "PagerDuty Events API v2 compatible",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["routing_key", "event_action"],
                    "properties": {
                        "routing_key": {"type": "string"},
                        "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
                        "dedup_key": {"type": "string", "maxLength": 255},
                        "payload": {"type": "object", "properties": {
                            "summary": {"type": "string"}, "source": {"type": "string"},
                            "severity": {"enum": ["critical", "error", "warning", "info"]},
                        }},
                    },
                }}}},
                "responses": {
                    "202": _json({"type": "object", "required": ["status", "message", "dedup_key"], "properties": {
                        "status": {"const": "success"}, "message": {"type": "string"}, "dedup_key": {"type": "string"}}}),
                    **{str(c): _json({"type": "object", "required": ["status", "message", "errors"], "properties": {
                        "status": {"type": "string"}, "message": {"type": "string"},
                        "errors": {"type": "array", "items": {"type": "string"}}}}) for c in (400, 401, 403, 415)},
                    "413": ERROR,
                    "503": ERROR,
                },
            }},
            **_schedules()[1],
            "/healthz": {"get": {
                "summary": "Database and escalation engine health",
                "responses": {
                    "200": _json({"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}),
                    "503": _json({"type": "object", "required": ["status"], "properties": {"status": {"const": "failing"}}},
                                 "The database or the escalation engine is down"),
                },
            }},
        },
    }
    doc["components"]["schemas"].update(openapi_notify.schemas())
    doc["paths"].update(openapi_notify.paths())
    return doc
