"""The reports part of the OpenAPI document: incident history, response figures, breaches, the
numbers of the charts, load per engineer and the monthly client report (the same figures as the
pages and their CSV)."""

from __future__ import annotations

from typing import Any

from .base import SESSION, errors, json_answer

NUM = {"type": ["number", "null"]}
TIME = {"type": ["string", "null"], "format": "date-time"}
DAY = {"type": "string", "format": "date"}


def _q(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            **({"description": description} if description else {})}


PERIOD = [_q("from", DAY, "first day, in the reader's zone (default: 29 days before `to`)"),
          _q("to", DAY, "last day, inclusive (default: today)"),
          _q("client", {"type": "string", "pattern": "^[0-9]+$"}, "one client's id")]

SCHEMAS: dict[str, Any] = {
    "HistoryIncident": {
        "type": "object",
        "required": ["id", "number", "summary", "status", "urgency", "client", "service", "created_at", "sla"],
        "properties": {
            "id": {"type": "integer"}, "number": {"type": "integer"}, "summary": {"type": "string"},
            "status": {"type": "string"}, "urgency": {"type": "string"}, "dedup_key": {"type": "string"},
            "source": {"type": "string"}, "client": {"type": "object"}, "service": {"type": "object"},
            "created_at": TIME, "held_until": TIME, "response_deadline": TIME, "responded_at": TIME,
            "acknowledged_by": {"type": ["string", "null"]}, "resolved_at": TIME,
            "resolved_by": {"type": ["string", "null"]}, "ack_seconds": NUM,
            "sla": {"enum": ["kept", "missed", "running"]},
        },
    },
    "FigureGroup": {
        "type": "object",
        "required": ["key", "label", "count", "acknowledged", "within", "share_within", "sla_kept", "sla_missed"],
        "description": "Times in seconds; the response clock starts at creation or at the end of a hold outside "
                       "coverage hours; within/share_within: acknowledged within 15/30/45/60 minutes (<=).",
        "properties": {
            "key": {}, "label": {"type": "string"}, "count": {"type": "integer"},
            "acknowledged": {"type": "integer"}, "ack_mean": NUM, "ack_median": NUM, "ack_p90": NUM,
            "resolved": {"type": "integer"}, "resolve_mean": NUM, "resolve_median": NUM, "resolve_p90": NUM,
            "within": {"type": "object"}, "share_within": {"type": "object"},
            "sla_kept": {"type": "integer"}, "sla_missed": {"type": "integer"}, "sla_running": {"type": "integer"},
            "sla_share": NUM, "reached_last_step": {"type": "integer"}, "outside_coverage": {"type": "integer"},
            "held": {"type": "integer"}, "reopened": {"type": "integer"}, "handovers": {"type": "integer"},
            "handover_wait": {"type": "number"},
        },
    },
}


SCHEMAS["Chart"] = {
    "type": "object", "required": ["name", "title", "unit", "axis", "labels", "series"],
    "description": "The table of a chart's numbers: one value per label in each series (stacked when several).",
    "properties": {
        "from": DAY, "to": DAY, "timezone": {"type": "string"}, "name": {"type": "string"},
        "title": {"type": "string"}, "desc": {"type": "string"}, "unit": {"type": "string"},
        "axis": {"type": "string"}, "labels": {"type": "array", "items": {"type": "string"}},
        "series": {"type": "array", "items": {"type": "object", "required": ["name", "values"], "properties": {
            "name": {"type": "string"}, "values": {"type": "array", "items": {"type": "number"}}}}},
    },
}
SCHEMAS["MonthlyReport"] = {
    "type": "object",
    "required": ["client", "month", "timezone", "summary", "overall", "services", "breaches", "incidents",
                 "maintenance"],
    "description": "The client's calendar month in its zone: the page's summary lines, the figures overall and "
                   "per service, the deadlines missed and why, the incidents (up to 500) and the maintenance done.",
    "properties": {
        "client": {"type": "object"}, "month": {"type": "string"}, "timezone": {"type": "string"},
        "start": TIME, "end": TIME, "response_deadline_minutes": {"type": ["integer", "null"]},
        "summary": {"type": "array", "items": {"type": "object", "required": ["label", "value"], "properties": {
            "label": {"type": "string"}, "value": {"type": "string"}}}},
        "overall": {"$ref": "#/components/schemas/FigureGroup"},
        "services": {"type": "array", "items": {"$ref": "#/components/schemas/FigureGroup"}},
        "breaches": {"type": "array", "items": {"type": "object"}},
        "incidents": {"type": "array", "items": {"$ref": "#/components/schemas/HistoryIncident"}},
        "maintenance": {"type": "array", "items": {"type": "object"}},
    },
}


def _get(summary: str, params: list[dict[str, Any]], schema: dict[str, Any], codes: tuple[int, ...]) -> dict[str, Any]:
    return {"get": {"summary": summary, "security": SESSION, "parameters": params,
                    "responses": {"200": json_answer(schema), **errors(*codes)}}}


