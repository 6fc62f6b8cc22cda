"""What every intake source turns its payload into.

A source module (alertmanager.py, grafana.py, events_v2.py, generic.py, later email.py) exposes
`SOURCE: str` and `parse(body: object) -> list[IntakeEvent]`, a pure function of the decoded JSON
body. It raises IntakeError with a clear message for anything it cannot accept. Deciding what the
events do to incidents is app/incidents/'s job (trigger.py), not the parser's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Action = Literal["trigger", "acknowledge", "resolve"]
Urgency = Literal["high", "low"]

# Every text an event carries fits the column it is stored in (tests/test_intake_parsers.py checks
# these against app/models): PostgreSQL refuses an overlong value, and the alert would be lost.
MAX_SUMMARY = 1024  # incidents.summary, alerts.summary
MAX_DEDUP_KEY = 255  # incidents.dedup_key, alerts.dedup_key
MAX_SEVERITY = 32  # incidents.severity
MAX_DETAILS = 50_000  # incidents.details is unbounded text; a page is not a dump


class IntakeError(Exception):
    """Bad input. `status` is the HTTP status to answer (400 unless said otherwise)."""

    def __init__(self, message: str, *, errors: list[str] | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or [message]
        self.status = status


@dataclass(frozen=True)
class IntakeEvent:
    action: Action
    summary: str  # one line, at most MAX_SUMMARY characters
    dedup_key: str | None  # None: the incident layer makes one up (trigger only)
    details: str = ""  # human-readable text shown on the incident
    severity: str | None = None  # the source's own word (critical, warning, ...)
    urgency: Urgency = "high"
    occurred_at: datetime | None = None  # aware UTC, when the source says it happened
    links: tuple[dict[str, str], ...] = field(default_factory=tuple)  # {"href":..., "text":...}

    def __post_init__(self) -> None:
        """Whatever a parser took from the sender, the event fits the database: the summary and
        severity are clipped, the details cut, an overlong dedup key replaced by its hash (so
        repeats still deduplicate). Parsers may refuse overlong input first (events_v2 and
        generic refuse an overlong dedup_key, like PagerDuty); this is the net under them all."""
        fit = object.__setattr__
        fit(self, "summary", clip(self.summary))
        if self.severity is not None:
            fit(self, "severity", clip(self.severity, MAX_SEVERITY) or None)
        if self.dedup_key is not None:
            fit(self, "dedup_key", stable_key(self.dedup_key, "key"))
        if len(self.details) > MAX_DETAILS:
            fit(self, "details", self.details[: MAX_DETAILS - 1] + "…")


def urgency_for(severity: str | None, default: Urgency = "high") -> Urgency:
    """Map a source severity word to our two urgencies. Unknown words page (fail loud)."""
    if severity is None:
        return default
    s = severity.strip().lower()
    if s in {"warning", "warn", "info", "information", "informational", "low", "minor", "none", "debug"}:
        return "low"
    return "high"


def require_object(body: Any, what: str = "body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise IntakeError(f"{what} must be a JSON object")
    return body


def clip(text: str, limit: int = MAX_SUMMARY) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def stable_key(key: str, prefix: str) -> str:
    """The key itself when it fits, else a hash of it, so a long group key still dedups."""
    if len(key) <= MAX_DEDUP_KEY:
        return key
    return f"{prefix}:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
