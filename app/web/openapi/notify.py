"""OpenAPI for the notification API (push subscriptions, contact methods, rules, test
notifications, ack links); one part of the document (see __init__.py). Everything but the ack
links is refused to client viewers (403): they are never paged."""

from __future__ import annotations

from typing import Any

from .base import ERROR, SESSION, errors, json_answer, ref

METHOD_ID = {"name": "method_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
TIME = {"type": ["string", "null"], "format": "date-time"}


SCHEMAS: dict[str, Any] = {
    "ContactMethod": {
        "type": "object",
        "required": ["id", "kind", "address", "label", "enabled"],
        "properties": {
            "id": {"type": "integer"},
            "kind": {"enum": ["push", "sms", "voice", "email", "recording"]},
            "address": {"type": "string", "description": "E.164 phone, e-mail, or (push) the push service's host"},
            "label": {"type": "string"},
            "user_agent": {"type": ["string", "null"]},
            "enabled": {"type": "boolean"},
            "disabled_reason": {"type": ["string", "null"]},
            "created_at": TIME, "last_success_at": TIME, "last_failure_at": TIME,
        },
    },
    "NotificationRule": {
        "type": "object",
        "required": ["urgency", "kind"],
        "properties": {
            "urgency": {"enum": ["high", "low"]},
            "kind": {"enum": ["push", "sms", "voice", "email"]},
            "delay_minutes": {"type": "integer", "minimum": 0, "maximum": 60},
            "window": {"description": "Only within this daily window of the person's own zone (past midnight "
                                      "when end is before start); null or absent: all day. Windows of one urgency "
                                      "must not overlap.",
                       "anyOf": [{"type": "null"}, {"type": "object", "required": ["start", "end"], "properties": {
                           "start": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
                           "end": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}}}]},
        },
    },
    "Rules": {
        "type": "object",
        "required": ["rules", "defaults"],
        "properties": {
            "rules": {"type": "array", "items": ref("NotificationRule")},
            "defaults": {"type": "object", "description": "per urgency: true when the built-in defaults apply",
                         "properties": {"high": {"type": "boolean"}, "low": {"type": "boolean"}}},
            "timezone": {"type": "string", "description": "the zone the windows are read in (the person's)"},
        },
    },
    "Delivery": {
        "type": "object",
        "required": ["id", "kind", "purpose", "status", "attempts"],
        "properties": {
            "id": {"type": "integer"}, "kind": {"type": "string"},
            "purpose": {"enum": ["page", "help", "test"]},
            "status": {"enum": ["pending", "sending", "sent", "failed", "cancelled"]},
            "incident_id": {"type": ["integer", "null"]}, "contact_method_id": {"type": ["integer", "null"]},
            "created_at": TIME, "sent_at": TIME, "last_error": {"type": ["string", "null"]},
            "attempts": {"type": "array", "items": {"type": "object", "properties": {
                "started_at": TIME, "outcome": {"enum": ["sent", "retry", "failed"]},
                "status_code": {"type": ["integer", "null"]}, "latency_ms": {"type": "integer"},
                "target": {"type": ["string", "null"]}, "error": {"type": ["string", "null"]}}}},
        },
    },
}


SUBSCRIPTION_OUT = {"type": "object", "required": ["id", "label", "created_at"], "properties": {
    "id": {"type": "integer"}, "label": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}}}
RULES_BODY = {"oneOf": [
    {"type": "array", "items": ref("NotificationRule")},
    {"type": "object", "properties": {"rules": {"type": "array", "items": ref("NotificationRule")}}},
]}

