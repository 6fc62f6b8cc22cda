"""The monthly client report: one document per client and month (the client's own calendar
month, in its zone): its incidents, the response figures against its contract (the response
deadline of its tier, the share acknowledged within 15 / 30 / 45 / 60 minutes, each breach and
why), and the maintenance done. A page, a PDF, and an e-mail on the first of each month to the
client's report contacts, sent by the engine (`send_due`, registered in engine/jobs.py) through
notify.outbound with a `once_key` per client, month and contact: exactly once, whatever the
restarts and the number of engines.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import ActionError
from ..models import TIERS, Client, Incident, MaintenanceWindow, Notification, ReportContact
from ..notify import outbound
from . import figures, history, sql
from .pdf import Document

log = logging.getLogger("vigil.reports")
MAX_LISTED = 500
# Sent from the 1st of the month; an engine down on the 1st still sends it up to the 7th, and a
# contact added later in the month waits for the next report rather than getting a stale one.
SEND_UNTIL_DAY = 7


def maintenance_done(session: Session, client: Client, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The maintenance windows of `client` that ran in [start, end) (started, early or on time,
    and not cancelled): [{"title", "start", "end", "summary"}], as they really ran."""
    rows = session.execute(
        select(MaintenanceWindow).where(
            MaintenanceWindow.client_id == client.id, MaintenanceWindow.started_at.is_not(None),
            MaintenanceWindow.started_at < end,
            func.coalesce(MaintenanceWindow.completed_at, MaintenanceWindow.ends_at) >= start)
        .order_by(MaintenanceWindow.started_at)).scalars()
    return [{"title": w.title, "start": w.started_at, "end": w.completed_at or w.ends_at, "summary": w.body}
            for w in rows]


def month_of(text: str) -> date:
    """"2026-03" -> the first day of that month."""
    try:
        first = datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise ActionError("the month is written YYYY-MM", 400) from None
    if not 1971 <= first.year <= 9998:
        raise ActionError("the month must be between 1971 and 9998", 400)
    return first


def next_month(first: date) -> date:
    return date(first.year + (first.month == 12), first.month % 12 + 1, 1)


def previous_month(first: date) -> date:
    return date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)


@dataclass
class Report:
    client: Client
    month: date
    tz: ZoneInfo
    start: datetime
    end: datetime
    overall: figures.Row
    services: list[figures.Row]
    breaches: list[figures.Breach]
    incidents: list[Incident]
    maintenance: list[dict[str, Any]] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.client.name}: {self.month.strftime('%B %Y')}"

    @property
    def deadline_minutes(self) -> int | None:
        return self.client.policy.response_minutes if self.client.policy else None

    def local(self, t: datetime | None) -> str:
        return t.astimezone(self.tz).strftime("%Y-%m-%d %H:%M") if t else "—"


def build(session: Session, client: Client, month: date, now: datetime) -> Report:
    tz = ZoneInfo(client.timezone or "UTC")
    start = datetime.combine(month, time(0), tz)
    end = datetime.combine(next_month(month), time(0), tz)
    kw: dict[str, Any] = {"start": start, "end": end, "now": now, "client_id": client.id}
    overall = figures.compute(session, by="overall", **kw)
    incs = list(session.execute(sql.restrict(select(Incident), start, end, None, client.id)
                                .order_by(Incident.id).limit(MAX_LISTED)).scalars())
    return Report(client, month, tz, start, end, overall[0] if overall else figures.Row("all", "All incidents"),
                  figures.compute(session, by="service", **kw), figures.breaches(session, **kw), incs,
                  maintenance_done(session, client, start, end))


def _minutes(s: float | None) -> str:
    if s is None:
        return "—"
    m = round(s / 60)
    return f"{m} min" if m < 60 else f"{m // 60} h {m % 60:02d}"


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.0f} %"


def summary_lines(r: Report) -> list[tuple[str, str]]:
    o = r.overall
    deadline = f"{r.deadline_minutes} min" if r.deadline_minutes else "—"
    return [
        ("Contract", f"{TIERS.get(r.client.tier, r.client.tier)}; response deadline {deadline}"),
        ("Incidents", str(o.count)),
        ("Response deadline kept", f"{_pct(o.sla_share)} ({o.sla_kept} kept, {o.sla_missed} missed)"),
        *[(f"Acknowledged within {m} min", _pct(o.share_within(m))) for m in sql.THRESHOLDS],
        ("Time to acknowledge", f"mean {_minutes(o.ack_mean)}, median {_minutes(o.ack_median)}, p90 {_minutes(o.ack_p90)}"),
        ("Time to resolve", f"median {_minutes(o.resolve_median)}, p90 {_minutes(o.resolve_p90)}"),
        ("Outside coverage hours", str(o.outside_coverage)),
        ("Waiting on your team (hand-overs)", f"{o.handovers} hand-over(s), {_minutes(o.handover_wait)}"
         if o.handovers else "none"),
    ]


# --- the page's tables as data: CSV (one per table) and JSON --------------------------------

TABLES = ("figures", "breaches", "incidents", "maintenance")
MAINTENANCE_COLUMNS = ("title", "start", "end", "summary")


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def table(r: Report, name: str, now: datetime) -> tuple[tuple[str, ...], list[list[Any]]]:
    """One of the page's tables (TABLES) as a header and rows, with the same columns as the
    other reports' CSV: "figures" is the month overall, then each service."""
    if name == "figures":
        return figures.TABLE_COLUMNS, [figures.table_row(x) for x in (r.overall, *r.services)]
    if name == "breaches":
        return figures.BREACH_COLUMNS, [figures.breach_row(b.as_dict()) for b in r.breaches]
    if name == "incidents":
        return history.CSV_COLUMNS, [history.csv_row(history.as_dict(i, now)) for i in r.incidents]
    if name == "maintenance":
        return MAINTENANCE_COLUMNS, [[m["title"], _iso(m["start"]), _iso(m["end"]), m["summary"]]
                                     for m in r.maintenance]
    raise KeyError(name)


