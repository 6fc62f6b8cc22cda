"""The status pages part of the OpenAPI document: the engineers' side (a page's settings,
secret link and webhooks, components' states, public updates, maintenance windows). The public side, in the
shape of Statuspage's v2 API, lives under /status/<client slug>/api/v2/ and is described by
Statuspage's own documentation."""

from __future__ import annotations

from typing import Any

from .base import SESSION, errors, json_answer, ref

TIME = {"type": "string", "format": "date-time"}


def _id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


SCHEMAS: dict[str, Any] = {
    "StatusPageSettings": {
        "type": "object", "required": ["visibility", "title", "color", "logo_url"],
        "properties": {"visibility": {"enum": ["public", "private"]}, "title": {"type": "string"},
                       "color": {"type": "string", "pattern": "^#[0-9a-f]{6}$"},
                       "logo_url": {"type": ["string", "null"]}},
    },
    "StatusWebhook": {
        "type": "object", "required": ["id", "url", "created_at"],
        "properties": {"id": {"type": "integer"},
                       "url": {"type": "string", "description": "its host and last characters: the URL is a credential"},
                       "created_at": TIME},
    },
    "MaintenanceWindow": {
        "type": "object",
        "required": ["id", "public_id", "title", "body", "service_ids", "starts_at", "ends_at", "hold_pages", "state"],
        "properties": {
            "id": {"type": "integer"}, "public_id": {"type": "string"}, "title": {"type": "string"},
            "body": {"type": "string"}, "service_ids": {"type": "array", "items": {"type": "integer"}},
            "starts_at": TIME, "ends_at": TIME, "hold_pages": {"type": "boolean"},
            "state": {"enum": ["scheduled", "in_progress", "completed", "cancelled"]},
        },
    },
}

WINDOW_IN = {"type": "object", "required": ["title", "starts_at", "ends_at"], "properties": {
    "title": {"type": "string"}, "body": {"type": "string"}, "starts_at": TIME, "ends_at": TIME,
    "service_ids": {"type": "array", "items": {"type": "integer"}},
    "hold_pages": {"type": "boolean", "description": "true (the default): alerts are recorded, not paged, until it ends"}}}

