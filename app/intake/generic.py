"""Generic JSON intake, plus the small helpers the other parsers share.

Body: {"summary": str, "details": str | object, "dedup_key": str, "severity": str,
       "action": "trigger" | "acknowledge" | "resolve", "links": [{"href": str, "text": str}]}
Only `summary` is required; `action` defaults to trigger; acknowledge and resolve need a
`dedup_key`. Unknown fields are ignored so senders can post richer objects unchanged.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import cast

from app.intake.base import (
    MAX_DEDUP_KEY,
    MAX_DETAILS,
    MAX_SEVERITY,
    Action,
    IntakeError,
    IntakeEvent,
    clip,
    require_object,
    urgency_for,
)

SOURCE = "generic"
ACTIONS: tuple[Action, ...] = ("trigger", "acknowledge", "resolve")
MAX_LINKS = 20
MAX_URL = 2048

_NANOSECONDS = re.compile(r"(\.\d{6})\d+")


def parse(body: object) -> list[IntakeEvent]:
    msg = require_object(body)
    summary = msg.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise IntakeError("summary is required and must be a non-empty string")

    action = msg.get("action")
    if action is None:
        action = "trigger"
    if action not in ACTIONS:
        raise IntakeError("action must be one of trigger, acknowledge, resolve")

    dedup_key = msg.get("dedup_key")
    if dedup_key is not None and not isinstance(dedup_key, str):
        raise IntakeError("dedup_key must be a string")
    if dedup_key is not None and not dedup_key.strip():
        dedup_key = None
    if dedup_key is not None and len(dedup_key) > MAX_DEDUP_KEY:
        raise IntakeError(f"dedup_key must be at most {MAX_DEDUP_KEY} characters")
    if dedup_key is None and action != "trigger":
        raise IntakeError(f"dedup_key is required to {action} an incident")

    severity = msg.get("severity")
    if severity is not None and not isinstance(severity, str):
        raise IntakeError("severity must be a string")
    severity = clip(severity, MAX_SEVERITY) if severity and severity.strip() else None

    details = msg.get("details")
    if details is None:
        text = ""
    elif isinstance(details, str):
        text = details
    elif isinstance(details, dict | list):
        text = pretty_json(details)
    else:
        raise IntakeError("details must be a string or an object")

    links, problems = parse_links(msg.get("links"))
    if problems:
        raise IntakeError(problems[0], errors=problems)

    return [
        IntakeEvent(
            action=cast(Action, action),
            summary=clip(summary),
            dedup_key=dedup_key,
            details=limit(text),
            severity=severity,
            urgency=urgency_for(severity),
            links=tuple(links),
        )
    ]


# Helpers shared by the other parsers.


def parse_timestamp(text: str) -> datetime | None:
    """RFC 3339 / ISO 8601 text to aware UTC. None for Go's zero time ("0001-01-01T00:00:00Z",
    Alertmanager's "not set") and for anything unreadable; a timestamp without offset is UTC."""
    s = _NANOSECONDS.sub(r"\1", text.strip(), count=1)  # Go sends nanoseconds; datetime keeps µs
    if s.endswith(("z", "Z")):
        s = s[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(s)
    except ValueError:
        return None
    if when.year <= 1:
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00
        return None


def pretty_json(value: object) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        # The indenting encoder is pure Python and recurses deeper than the parser did.
        try:
            return json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError):
            return "(too deeply nested to show)"


def limit(text: str, size: int = MAX_DETAILS) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def web_link(href: object, text: str) -> dict[str, str] | None:
    """A link we are willing to render: only http(s), so a sender cannot plant javascript: URLs."""
    if not isinstance(href, str):
        return None
    href = href.strip()
    if len(href) > MAX_URL or not href.lower().startswith(("http://", "https://")):
        return None
    return {"href": href, "text": clip(text, 200) or href}


def parse_links(value: object, field: str = "links") -> tuple[list[dict[str, str]], list[str]]:
    """A list of {href, text} objects: the usable links and every problem found."""
    if value is None:
        return [], []
    if not isinstance(value, list):
        return [], [f"{field} must be a list of {{href, text}} objects"]
    links: list[dict[str, str]] = []
    problems: list[str] = []
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where} must be an object")
            continue
        href, text = item.get("href"), item.get("text")
        if not isinstance(href, str) or not href.strip():
            problems.append(f"{where}.href must be a non-empty string")
        if text is not None and not isinstance(text, str):
            problems.append(f"{where}.text must be a string")
        link = web_link(href, text if isinstance(text, str) else "")
        if link and len(links) < MAX_LINKS:
            links.append(link)
    return links, problems


def string_map(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise IntakeError(f"{where} must be an object")
    for name, item in value.items():
        if not isinstance(item, str):
            raise IntakeError(f"{where}.{clip(name, 60)} must be a string")
    return value
