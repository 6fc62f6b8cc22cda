"""Post-mortems: per incident, its timeline, the actions logged and the resolution summary
(from the incident) and the fields an engineer fills in (impact, root cause, what went well,
follow-ups); exported as Markdown, a printable page and a PDF."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ..errors import ActionError
from ..incidents import timeline_of
from ..models import Incident, Postmortem, TimelineEntry, User
from .pdf import Document

FIELDS = {"impact": "Impact", "root_cause": "Root cause", "went_well": "What went well", "follow_ups": "Follow-ups"}
MAX_FIELD = 20000


@dataclass
class Story:
    incident: Incident
    fields: dict[str, str]
    timeline: list[TimelineEntry]
    updated_at: datetime | None
    updated_by: str | None

    @property
    def actions(self) -> list[TimelineEntry]:
        return [e for e in self.timeline if e.kind == "action"]


def story(session: Session, inc: Incident) -> Story:
    pm = session.get(Postmortem, inc.id)
    fields = {k: (getattr(pm, k) if pm else "") for k in FIELDS}
    return Story(inc, fields, timeline_of(session, inc.id), pm.updated_at if pm else None,
                 pm.updated_by.name if pm and pm.updated_by else None)


def save(session: Session, inc: Incident, user: User, values: Any, now: datetime) -> Postmortem:
    """Set the fields given (others are kept). The caller checked the user may act on `inc`."""
    if not hasattr(values, "get"):
        raise ActionError("send the post-mortem fields as an object", 400)
    pm = session.get(Postmortem, inc.id)
    if pm is None:
        pm = Postmortem(incident_id=inc.id, updated_at=now, **dict.fromkeys(FIELDS, ""))
        session.add(pm)
    for key in FIELDS:
        v = values.get(key)
        if v is None:
            continue
        if not isinstance(v, str):
            raise ActionError(f"{key} must be text", 400)
        if len(v) > MAX_FIELD:
            raise ActionError(f"{key} is longer than {MAX_FIELD} characters", 400)
        setattr(pm, key, v.strip())
    pm.updated_at, pm.updated_by_id = now, user.id
    session.flush()
    return pm


def _when(t: datetime | None, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if t else "—"


def facts(st: Story, tz: ZoneInfo) -> list[tuple[str, str]]:
    i = st.incident
    start = i.held_until if i.held_until and i.held_until > i.created_at else i.created_at

    def span(t: datetime | None) -> str:
        if t is None:
            return "—"
        m = max(0, round((t - start).total_seconds() / 60))
        return f"{m} min" if m < 60 else f"{m // 60} h {m % 60:02d}"

    return [("Client", i.client.name), ("Service", i.service.name), ("Urgency", i.urgency), ("Status", i.status),
            ("Began", _when(i.created_at, tz)), ("Held until (outside coverage)", _when(i.held_until, tz)),
            ("Response deadline", _when(i.response_deadline, tz)),
            ("First response", f"{_when(i.responded_at, tz)} (after {span(i.responded_at)})"),
            ("Acknowledged by", i.acknowledged_by.name if i.acknowledged_by else "—"),
            ("Resolved", f"{_when(i.resolved_at, tz)} (after {span(i.resolved_at)})"),
            ("SLA", "kept" if i.sla_kept else "missed" if i.sla_kept is False else "running")]


def markdown(st: Story, tz: ZoneInfo) -> str:
    i = st.incident

    def block(text: str) -> str:
        return text.strip() or "_Not written yet._"

    lines = [f"# Post-mortem: #{i.number} {i.summary}", ""]
    lines += [f"- **{k}:** {v}" for k, v in facts(st, tz)]
    lines += ["", "## Summary", "", block(i.resolution_summary or "")]
    for key, title in FIELDS.items():
        lines += ["", f"## {title}", "", block(st.fields[key])]
    lines += ["", "## Actions logged", ""]
    lines += [f"- {_when(e.at, tz)} {e.actor_label}: {e.message}" for e in st.actions] or ["_None._"]
    lines += ["", f"## Timeline ({tz.key})", ""]
    lines += [f"- {_when(e.at, tz)} — {e.message}" for e in st.timeline]
    return "\n".join(lines) + "\n"


def pdf(st: Story, tz: ZoneInfo) -> bytes:
    i = st.incident
    doc = Document(f"Post-mortem: #{i.number} {i.summary}")
    doc.table(["", ""], facts(st, tz), widths=(50, 130))
    doc.heading("Summary")
    doc.paragraph(i.resolution_summary or "")
    for key, title in FIELDS.items():
        doc.heading(title)
        doc.paragraph(st.fields[key] or "Not written yet.")
    doc.heading("Actions logged")
    doc.table(["When", "Who", "What"], [(_when(e.at, tz), e.actor_label, e.message) for e in st.actions]
              or [("—", "", "")], widths=(40, 40, 100))
    doc.heading(f"Timeline ({tz.key})")
    doc.table(["When", "What"], [(_when(e.at, tz), e.message) for e in st.timeline], widths=(40, 140))
    return doc.output()
