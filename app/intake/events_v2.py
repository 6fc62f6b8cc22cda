"""PagerDuty Events API v2 compatible intake, served at POST /v2/enqueue.

Any tool that can page PagerDuty can page Vigil by changing the URL: the routing_key is a Vigil
integration key. Like PagerDuty, every problem is reported at once: IntakeError("Event object is
invalid", errors=[...]). Deliberate differences from PagerDuty:
- a payload.summary over 1024 characters is clipped, not refused (the page still goes out);
- an unreadable payload.timestamp is ignored (the receive time is used) instead of refused;
- link, image and client URLs that are not http(s) are dropped, never rendered.
A trigger without dedup_key gets dedup_key None: the caller makes one up and returns it.
"""

from __future__ import annotations

from typing import Any, cast

from app.intake.base import MAX_DEDUP_KEY, Action, IntakeError, IntakeEvent, clip, urgency_for
from app.intake.generic import ACTIONS, limit, parse_links, parse_timestamp, pretty_json, web_link

SOURCE = "events_v2"
SEVERITIES = ("critical", "error", "warning", "info")
INVALID = "Event object is invalid"
MAX_ERRORS = 20


def routing_key(body: object) -> str:
    """The routing key (a Vigil integration key), checked before anything else is looked at."""
    if not isinstance(body, dict):
        raise IntakeError(INVALID, errors=["body must be a JSON object"])
    key = body.get("routing_key")
    problem = _routing_key_problem(key)
    if problem:
        raise IntakeError(INVALID, errors=[problem])
    return cast(str, key)


def parse(body: object) -> list[IntakeEvent]:
    if not isinstance(body, dict):
        raise IntakeError(INVALID, errors=["body must be a JSON object"])
    errors: list[str] = []
    if problem := _routing_key_problem(body.get("routing_key")):
        errors.append(problem)
    action = body.get("event_action")
    if _blank(action):
        errors.append("event_action is missing or blank")
    elif action not in ACTIONS:
        errors.append("event_action must be one of trigger, acknowledge, resolve")

    dedup_key = body.get("dedup_key")
    if _blank(dedup_key):
        dedup_key = None
        if action in ("acknowledge", "resolve"):
            errors.append(f"dedup_key is missing or blank (required to {action})")
    elif not isinstance(dedup_key, str):
        errors.append("dedup_key must be a string")
    elif len(dedup_key) > MAX_DEDUP_KEY:
        errors.append(f"dedup_key is too long (maximum {MAX_DEDUP_KEY} characters)")

    event = _trigger(body, dedup_key, errors) if action == "trigger" else None
    if errors:
        shown = errors[:MAX_ERRORS] + (
            [f"... and {len(errors) - MAX_ERRORS} more"] if len(errors) > MAX_ERRORS else []
        )
        raise IntakeError(INVALID, errors=shown)
    if event is None:  # acknowledge / resolve: PagerDuty ignores everything but the key
        act = cast(Action, action)
        return [
            IntakeEvent(
                action=act,
                summary=clip(f"{act.capitalize()} event for {dedup_key}"),
                dedup_key=dedup_key,
            )
        ]
    return [event]


def _trigger(body: dict[str, Any], dedup_key: Any, errors: list[str]) -> IntakeEvent | None:
    payload = body.get("payload")
    if _blank(payload):
        errors.append("payload is missing or blank (required to trigger)")
        return None
    if not isinstance(payload, dict):
        errors.append("payload must be an object")
        return None
    summary = _text(payload.get("summary"), "payload.summary", errors, required=True)
    source = _text(payload.get("source"), "payload.source", errors, required=True)
    severity = payload.get("severity")
    if _blank(severity):
        errors.append("payload.severity is missing or blank")
    elif severity not in SEVERITIES:
        errors.append("payload.severity must be one of critical, error, warning, info")
    timestamp = _text(payload.get("timestamp"), "payload.timestamp", errors)
    extras = {
        name: _text(payload.get(name), f"payload.{name}", errors)
        for name in ("component", "group", "class")
    }
    client = _text(body.get("client"), "client", errors)
    client_url = _text(body.get("client_url"), "client_url", errors)
    links, problems = parse_links(body.get("links"))
    images, image_problems = _images(body.get("images"))
    errors += problems + image_problems
    if errors:
        return None

    lines = [f"Source: {source}"] + [
        f"{name.capitalize()}: {value}" for name, value in extras.items() if value
    ]
    if client:
        lines.append(f"Client: {client}" + (f" ({client_url})" if client_url else ""))
    details = payload.get("custom_details")
    if details is not None:
        lines += [
            "",
            "Custom details:",
            details if isinstance(details, str) else pretty_json(details),
        ]
    client_link = web_link(client_url, client or "Client")
    return IntakeEvent(
        action="trigger",
        summary=clip(cast(str, summary)),
        dedup_key=dedup_key,
        details=limit("\n".join(lines)),
        severity=cast(str, severity),
        urgency=urgency_for(cast(str, severity)),
        occurred_at=parse_timestamp(timestamp) if timestamp else None,
        links=tuple(links + images + ([client_link] if client_link else [])),
    )


def _routing_key_problem(key: object) -> str | None:
    if _blank(key):
        return "routing_key is missing or blank"
    return None if isinstance(key, str) else "routing_key must be a string"


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: object, where: str, errors: list[str], required: bool = False) -> str | None:
    if _blank(value):
        if required:
            errors.append(f"{where} is missing or blank")
        return None
    if not isinstance(value, str):
        errors.append(f"{where} must be a string")
        return None
    return value


def _images(value: object) -> tuple[list[dict[str, str]], list[str]]:
    """PagerDuty's images[] ({src, href, alt}); we keep each as a link to the image."""
    if value is None:
        return [], []
    if not isinstance(value, list):
        return [], ["images must be a list of {src, href, alt} objects"]
    links: list[dict[str, str]] = []
    problems: list[str] = []
    for i, item in enumerate(value):
        src = item.get("src") if isinstance(item, dict) else None
        alt = item.get("alt") if isinstance(item, dict) else None
        if not isinstance(src, str) or not src.strip():
            problems.append(f"images[{i}].src must be a non-empty string")
        elif link := web_link(src, alt if isinstance(alt, str) and alt.strip() else "Image"):
            links.append(link)
    return links[:5], problems
