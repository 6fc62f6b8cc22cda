"""The incidents part of the OpenAPI document: incidents, their actions, the event feed."""

from __future__ import annotations

from typing import Any

from .base import SESSION, errors, json_answer, ref

INCIDENT_ID = {"name": "incident_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
OP_ID = {"type": "string", "maxLength": 100, "description": "Client-generated id: a replay returns the first answer"}


def _action(summary: str, body: dict[str, Any] | None, description: str = "") -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": description,
        "security": SESSION,
        "parameters": [INCIDENT_ID],
        "responses": {
            "200": json_answer(ref("ActionResult")),
            # An outcome (who holds it, already resolved...) or a plain refusal (nothing left to escalate).
            "409": json_answer({"anyOf": [ref("ActionResult"), ref("Error")]}, "Refused by the incident's state"),
            **errors(400, 401, 403, 404, 415),
        },
    }
    if body is not None:
        op["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
    return op


SCHEMAS: dict[str, Any] = {
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
            "incident": ref("Incident"),
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
}

PATHS: dict[str, Any] = {
    "/api/v1/incidents": {"get": {
        "summary": "Incidents I may see, newest first",
        "security": SESSION,
        "parameters": [
            {"name": "status", "in": "query", "schema": {"enum": ["open", "all", "triggered", "acknowledged", "handed_over", "resolved"]}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
            {"name": "before_id", "in": "query", "schema": {"type": "integer"}},
        ],
        "responses": {"200": json_answer({"type": "object", "required": ["incidents"], "properties": {
            "incidents": {"type": "array", "items": ref("Incident")}}}), **errors(400, 401, 403)},
    }},
    "/api/v1/incidents/{incident_id}": {"get": {
        "summary": "One incident with its timeline and escalation plan",
        "security": SESSION,
        "parameters": [INCIDENT_ID],
        "responses": {"200": json_answer({"type": "object", "required": ["incident", "timeline"], "properties": {
            "incident": ref("Incident"),
            "details": {"type": "string"},
            "timeline": {"type": "array", "items": {"type": "object", "required": ["at", "kind", "message"]}},
            "escalation_plan": {"type": "array"},
        }}), **errors(401, 403, 404)},
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
        "responses": {"200": json_answer({"type": "object", "required": ["events"], "properties": {
            "events": {"type": "array", "items": ref("Event")}}}), **errors(400, 401, 403)},
    }},
}
