"""The intake part of the OpenAPI document: alerts posted with an integration key or an API token,
and the PagerDuty Events API v2."""

from __future__ import annotations

from typing import Any

from .base import ERROR, errors, json_answer

INTAKE_RESPONSES = {
    "202": json_answer({
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
    **errors(400, 401, 403, 404, 413, 415, 503),  # 503: no turn to write within 120 s, nothing stored
}



def _text(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


# Heartbeat pings: no login (the uuid is the credential), a tiny text answer; anything unknown gets
# the same 404, whatever was wrong with it.
PING_RESPONSES = {"200": _text("The ping counted: OK"), "404": _text("No such monitor: not found"),
                  "503": _text("No turn to write within 120 s: nothing stored, ping again")}
TOKEN = {"name": "token", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"},
         "description": "The monitor's ping URL uuid (on its service's heartbeats screen)"}
PING_BODY = {"required": False, "content": {"text/plain": {"schema": {"type": "string"}}},
             "description": "Optional: what the job printed; the first 10,000 characters are kept"}


def _ping(summary: str, kind: bool = False) -> dict[str, Any]:
    params = [TOKEN, {"name": "kind", "in": "path", "required": True, "schema": {"enum": ["start", "fail"]}}] if kind else [TOKEN]
    return {
        "get": {"summary": summary, "security": [], "parameters": params, "responses": PING_RESPONSES},
        "post": {"summary": summary, "security": [], "parameters": params, "requestBody": PING_BODY,
                 "responses": PING_RESPONSES},
    }


SCHEMAS: dict[str, Any] = {}

PATHS: dict[str, Any] = {
    "/hb/{token}": _ping("Ping a heartbeat monitor: the job ran (HEAD too)"),
    "/hb/{token}/{kind}": _ping("A heartbeat's run started (/start: it must end within the grace) or failed (/fail: "
                                "an incident opens at once)", kind=True),
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
            "202": json_answer({"type": "object", "required": ["status", "message", "dedup_key"], "properties": {
                "status": {"const": "success"}, "message": {"type": "string"}, "dedup_key": {"type": "string"}}}),
            **{str(c): json_answer({"type": "object", "required": ["status", "message", "errors"], "properties": {
                "status": {"type": "string"}, "message": {"type": "string"},
                "errors": {"type": "array", "items": {"type": "string"}}}}) for c in (400, 401, 403, 415)},
            "413": ERROR,
            "503": ERROR,
        },
    }},
}