PATHS: dict[str, Any] = {
    "/api/v1/push/vapid-public-key": {"get": {
        "summary": "The VAPID public key, the PWA's applicationServerKey",
        "security": SESSION,
        "responses": {"200": json_answer({"type": "object", "required": ["public_key"], "properties": {
            "public_key": {"type": "string", "description": "base64url, uncompressed P-256 point, unpadded"}}}),
            **errors(401, 403), "503": ERROR},
    }},
    "/api/v1/push/subscriptions": {
        "get": {"summary": "My push subscriptions (one per device)", "security": SESSION,
                "responses": {"200": json_answer({"type": "object", "required": ["subscriptions"], "properties": {
                    "subscriptions": {"type": "array", "items": ref("ContactMethod")}}}), **errors(401, 403)}},
        "post": {
            "summary": "Subscribe this device: PushSubscription.toJSON() plus an optional label",
            "description": "The same endpoint again updates its keys and user agent (200).",
            "security": SESSION,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["endpoint", "keys"], "properties": {
                    "endpoint": {"type": "string", "format": "uri", "maxLength": 2048},
                    "expirationTime": {"type": ["number", "null"]},
                    "keys": {"type": "object", "required": ["p256dh", "auth"], "properties": {
                        "p256dh": {"type": "string"}, "auth": {"type": "string"}}},
                    "label": {"type": "string", "maxLength": 200}}}}}},
            "responses": {"201": json_answer(SUBSCRIPTION_OUT, "Subscribed"), "200": json_answer(SUBSCRIPTION_OUT, "Updated"),
                          **errors(400, 401, 403, 409, 415)},
        },
    },
    "/api/v1/push/subscriptions/{method_id}": {"delete": {
        "summary": "Unsubscribe a device of mine", "security": SESSION, "parameters": [METHOD_ID],
        "responses": {"204": {"description": "Removed"}, **errors(400, 401, 403, 404)},
    }},
    "/api/v1/me/contact-methods": {
        "get": {"summary": "My contact methods", "security": SESSION,
                "responses": {"200": json_answer({"type": "object", "required": ["contact_methods"], "properties": {
                    "contact_methods": {"type": "array", "items": ref("ContactMethod")}}}), **errors(401, 403)}},
        "post": {
            "summary": "Add a phone (sms, voice) or an e-mail address", "security": SESSION,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["kind", "address"], "properties": {
                    "kind": {"enum": ["sms", "voice", "email"]}, "address": {"type": "string"},
                    "label": {"type": "string", "maxLength": 200}}}}}},
            "responses": {"201": json_answer({"type": "object", "properties": {"contact_method": ref("ContactMethod")}}),
                          "200": json_answer({"type": "object", "properties": {"contact_method": ref("ContactMethod")}},
                                             "Already there (re-enabled)"),
                          **errors(400, 401, 403, 409, 415)},
        },
    },
    "/api/v1/me/contact-methods/{method_id}": {"delete": {
        "summary": "Remove a contact method of mine", "security": SESSION, "parameters": [METHOD_ID],
        "responses": {"204": {"description": "Removed"}, **errors(400, 401, 403, 404)},
    }},
    "/api/v1/me/contact-methods/{method_id}/test": {"post": {
        "summary": "Send me a test notification through this contact method",
        "description": "Queued for the engine; follow it at /api/v1/me/notifications/{id}. One per method per 30 s.",
        "security": SESSION, "parameters": [METHOD_ID],
        "responses": {"202": json_answer({"type": "object", "required": ["notification"], "properties": {
            "notification": {"type": "integer"}}}, "Queued"), **errors(400, 401, 403, 404, 409, 429)},
    }},
    "/api/v1/me/notifications/{notification_id}": {"get": {
        "summary": "One of my notifications and its delivery attempts", "security": SESSION,
        "parameters": [{"name": "notification_id", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 1}}],
        "responses": {"200": json_answer({"type": "object", "properties": {"notification": ref("Delivery")}}),
                      **errors(401, 403, 404)},
    }},
    "/api/v1/me/notification-rules": {
        "get": {"summary": "Which channels page me at each urgency, and after what delay", "security": SESSION,
                "responses": {"200": json_answer(ref("Rules")), **errors(401, 403)}},
        "put": {"summary": "Replace my rules (an urgency left out uses the defaults)", "security": SESSION,
                "requestBody": {"required": True, "content": {"application/json": {"schema": RULES_BODY}}},
                "responses": {"200": json_answer(ref("Rules")), **errors(400, 401, 403, 415)}},
    },
    "/api/v1/ack-links/{token}": {"post": {
        "summary": "Acknowledge with a one-time link's token (the service worker's Acknowledge button)",
        "description": "No session: the token is the credential. The same op_id again returns the first answer. "
                       "A bundled page's token (an alert storm: one page listing several incidents) acknowledges "
                       "each of its incidents still waiting; the answer then also says how many (`acknowledged`) "
                       "and which (`incidents`, their ids), and `incident` is the first of them.",
        "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"op_id": {"type": "string", "maxLength": 100}}}}}},
        "responses": {
            "200": json_answer(ref("ActionResult")),
            "409": json_answer(ref("ActionResult"), "Refused by the incident's state (acknowledged by someone else...)"),
            "404": json_answer({"allOf": [ref("Error")], "properties": {"reason": {"const": "unknown"}}}, "Unknown or altered link"),
            "410": json_answer({"allOf": [ref("Error")], "properties": {"reason": {"enum": ["used", "expired"]}}},
                               "Used or expired link"),
            **errors(400, 403, 415),
        },
    }},
}
