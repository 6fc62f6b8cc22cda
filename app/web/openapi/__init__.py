"""The HTTP API described as OpenAPI 3.1, served at /api/openapi.json: one part per area.

spec() puts the document's frame and the parts beside it together (base.py has what the parts
share).

Kept by hand next to the views; tests check that every API route is described and that the
answers match these schemas (schemathesis).
"""

from __future__ import annotations

from typing import Any

from . import connections, handoffs, incidents, intake, mail, notify, reports, schedules, status
from .base import SESSION, errors, json_answer

PARTS = (incidents, schedules, connections, intake, mail, notify, handoffs, reports, status)


def spec() -> dict[str, Any]:
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
            },
        },
        "paths": {
            "/api/v1/me": {"get": {
                "summary": "Who I am, and the CSRF token for state-changing requests",
                "security": SESSION,
                "responses": {"200": json_answer({"type": "object", "required": ["user", "csrf_token"], "properties": {
                    "user": {"type": "object"}, "csrf_token": {"type": "string"}}}), **errors(401, 403)},
            }},
            "/healthz": {"get": {
                "summary": "Database and escalation engine health",
                "responses": {
                    "200": json_answer({"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}),
                    "503": json_answer({"type": "object", "required": ["status"], "properties": {"status": {"const": "failing"}}},
                                       "The database or the escalation engine is down"),
                },
            }},
        },
    }
    for part in PARTS:
        doc["components"]["schemas"].update(part.SCHEMAS)
        doc["paths"].update(part.PATHS)
    return doc