def as_dict(r: Report, now: datetime) -> dict[str, Any]:
    """The whole report as JSON: what the page, the PDF and the e-mail show."""
    return {
        "client": {"id": r.client.id, "slug": r.client.slug, "name": r.client.name, "tier": r.client.tier},
        "month": f"{r.month:%Y-%m}", "timezone": r.tz.key, "start": _iso(r.start), "end": _iso(r.end),
        "response_deadline_minutes": r.deadline_minutes,
        "summary": [{"label": k, "value": v} for k, v in summary_lines(r)],
        "overall": r.overall.as_dict(), "services": [x.as_dict() for x in r.services],
        "breaches": [b.as_dict() for b in r.breaches],
        "incidents": [history.as_dict(i, now) for i in r.incidents],
        "maintenance": [{**m, "start": _iso(m["start"]), "end": _iso(m["end"])} for m in r.maintenance],
    }


def pdf(r: Report) -> bytes:
    doc = Document(f"Monthly report — {r.title}")
    doc.paragraph(f"{r.local(r.start)} to {r.local(r.end)} ({r.tz.key})")
    doc.heading("Response figures")
    doc.table(["", ""], summary_lines(r), widths=(60, 120))
    if r.services:
        doc.heading("Per service")
        doc.table(["Service", "Incidents", "Kept", "Missed", "Ack median"],
                  [(s.label, s.count, s.sla_kept, s.sla_missed, _minutes(s.ack_median)) for s in r.services],
                  widths=(70, 25, 25, 25, 35))
    doc.heading("Deadlines missed")
    doc.table(["Incident", "Began", "Answered", "Why"],
              [(f"#{b.incident.number} {b.incident.summary}", r.local(b.incident.created_at),
                r.local(b.incident.responded_at) if b.incident.responded_at else "never", b.reason())
               for b in r.breaches] or [("none", "", "", "")], widths=(60, 30, 30, 60))
    doc.heading("Incidents")
    doc.table(["#", "Began", "Service", "Summary", "Status"],
              [(i.number, r.local(i.created_at), i.service.name, i.summary, i.status) for i in r.incidents]
              or [("", "", "", "No incident this month.", "")], widths=(15, 30, 35, 75, 25))
    doc.heading("Maintenance done")
    if r.maintenance:
        doc.table(["Maintenance", "Start", "End", "Summary"],
                  [(m.get("title", ""), r.local(m.get("start")), r.local(m.get("end")), m.get("summary", ""))
                   for m in r.maintenance], widths=(50, 30, 30, 70))
    else:
        doc.paragraph("No maintenance recorded this month.")
    return doc.output()


def email_body(r: Report) -> str:
    lines = ["Hello,", "", f"Here is Vigil's report for {r.title}, attached as a PDF. In short:", ""]
    lines += [f"- {k}: {v}" for k, v in summary_lines(r)]
    lines += ["", "Reply to this e-mail with any question.", ""]
    return "\n".join(lines)


def once_key(client_id: int, month: date, contact_id: int) -> str:
    return f"monthly-report:{client_id}:{month:%Y-%m}:{contact_id}"


def send_due(session: Session, now: datetime) -> int:
    """From the 1st of each month (the client's day; up to the 7th), send last month's report to each of the
    client's report contacts, once: the once_key's unique index keeps the first of two engines
    (or of a restart), and a key already queued is not built again."""
    queued = 0
    for client in session.execute(select(Client).order_by(Client.id)).scalars():
        contacts = list(session.execute(select(ReportContact).where(ReportContact.client_id == client.id)
                                        .order_by(ReportContact.id)).scalars())
        if not contacts:
            continue
        tz = ZoneInfo(client.timezone or "UTC")
        today = now.astimezone(tz).date()
        if today.day > SEND_UNTIL_DAY:
            continue
        month = previous_month(today.replace(day=1))
        keys = {c.id: once_key(client.id, month, c.id) for c in contacts}
        done = set(session.execute(select(Notification.once_key)
                                   .where(Notification.once_key.in_(list(keys.values())))).scalars())
        todo = [c for c in contacts if keys[c.id] not in done]
        if not todo:
            continue
        report = build(session, client, month, now)
        attachment = outbound.Attachment(f"vigil-{client.slug}-{month:%Y-%m}.pdf", "application/pdf", pdf(report))
        for c in todo:
            n = outbound.queue(session, kind="email", address=c.email, body=email_body(report), purpose="report",
                               now=now, subject=f"Vigil monthly report — {report.title}", attachments=[attachment],
                               client_id=client.id, once_key=keys[c.id],
                               headers={"Auto-Submitted": "auto-generated", "X-Vigil-Client": client.slug})
            queued += n is not None
    return queued


def add_contact(session: Session, client: Client, name: Any, email: Any, now: datetime) -> ReportContact:
    if not isinstance(email, str) or "@" not in email.strip() or len(email.strip()) > 254 or any(
            ch.isspace() or ch in ",;<>" for ch in email.strip()):
        raise ActionError("give one e-mail address, such as cto@client.example", 400)
    email = email.strip()
    if session.execute(select(ReportContact).where(ReportContact.client_id == client.id,
                                                   ReportContact.email == email)).scalar_one_or_none():
        raise ActionError(f"{email} already receives the report", 409)
    c = ReportContact(client_id=client.id, name=(name or "").strip()[:200] if isinstance(name, str) else "",
                      email=email, created_at=now)
    session.add(c)
    session.flush()
    return c
