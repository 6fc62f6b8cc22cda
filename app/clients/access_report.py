"""The per-client access report: every reveal of connection info, every change to it, and every
incident action, for a period, ready to hand to the client (a page, and a CSV).

Days are the client's own (its time zone), inclusive: "1 to 31 March" means what the client
thinks it means. Managers and admins produce it; a client viewer does not get it directly,
because it names engineers with their addresses and devices, which the team reviews before
handing over (see README, "Security").
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from .. import access, audit
from ..models import AuditEntry, Client, Role, User

MAX_DAYS = 366
COLUMNS = ["time_utc", "time_local", "who", "role", "action", "description", "incident", "address", "device"]


class ReportError(ValueError):
    pass


@dataclass
class AccessReport:
    client: Client
    first_day: date
    last_day: date
    entries: list[AuditEntry]

    def local(self, t: datetime) -> datetime:
        return t.astimezone(ZoneInfo(self.client.timezone))

    def rows(self) -> list[list[str]]:
        return [[
            e.at.isoformat(), self.local(e.at).isoformat(), e.actor_label, e.actor_role or "", e.action,
            audit.describe(e), str(e.incident_id or ""), e.ip or "", e.user_agent or "",
        ] for e in self.entries]


def parse_period(first: str | None, last: str | None, today: date) -> tuple[date, date]:
    try:
        last_day = date.fromisoformat(last) if last else today
        first_day = date.fromisoformat(first) if first else last_day - timedelta(days=29)
    except ValueError:
        raise ReportError("dates are written YYYY-MM-DD") from None
    if first_day > last_day:
        raise ReportError("the period starts after it ends")
    if (last_day - first_day).days >= MAX_DAYS:
        raise ReportError(f"a report covers at most {MAX_DAYS} days")
    return first_day, last_day


def build(session: Session, user: User, client: Client, first_day: date, last_day: date) -> AccessReport:
    access.require_role(user, Role.admin, Role.manager)
    tz = ZoneInfo(client.timezone)
    start = datetime.combine(first_day, time(), tz).astimezone(UTC)
    end = datetime.combine(last_day + timedelta(days=1), time(), tz).astimezone(UTC)
    entries = [e for e in audit.entries_for_client(session, client.id, start, end) if e.action != "report.exported"]
    return AccessReport(client, first_day, last_day, entries)


def _cell(value: str) -> str:
    # A cell starting like a formula runs as one in a spreadsheet (CSV injection): a device
    # name or a label is data, so it is quoted as text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(report: AccessReport) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for row in report.rows():
        w.writerow([_cell(v) for v in row])
    return buf.getvalue()
