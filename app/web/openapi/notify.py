"""OpenAPI for the notification API (push subscriptions, contact methods, rules, test
notifications, ack links); merged into the document by openapi.spec(). Everything but the ack
links is refused to client viewers (403): they are never paged."""

from __future__ import annotations

from typing import Any

from . import ERROR, SESSION, _errors, _json, _ref

METHOD_ID = {"name": "method_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
TIME = {"type": ["string", "null"], "format": "date-time"}


def schemas() -> dict[str, Any]:
    return {
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
            },
        },
        "Rules": {
            "type": "object",
            "required": ["rules", "defaults"],
            "properties": {
                "rules": {"type": "array", "items": _ref("NotificationRule")},
                "defaults": {"type": "object", "description": "per urgency: true when the built-in defaults apply",
                             "properties": {"high": {"type": "boolean"}, "low": {"type": "boolean"}}},
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


def paths() -> dict[str, Any]:
    subscription_out = {"type": "object", "required": ["id", "label", "created_at"], "properties": {
        "id": {"type": "integer"}, "label": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}}}
    rules_body = {"oneOf": [
        {"type": "array", "items": _ref("NotificationRule")},
        {"type": "object", "properties": {"rules": {"type": "array", "items": _ref("NotificationRule")}}},
    ]}
    return {
        "/api/v1/push/vapid-public-key": {"get": {
            "summary": "The VAPID public key, the PWA's applicationServerKey",
            "security": SESSION,
            "responses": {"200": _json({"type": "object", "required": ["public_key"], "properties": {
                "public_key": {"type": "string", "description": "base64url, uncompressed P-256 point, unpadded"}}}),
                **_errors(401, 403), "503": ERROR},
        }},
        "/api/v1/push/subscriptions": {
            "get": {"summary": "My push subscriptions (one per device)", "security": SESSION,
                    "responses": {"200": _json({"type": "object", "required": ["subscriptions"], "properties": {
                        "subscriptions": {"type": "array", "items": _ref("ContactMethod")}}}), **_errors(401, 403)}},
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
                "responses": {"201": _json(subscription_out, "Subscribed"), "200": _json(subscription_out, "Updated"),
                              **_errors(400, 401, 403, 409, 415)},
            },
        },
        "/api/v1/push/subscriptions/{method_id}": {"delete": {
            "summary": "Unsubscribe a device of mine", "security": SESSION, "parameters": [METHOD_ID],
            "responses": {"204": {"description": "Removed"}, **_errors(400, 401, 403, 404)},
        }},
        "/api/v1/me/contact-methods": {
            "get": {"summary": "My contact methods", "security": SESSION,
                    "responses": {"200": _json({"type": "object", "required": ["contact_methods"], "properties": {
                        "contact_methods": {"type": "array", "items": _ref("ContactMethod")}}}), **_errors(401, 403)}},
            "post": {
                "summary": "Add a phone (sms, voice) or an e-mail address", "security": SESSION,
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["kind", "address"], "properties": {
                        "kind": {"enum": ["sms", "voice", "email"]}, "address": {"type": "string"},
                        "label": {"type": "string", "maxLength": 200}}}}}},
                "responses": {"201": _json({"type": "object", "properties": {"contact_method": _ref("ContactMethod")}}),
                              "200": _json({"type": "object", "properties": {"contact_method": _ref("ContactMethod")}},
                                           "Already there (re-enabled)"),
                              **_errors(400, 401, 403, 409, 415)},
            },
        },
        "/api/v1/me/contact-methods/{method_id}": {"delete": {
            "summary": "Remove a contact method of mine", "security": SESSION, "parameters": [METHOD_ID],
            "responses": {"204": {"description": "Removed"}, **_errors(400, 401, 403, 404)},
        }},
        "/api/v1/me/contact-methods/{method_id}/test": {"post": {
            "summary": "Send me a test notification through this contact method",
            "description": "Queued for the engine; follow it at /api/v1/me/notifications/{id}. One per method per 30 s.",
            "security": SESSION, "parameters": [METHOD_ID],
            "responses": {"202": _json({"type": "object", "required": ["notification"], "properties": {
                "notification": {"type": "integer"}}}, "Queued"), **_errors(400, 401, 403, 404, 409, 429)},
        }},
        "/api/v1/me/notifications/{notification_id}": {"get": {
            "summary": "One of my notifications and its delivery attempts", "security": SESSION,
            "parameters": [{"name": "notification_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1}}],
            "responses": {"200": _json({"type": "object", "properties": {"notification": _ref("Delivery")}}),
                          **_errors(401, 403, 404)},
        }},
        "/api/v1/me/notification-rules": {
            "get": {"summary": "Which channels page me at each urgency, and after what delay", "security": SESSION,
                    "responses": {"200": _json(_ref("Rules")), **_errors(401, 403)}},
            "put": {"summary": "Replace my rules (an urgency left out uses the defaults)", "security": SESSION,
                    "requestBody": {"required": True, "content": {"application/json": {"schema": rules_body}}},
                    "responses": {"200": _json(_ref("Rules")), **_errors(400, 401, 403, 415)}},
        },
        "/api/v1/ack-links/{token}": {"post": {
            "summary": "Acknowledge with a one-time link's token (the service worker's Acknowledge button)",
            "description": "No session: the token is the credential. The same op_id again returns the first answer.",
            "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"op_id": {"type": "string", "maxLength": 100}}}}}},
            "responses": {
                "200": _json(_ref("ActionResult")),
                "409": _json(_ref("ActionResult"), "Refused by the incident's state (acknowledged by someone else...)"),
                "404": _json({"allOf": [_ref("Error")], "properties": {"reason": {"const": "unknown"}}}, "Unknown or altered link"),
                "410": _json({"allOf": [_ref("Error")], "properties": {"reason": {"enum": ["used", "expired"]}}},
                             "Used or expired link"),
                **_errors(400, 403, 415),
            },
        }},
    }