POSTMORTEM = {"type": "object", "required": ["incident_id", "impact", "root_cause", "went_well", "follow_ups"],
              "properties": {"incident_id": {"type": "integer"}, "impact": {"type": "string"},
                             "root_cause": {"type": "string"}, "went_well": {"type": "string"},
                             "follow_ups": {"type": "string"}, "updated_at": TIME,
                             "updated_by": {"type": ["string", "null"]}}}
CHART = {"name": "name", "in": "path", "required": True, "schema": {"enum": ["ack", "sla", "hours", "days", "load"]}}
SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}, "description": "the client's short name"}
MONTH = {"name": "month", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
         "description": "YYYY-MM"}
INCIDENT_ID = {"name": "incident_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}

PATHS: dict[str, Any] = {
    "/api/v1/incidents/{incident_id}/postmortem": {
        "get": {"summary": "The incident's post-mortem fields (Markdown and PDF: /incidents/{id}/postmortem.md|.pdf)",
                "security": SESSION, "parameters": [INCIDENT_ID],
                "responses": {"200": json_answer(POSTMORTEM), **errors(401, 404)}},
        "put": {"summary": "Set post-mortem fields (those sent; the others are kept): engineers, managers, admins",
                "security": SESSION, "parameters": [INCIDENT_ID],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {k: {"type": "string", "maxLength": 20000} for k in
                                                     ("impact", "root_cause", "went_well", "follow_ups")}}}}},
                "responses": {"200": json_answer(POSTMORTEM), **errors(400, 401, 403, 404, 415)}},
    },
    "/api/v1/reports/history": _get(
        "Every incident, open or resolved, newest first: search and filters, keyset pages (`before`)",
        [_q("q", {"type": "string", "maxLength": 200}, "a number (#1042), words of the summary, or a dedup key"),
         _q("client", {"type": "string", "pattern": "^[0-9]+$"}), _q("service", {"type": "string", "pattern": "^[0-9]+$"}),
         _q("tier", {"enum": ["4h", "1h"]}), _q("urgency", {"enum": ["high", "low"]}),
         _q("status", {"enum": ["open", "triggered", "acknowledged", "handed_over", "resolved"]}),
         _q("responder", {"type": "string", "pattern": "^[0-9]+$"}), _q("sla", {"enum": ["kept", "missed"]}),
         _q("from", DAY), _q("to", DAY), _q("before", {"type": "string", "pattern": "^[0-9]+$"}),
         _q("limit", {"type": "string", "pattern": "^[0-9]+$"})],
        {"type": "object", "required": ["incidents", "next_before"], "properties": {
            "incidents": {"type": "array", "items": {"$ref": "#/components/schemas/HistoryIncident"}},
            "next_before": {"type": ["integer", "null"]}}},
        (400, 401, 404)),
    "/api/v1/reports/figures": _get(
        "Response figures for a period, overall or per client, service, tier or engineer",
        [*PERIOD, _q("by", {"enum": ["overall", "client", "service", "tier", "engineer"]})],
        {"type": "object", "required": ["from", "to", "by", "groups"], "properties": {
            "from": DAY, "to": DAY, "timezone": {"type": "string"}, "by": {"type": "string"},
            "groups": {"type": "array", "items": {"$ref": "#/components/schemas/FigureGroup"}}}},
        (400, 401, 404)),
    "/api/v1/reports/breaches": _get(
        "Missed response deadlines, each with who was notified when, on which channel, and what failed",
        PERIOD,
        {"type": "object", "required": ["breaches"], "properties": {"from": DAY, "to": DAY, "breaches": {
            "type": "array", "items": {"type": "object", "required": ["incident", "reason", "pages"], "properties": {
                "incident": {"type": "object"}, "late_by_seconds": NUM, "reason": {"type": "string"},
                "pages": {"type": "array", "items": {"type": "object"}}}}}}},
        (400, 401, 404)),
    "/api/v1/reports/charts/{name}": _get(
        "A chart's numbers (the table beside it on /reports): time to acknowledge, deadline kept per month, "
        "incidents by hour of day and day of week (the reader's zone); load per engineer for managers and admins",
        [CHART, *PERIOD], {"$ref": "#/components/schemas/Chart"}, (400, 401, 403, 404)),
    "/api/v1/reports/monthly/{slug}/{month}": _get(
        "The monthly client report (page: /reports/monthly/{slug}/{month}; PDF; a CSV per table)",
        [SLUG, MONTH], {"$ref": "#/components/schemas/MonthlyReport"}, (400, 401, 404)),
    "/api/v1/reports/load": _get(
        "Load per engineer: incidents handled, pages, night and weekend pages (their own zone), time on incidents",
        PERIOD[:2],
        {"type": "object", "required": ["engineers"], "properties": {"from": DAY, "to": DAY, "engineers": {
            "type": "array", "items": {"type": "object"}}}},
        (400, 401, 403)),
}
