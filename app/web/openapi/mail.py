"""The client e-mail part of the OpenAPI document: messages posted over HTTP (raw, SendGrid,
Mailgun), an incident's messages, writing to the client, the client's address and rules."""

from __future__ import annotations

from typing import Any

from .base import SESSION, errors, json_answer

_ACCEPTED = json_answer({
    "type": "object", "required": ["status", "message", "mail"],
    "properties": {
        "status": {"enum": ["received", "held", "loop"]},
        "message": {"type": "string"},
        "mail": {"type": "integer"},
        "outcome": {"enum": ["opened", "replied", "reopened", "followed_up", "duplicate"]},
        "incident": {"type": "integer"},
    },
}, "Stored (and, unless held or automatic, turned into incident state)")
_INBOUND_ERRORS = errors(400, 401, 403, 404, 413, 415, 429)
_KEY = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
_RAW = {"required": True, "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}}}
_INCIDENT = {"name": "incident_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_CLIENT = {"name": "client_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}

SETTINGS = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean"},
        "address": {"type": ["string", "null"]},
        "local_part": {"type": "string"},
        "allowed_senders": {"type": "array", "items": {"type": "string"}},
        "unknown_senders": {"enum": ["refuse", "hold"]},
        "reopen_days": {"type": "integer", "minimum": 0, "maximum": 365},
        "rate_per_hour": {"type": "integer", "minimum": 0, "maximum": 10000},
        "default_service_id": {"type": ["integer", "null"]},
        "services": {"type": "array", "items": {"type": "object"}},
        "held": {"type": "array", "items": {"type": "object"}},
    },
}

SCHEMAS: dict[str, Any] = {"ClientMailSettings": SETTINGS}

PATHS: dict[str, Any] = {
    "/api/v1/intake/email/{key}": {"post": {
        "summary": "Post a client's e-mail as received (message/rfc822) with an e-mail integration key",
        "description": "The sender's rules apply as over SMTP: 403 refused (not an allowed sender), 429 over the "
                     "sender's rate limit. X-Envelope-From may carry the envelope sender.",
        "parameters": [_KEY], "requestBody": _RAW, "responses": {"202": _ACCEPTED, **_INBOUND_ERRORS},
    }},
    "/api/v1/intake/email": {"post": {
        "summary": "Post a client's e-mail (key as Bearer token or basic-auth password)",
        "security": [{"integrationKey": []}], "requestBody": _RAW, "responses": {"202": _ACCEPTED, **_INBOUND_ERRORS},
    }},
    "/api/v1/intake/email/{key}/{provider}": {"post": {
        "summary": "A mail provider's inbound webhook: SendGrid Inbound Parse (raw) or a Mailgun route (MIME)",
        "parameters": [_KEY, {"name": "provider", "in": "path", "required": True, "schema": {"enum": ["sendgrid", "mailgun"]}}],
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
            "email": {"type": "string"}, "envelope": {"type": "string"}, "body-mime": {"type": "string"},
            "sender": {"type": "string"}}}}}},
        "responses": {"202": _ACCEPTED, **_INBOUND_ERRORS},
    }},
    "/api/v1/incidents/{incident_id}/mails": {"get": {
        "summary": "The client e-mails of an incident, their attachments and raw sources (engineers)",
        "security": SESSION, "parameters": [_INCIDENT],
        "responses": {"200": json_answer({"type": "object", "required": ["mails"], "properties": {
            "mails": {"type": "array", "items": {"type": "object"}}}}), **errors(401, 403, 404)},
    }},
    "/api/v1/incidents/{incident_id}/client-mail": {"post": {
        "summary": "Write to the client from the incident (threaded; their answer comes back to the timeline)",
        "security": SESSION, "parameters": [_INCIDENT],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["text"], "properties": {"text": {"type": "string", "maxLength": 4000}}}}}},
        "responses": {"200": json_answer({"type": "object"}), **errors(400, 401, 403, 404, 409)},
    }},
    "/api/v1/clients/{client_id}/mail": {
        "get": {"summary": "A client's e-mail address, allowed senders and rules, and the messages held (managers)",
                "security": SESSION, "parameters": [_CLIENT],
                "responses": {"200": json_answer({"$ref": "#/components/schemas/ClientMailSettings"}), **errors(401, 403, 404)}},
        "put": {"summary": "Change a client's e-mail address, allowed senders and rules (managers)",
                "security": SESSION, "parameters": [_CLIENT],
                "requestBody": {"required": True, "content": {"application/json": {"schema": SETTINGS}}},
                "responses": {"200": json_answer({"$ref": "#/components/schemas/ClientMailSettings"}),
                              **errors(400, 401, 403, 404, 409)}},
    },
    "/api/v1/clients/{client_id}/mail/held/{mail_id}": {"post": {
        "summary": "Release a held message (it opens its incident) or discard it",
        "security": SESSION,
        "parameters": [_CLIENT, {"name": "mail_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["action"], "properties": {"action": {"enum": ["release", "discard"]}}}}}},
        "responses": {"200": json_answer({"type": "object"}), **errors(400, 401, 403, 404)},
    }},
}