PATHS: dict[str, Any] = {
    "/api/v1/clients/{client_id}/status": {
        "get": {
            "summary": "A client's status page as its engineers see it: settings, address, subscribers, the page",
            "security": SESSION, "parameters": [_id("client_id")],
            "responses": {"200": json_answer({"type": "object", "required": ["visibility", "url", "page", "maintenance"],
                                              "properties": {"visibility": {"type": "string"}, "url": {"type": "string"},
                                                             "subscribers": {"type": "integer"},
                                                             "page": {"type": "object"},
                                                             "maintenance": {"type": "array",
                                                                             "items": ref("MaintenanceWindow")}}}),
                          **errors(401, 403, 404)},
        },
        "put": {
            "summary": "Who reads the page (public, or private: its secret link or a login) and its look (managers)",
            "security": SESSION, "parameters": [_id("client_id")],
            "requestBody": _body({"type": "object", "properties": {
                "visibility": {"enum": ["public", "private"]}, "title": {"type": "string"},
                "color": {"type": "string"}, "logo_url": {"type": ["string", "null"]}}}),
            "responses": {"200": json_answer(ref("StatusPageSettings")), **errors(400, 401, 403, 404, 415)},
        },
    },
    "/api/v1/clients/{client_id}/status/secret": {"post": {
        "summary": "A new secret link to a private page (the old one stops working); shown once (managers)",
        "security": SESSION, "parameters": [_id("client_id")],
        "responses": {"201": json_answer({"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}}),
                      **errors(400, 401, 403, 404)},
    }},
    "/api/v1/clients/{client_id}/status/webhooks": {
        "get": {
            "summary": "The addresses that receive the page's news as signed JSON (managers)",
            "security": SESSION, "parameters": [_id("client_id")],
            "responses": {"200": json_answer({"type": "object", "required": ["webhooks"], "properties": {
                "webhooks": {"type": "array", "items": ref("StatusWebhook")}}}), **errors(401, 403, 404)},
        },
        "post": {
            "summary": "Send the page's news to this https address too; the answer carries the secret that signs "
                       "each POST (X-Vigil-Signature-256: sha256=HMAC of the body), shown once (managers)",
            "security": SESSION, "parameters": [_id("client_id")],
            "requestBody": _body({"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}}),
            "responses": {"201": json_answer({"allOf": [ref("StatusWebhook"), {
                "type": "object", "required": ["secret"], "properties": {"secret": {"type": "string"}}}]}),
                **errors(400, 401, 403, 404, 409, 415)},
        },
    },
    "/api/v1/status-webhooks/{webhook_id}": {"delete": {
        "summary": "Stop sending the page's news to this webhook (what was queued for it is cancelled)",
        "security": SESSION, "parameters": [_id("webhook_id")],
        "responses": {"200": json_answer(ref("StatusWebhook")), **errors(400, 401, 403, 404)},
    }},
    "/api/v1/services/{service_id}/status": {"put": {
        "summary": "A component (a service on the page): its state by hand (override; null: derived), name, order",
        "security": SESSION, "parameters": [_id("service_id")],
        "requestBody": _body({"type": "object", "properties": {
            "override": {"enum": ["operational", "degraded_performance", "partial_outage", "major_outage",
                                  "under_maintenance", None]},
            "name": {"type": "string"}, "description": {"type": "string"}, "position": {"type": "integer"},
            "hidden": {"type": "boolean"}}}),
        "responses": {"200": json_answer({"type": "object", "required": ["service_id", "override"], "properties": {
            "service_id": {"type": "integer"}, "override": {"type": ["string", "null"]}}}),
            **errors(400, 401, 403, 404, 415)},
    }},
    "/api/v1/incidents/{incident_id}/public-updates": {"post": {
        "summary": "A public update: what the client reads on its status page (and its subscribers by e-mail)",
        "security": SESSION, "parameters": [_id("incident_id")],
        "requestBody": _body({"type": "object", "required": ["status", "body"], "properties": {
            "status": {"enum": ["investigating", "identified", "monitoring", "resolved"]},
            "title": {"type": ["string", "null"]}, "body": {"type": "string"}}}),
        "responses": {"201": json_answer({"type": "object", "required": ["id", "status", "body", "created_at"],
                                          "properties": {"id": {"type": "string"}, "status": {"type": "string"},
                                                         "title": {"type": ["string", "null"]},
                                                         "body": {"type": "string"}, "created_at": TIME}}),
                      **errors(400, 401, 403, 404, 409, 415)},
    }},
    "/api/v1/clients/{client_id}/maintenance": {
        "get": {
            "summary": "A client's maintenance windows ahead, running and of the last week",
            "security": SESSION, "parameters": [_id("client_id")],
            "responses": {"200": json_answer({"type": "object", "required": ["maintenance"], "properties": {
                "maintenance": {"type": "array", "items": ref("MaintenanceWindow")}}}), **errors(401, 403, 404)},
        },
        "post": {
            "summary": "Plan a maintenance window (for some services, or all when service_ids is empty)",
            "security": SESSION, "parameters": [_id("client_id")], "requestBody": _body(WINDOW_IN),
            "responses": {"201": json_answer(ref("MaintenanceWindow")), **errors(400, 401, 403, 404, 415)},
        },
    },
    "/api/v1/maintenance/{window_id}/{action}": {"post": {
        "summary": "start (now, early) or end (now, early: the incidents it held escalate at once; before it "
                   "started: cancelled) a maintenance window",
        "security": SESSION,
        "parameters": [_id("window_id"), {"name": "action", "in": "path", "required": True,
                                          "schema": {"enum": ["start", "end"]}}],
        "responses": {"200": json_answer(ref("MaintenanceWindow")), **errors(400, 401, 403, 404, 409)},
    }},
}
