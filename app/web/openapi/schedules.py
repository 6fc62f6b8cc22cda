"""The schedules part of the OpenAPI document (who is on call, my shifts, open slots, clients'
coverage hours, the calendar feed)."""

from __future__ import annotations

from typing import Any

from .base import SESSION, errors, json_answer, ref

_ISO = {"type": "string", "format": "date-time"}
_REF = {"type": "object", "required": ["id", "name"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
WEEKS = {"name": "weeks", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 26, "default": 4}}

SCHEMAS: dict[str, Any] = {
    "Person": {"type": "object", "required": ["id", "name", "active"], "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"},
        "active": {"type": "boolean", "description": "false: deactivated, cannot be paged"}}},
    "Shift": {
        "type": "object",
        "description": "A stretch of a layer held by one person (or nobody: an open slot). Overrides, "
                       "swaps and claimed slots have source 'override'.",
        "required": ["schedule", "layer", "user", "open_slot", "start", "end", "source"],
        "properties": {
            "schedule": _REF, "layer": _REF,
            "user": {"oneOf": [ref("Person"), {"type": "null"}]},
            "open_slot": {"type": "boolean"}, "start": _ISO, "end": _ISO,
            "source": {"enum": ["rotation", "override"]},
            "override_id": {"type": ["integer", "null"]},
        },
    },
    "OpenSlot": {
        "type": "object",
        "required": ["schedule", "layer", "start", "end", "in_progress", "eligible", "claim"],
        "properties": {
            "schedule": _REF, "layer": _REF, "start": _ISO, "end": _ISO,
            "in_progress": {"type": "boolean", "description": "already begun: a claim takes the rest of it"},
            "source": {"enum": ["rotation", "override"]},
            "eligible": {"type": "boolean", "description": "I may claim it (managers also see the others)"},
            "claim": {"type": "object", "required": ["layer_id", "start"], "description": "the body to POST to claim it",
                      "properties": {"layer_id": {"type": "integer"}, "start": _ISO}},
        },
    },
    "Coverage": {
        "type": "object", "required": ["kind"],
        "description": "always (24/7); after_hours: everything except the client's working day "
                       "(day_start-day_end on workdays, 0 = Monday), public holidays of `holidays` covered "
                       "all day; window: start-end on `days` (an end before the start runs overnight).",
        "properties": {
            "kind": {"enum": ["always", "after_hours", "window"]}, "tz": {"type": "string"},
            "day_start": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
            "day_end": {"type": "string"}, "workdays": {"type": "array", "items": {"type": "integer"}},
            "holidays": {"type": ["string", "null"]}, "start": {"type": "string"}, "end": {"type": "string"},
            "days": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 6}},
        },
    },
}

PATHS: dict[str, Any] = {
    "/api/v1/oncall": {"get": {
        "summary": "Who is on call now (or at `at`): per schedule and layer, and per client through its pool",
        "description": "Engineers see the schedules of their pools; client viewers are refused (403).",
        "security": SESSION,
        "parameters": [{"name": "at", "in": "query", "schema": _ISO,
                        "description": "an instant with its offset; default now"}],
        "responses": {"200": json_answer({"type": "object", "required": ["at", "schedules", "clients"], "properties": {
            "at": _ISO,
            "schedules": {"type": "array", "items": {"type": "object", "required": ["id", "name", "layers"], "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"}, "timezone": {"type": "string"},
                "pool": _REF, "covered": {"type": "boolean"},
                "layers": {"type": "array", "items": {"type": "object", "required": ["id", "name", "on_call"], "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"},
                    "on_call": {"oneOf": [ref("Shift"), {"type": "null"}],
                                "description": "null: no shift then (outside the schedule's hours, or before the layer began)"},
                }}},
            }}},
            "clients": {"type": "array", "items": {"type": "object", "required": ["id", "name", "covered", "on_call"], "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"}, "slug": {"type": "string"},
                "pool": {"oneOf": [_REF, {"type": "null"}]},
                "covered": {"type": "boolean", "description": "inside the client's coverage hours"},
                "out_of_coverage": {"enum": ["hold", "low_urgency"]},
                "coverage_starts_at": {"type": ["string", "null"], "format": "date-time"},
                "on_call": {"type": "array", "items": {"type": "object", "properties": {
                    "user": ref("Person"), "schedule": _REF, "layer": _REF, "end": _ISO}}},
            }}},
        }}), **errors(400, 401, 403)},
    }},
    "/api/v1/me/shifts": {"get": {
        "summary": "My shifts from now on (the one in progress included)",
        "security": SESSION, "parameters": [WEEKS],
        "responses": {"200": json_answer({"type": "object", "required": ["shifts"], "properties": {
            "from": _ISO, "weeks": {"type": "integer"}, "shifts": {"type": "array", "items": ref("Shift")}}}),
            **errors(400, 401)},
    }},
    "/api/v1/open-slots": {"get": {
        "summary": "Unclaimed open slots I may claim (managers: all of them)",
        "security": SESSION, "parameters": [WEEKS],
        "responses": {"200": json_answer({"type": "object", "required": ["open_slots"], "properties": {
            "open_slots": {"type": "array", "items": ref("OpenSlot")}}}), **errors(400, 401, 403)},
    }},
    "/api/v1/open-slots/claim": {"post": {
        "summary": "Claim an open slot: it becomes my shift (the first claim wins)",
        "description": "Only engineers of the schedule's pool, not on call on another layer of that "
                       "schedule during the slot. A slot already begun is claimed from now on.",
        "security": SESSION,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["layer_id", "start"],
            "properties": {"layer_id": {"type": "integer"}, "start": _ISO}}}}},
        "responses": {
            "200": json_answer({"type": "object", "required": ["outcome", "message", "shift"], "properties": {
                "outcome": {"const": "claimed"}, "message": {"type": "string"}, "shift": {"type": "object"}}}),
            "409": json_answer({"type": "object", "required": ["error", "message", "holder"], "properties": {
                "error": {"type": "string"}, "message": {"type": "string"},
                "holder": {"oneOf": [_REF, {"type": "null"}], "description": "who took it"}}},
                "Already taken (the message names who took it), no longer open, or I am on another layer then"),
            **errors(400, 401, 403, 404, 415),
        },
    }},
    "/api/v1/clients/{client_id}/coverage": {"put": {
        "summary": "Set a client's coverage hours and what happens to an alert outside them (managers)",
        "security": SESSION,
        "parameters": [{"name": "client_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["coverage"], "properties": {
                "coverage": ref("Coverage"), "out_of_coverage": {"enum": ["hold", "low_urgency"]},
                "timezone": {"type": "string", "description": "the client's clock, e.g. Europe/Paris"}}}}}},
        "responses": {"200": json_answer({"type": "object", "required": ["client", "coverage", "out_of_coverage"], "properties": {
            "client": _REF, "timezone": {"type": "string"}, "coverage": ref("Coverage"),
            "out_of_coverage": {"enum": ["hold", "low_urgency"]}, "description": {"type": "string"}}}),
            **errors(400, 401, 403, 404, 415)},
    }},
    "/ical/{secret}.ics": {"get": {
        "summary": "My shifts as an iCalendar feed (8 weeks back, 26 ahead) at a secret address",
        "description": "The secret is the credential (calendar apps cannot log in); it is shown and "
                       "renewed on the My shifts page. Unknown or revoked: 404.",
        "parameters": [{"name": "secret", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "text/calendar", "content": {"text/calendar": {"schema": {"type": "string"}}}},
                      "404": {"description": "No such feed"}},
    }},
}
