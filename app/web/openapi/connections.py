"""The connection info part of the OpenAPI document: labels to list, secrets to reveal."""

from __future__ import annotations

from typing import Any

from .base import SESSION, errors, json_answer, ref

CLIENT_ID = {"name": "client_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
CONN_ID = {"name": "conn_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
CONNECTION_KINDS = ["ssh", "vpn", "bastion", "other"]

SCHEMAS: dict[str, Any] = {
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
}

PATHS: dict[str, Any] = {
    "/api/v1/clients/{client_id}/connections": {
        "get": {
            "summary": "A client's connection info: labels only, never secrets",
            "description": "Engineers of the client's pool, managers, admins. Client viewers get 404.",
            "security": SESSION,
            "parameters": [CLIENT_ID],
            "responses": {"200": json_answer({"type": "object", "required": ["connections"], "properties": {
                "connections": {"type": "array", "items": ref("ConnectionSummary")}}}), **errors(401, 403, 404)},
        },
        "post": {
            "summary": "Add connection info (managers and admins); stored encrypted",
            "security": SESSION,
            "parameters": [CLIENT_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "allOf": [ref("ConnectionInput"), {"required": ["kind", "label"]}]}}}},
            "responses": {"201": json_answer(ref("ConnectionSummary"), "Created"), **errors(400, 401, 403, 404, 413, 415)},
        },
    },
    "/api/v1/connections/{conn_id}": {
        "put": {
            "summary": "Change connection info (managers and admins)",
            "security": SESSION,
            "parameters": [CONN_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("ConnectionInput")}}},
            "responses": {"200": json_answer(ref("ConnectionSummary")), **errors(400, 401, 403, 404, 413, 415, 503)},
        },
        "delete": {
            "summary": "Delete connection info (managers and admins)",
            "security": SESSION,
            "parameters": [CONN_ID],
            "responses": {"204": {"description": "Deleted"}, **errors(400, 401, 403, 404)},
        },
    },
    "/api/v1/connections/{conn_id}/reveal": {"post": {
        "summary": "Reveal connection info; written to the audit log (who, client, when, address, device)",
        "description": "Engineers of the client's pool, managers, admins; with a token, the write scope. "
                       "Answered with Cache-Control: no-store.",
        "security": SESSION,
        "parameters": [CONN_ID],
        "responses": {"200": json_answer(ref("ConnectionRevealed")), **errors(400, 401, 403, 404, 503)},
    }},
}
