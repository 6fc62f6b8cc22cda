"""The hand-offs part of the OpenAPI document: an incident's hand-over to the client's team, and
"I'm ready" for a shift start (the service worker's lock-screen action)."""

from __future__ import annotations

from typing import Any

from .base import SESSION, errors, json_answer, ref

TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Handover": {
        "type": "object",
        "required": ["incident_id", "client", "status", "started_at", "attempts", "contacts", "sentence"],
        "description": "Waiting on the client runs from started_at to taken_at or ended_at (or now).",
        "properties": {
            "incident_id": {"type": "integer"}, "client": {"type": "string"},
            "status": {"enum": ["waiting", "taken", "exhausted", "ended"]},
            "started_at": TIME, "attempts": {"type": "integer"}, "contacts": {"type": "integer"},
            "next_at": TIME, "next_contact": {"type": ["string", "null"]}, "taken_at": TIME,
            "taken_by": {"type": ["string", "null"]}, "taken_contact": {"type": ["string", "null"]},
            "exhausted_at": TIME, "ended_at": TIME, "sentence": {"type": "string"},
        },
    },
}

PATHS: dict[str, Any] = {
    "/api/v1/incidents/{incident_id}/handover/state": {"get": {
        "summary": "The incident's hand-over to the client's team: waiting since when, attempts, who took it",
        "security": SESSION,
        "parameters": [{"name": "incident_id", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 1}}],
        "responses": {"200": json_answer({"type": "object", "required": ["handover"], "properties": {
            "handover": {"anyOf": [ref("Handover"), {"type": "null"}]}}}), **errors(401, 404)},
    }},
    "/api/v1/ready-links/{token}": {"post": {
        "summary": "\"I'm ready\" for a shift start, with a one-time link's token (the lock screen's action)",
        "description": "No session: the token is the credential. Again after it worked: the same answer.",
        "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {
            "200": json_answer({"type": "object", "required": ["outcome", "message"], "properties": {
                "outcome": {"const": "ready"}, "message": {"type": "string"},
                "shift_start": {"type": "object"}}}),
            **errors(400, 404, 410, 415),
        },
    }},
}
