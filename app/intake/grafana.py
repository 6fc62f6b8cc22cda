"""Grafana alert webhooks, in both formats Grafana has sent.

Grafana Alerting (Grafana 8+, "unified"): the Alertmanager group shape (receiver, status,
alerts[], groupKey, ...) plus a few Grafana fields. One incident per group, deduplicated on
groupKey, exactly like alertmanager.py.

Legacy dashboard alerting (Grafana ≤ 10): one rule per message (ruleId, ruleName, ruleUrl,
state, evalMatches, ...). One incident per rule, deduplicated on "grafana-rule-<ruleId>".
States alerting and no_data trigger, ok resolves; paused and pending are not problems (yet),
so they produce no event at all: parse returns an empty list and the caller answers 2xx.
"""

from __future__ import annotations

import hashlib
from typing import Any

from app.intake.alertmanager import parse_group
from app.intake.base import (
    MAX_SEVERITY,
    Action,
    IntakeError,
    IntakeEvent,
    clip,
    require_object,
    stable_key,
    urgency_for,
)
from app.intake.generic import limit, string_map, web_link

SOURCE = "grafana"

LEGACY_STATES: dict[str, Action | None] = {
    "alerting": "trigger",
    "no_data": "trigger",
    "ok": "resolve",
    "paused": None,
    "pending": None,
}


def parse(body: object) -> list[IntakeEvent]:
    msg = require_object(body)
    if "alerts" in msg:
        return [parse_group(msg, product="Grafana", key_prefix="grafana")]
    if any(k in msg for k in ("ruleId", "ruleName", "ruleUrl", "evalMatches")) or "state" in msg:
        return _legacy(msg)
    raise IntakeError(
        "not a Grafana alert: expected alerts[] (Grafana Alerting) or ruleId and state (legacy alerting)"
    )


def _legacy(msg: dict[str, Any]) -> list[IntakeEvent]:
    state = msg.get("state")
    if not isinstance(state, str) or state not in LEGACY_STATES:
        raise IntakeError("state must be one of " + ", ".join(LEGACY_STATES))
    action = LEGACY_STATES[state]
    dedup_key = _rule_key(msg)
    if action is None:
        return []

    rule_name = msg.get("ruleName") if isinstance(msg.get("ruleName"), str) else ""
    title = msg.get("title")
    if not isinstance(title, str) or not title.strip():
        title = f"[{state}] {rule_name or 'Grafana alert'}"
    tags = string_map(msg.get("tags"), "tags")
    severity = tags.get("severity")
    severity = clip(severity, MAX_SEVERITY) if severity and severity.strip() else None
    return [
        IntakeEvent(
            action=action,
            summary=clip(title),
            dedup_key=dedup_key,
            details=_legacy_details(msg, state, rule_name, tags),
            severity=severity,
            urgency=urgency_for(severity),
            links=tuple(
                link
                for link in (
                    web_link(msg.get("ruleUrl"), "Alert rule"),
                    web_link(msg.get("imageUrl"), "Panel image"),
                )
                if link
            ),
        )
    ]


def _rule_key(msg: dict[str, Any]) -> str:
    rule_id = msg.get("ruleId")
    if rule_id is not None:
        if (
            isinstance(rule_id, bool)
            or not isinstance(rule_id, int | str)
            or not str(rule_id).strip()
        ):
            raise IntakeError("ruleId must be an integer")
        return stable_key(f"grafana-rule-{rule_id}", "grafana-rule")
    # Without an id, the rule's URL (or failing that its name) is what stays the same.
    for field in ("ruleUrl", "ruleName"):
        value = msg.get(field)
        if isinstance(value, str) and value.strip():
            digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:40]
            return f"grafana-rule-{digest}"
    raise IntakeError("ruleId, ruleUrl or ruleName is required to tell alert rules apart")


def _legacy_details(msg: dict[str, Any], state: str, rule_name: str, tags: dict[str, str]) -> str:
    lines = [f"Grafana legacy alert: {state}"]
    if rule_name:
        lines.append(f"Rule: {rule_name}")
    message = msg.get("message")
    if isinstance(message, str) and message.strip():
        lines += ["", message.strip(), ""]
    matches = msg.get("evalMatches")
    if isinstance(matches, list) and matches:
        lines.append("Matches:")
        for match in matches:
            if isinstance(match, dict):
                metric, value = match.get("metric"), match.get("value")
                lines.append(f"  {metric if isinstance(metric, str) else '?'} = {_scalar(value)}")
    if tags:
        lines.append("Tags: " + ", ".join(f"{k}={v}" for k, v in tags.items()))
    for field, label in (("ruleUrl", "Rule URL"), ("imageUrl", "Image")):
        if isinstance(msg.get(field), str) and msg[field]:
            lines.append(f"{label}: {msg[field]}")
    return limit("\n".join(lines))


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    return str(value) if isinstance(value, int | float | str) else "?"
