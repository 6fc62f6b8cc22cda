"""Incident history: every incident, open or resolved, newest first, with search (a number, words
of the summary, a dedup key) and filters (client, service, tier, urgency, status, who
responded, a date range, SLA kept or missed), paginated by keyset on the id (`before`), so page
500 costs what page 1 does. Readers see the clients they may see (access.visible_client_ids: a
client viewer only their own client's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session, joinedload

from ..errors import ActionError
from ..models import OPEN_STATUSES, TIERS, Client, Incident, Status
from . import sql
from .period import day_arg

PAGE = 50
MAX_PAGE = 500
STATUSES = ("open", *(s.value for s in Status))


@dataclass
class Filters:
    q: str = ""
    client_id: int | None = None
    service_id: int | None = None
    tier: str | None = None
    urgency: str | None = None
    status: str | None = None
    responder_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    sla: str | None = None  # kept | missed
    before: int | None = None
    limit: int = PAGE

    @classmethod
    def parse(cls, args: Any, tz: ZoneInfo) -> Filters:
        """From query arguments; dates are whole days in the reader's zone (to inclusive)."""
        def num(name: str) -> int | None:
            v = (args.get(name) or "").strip()
            if not v:
                return None
            if not v.isdecimal():
                raise ActionError(f"{name} must be a positive whole number", 400)
            if int(v) >= 2**31:  # ids are 32-bit on PostgreSQL: no such row (and no overflow)
                return 2**31 - 1 if name == "before" else 0
            return int(v)

        def choice(name: str, allowed: tuple[str, ...]) -> str | None:
            v = (args.get(name) or "").strip()
            if v and v not in allowed:
                raise ActionError(f"{name} must be one of {', '.join(allowed)}", 400)
            return v or None

        def day(name: str) -> date | None:
            return day_arg(args, name)

        q = (args.get("q") or "").strip()
        if len(q) > 200:
            raise ActionError("q is longer than 200 characters", 400)
        first, last = day("from"), day("to")
        if first and last and last < first:
            raise ActionError("to is before from", 400)
        limit = num("limit") or PAGE
        return cls(
            q=q, client_id=num("client"), service_id=num("service"), tier=choice("tier", tuple(TIERS)),
            urgency=choice("urgency", ("high", "low")), status=choice("status", STATUSES),
            responder_id=num("responder"), sla=choice("sla", ("kept", "missed")), before=num("before"),
            start=datetime.combine(first, time(0), tz) if first else None,
            end=datetime.combine(last + timedelta(days=1), time(0), tz) if last else None,
            limit=max(1, min(limit, MAX_PAGE)),
        )

    def args(self) -> dict[str, Any]:
        """The query arguments that give these filters back (for "next page" links)."""
        out = {"q": self.q, "client": self.client_id, "service": self.service_id, "tier": self.tier,
               "urgency": self.urgency, "status": self.status, "responder": self.responder_id, "sla": self.sla}
        return {k: v for k, v in out.items() if v not in (None, "")}


@dataclass
class Page:
    incidents: list[Incident] = field(default_factory=list)
    next_before: int | None = None  # pass as `before` for the next page; None: this was the last


def search(session: Session, f: Filters, *, now: datetime, visible: set[int] | None) -> Page:
    q = select(Incident).options(joinedload(Incident.client), joinedload(Incident.service),
                                 joinedload(Incident.acknowledged_by), joinedload(Incident.resolved_by))
    q = sql.restrict(q, f.start, f.end, visible, f.client_id)
    if f.q:
        words = f.q.lstrip("#")
        like = "%" + f.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        match = [func.lower(Incident.summary).like(like.lower(), escape="\\"), Incident.dedup_key == f.q]
        if words.isdecimal() and int(words) < 2**31:
            match.append(Incident.id == int(words))
        q = q.where(or_(*match))
    if f.service_id is not None:
        q = q.where(Incident.service_id == f.service_id)
    if f.tier is not None:
        q = q.where(Incident.client_id.in_(select(Client.id).where(Client.tier == f.tier)))
    if f.urgency is not None:
        q = q.where(Incident.urgency == f.urgency)
    if f.status == "open":
        q = q.where(Incident.status.in_(OPEN_STATUSES))
    elif f.status is not None:
        q = q.where(Incident.status == f.status)
    if f.responder_id is not None:
        r = f.responder_id
        q = q.where(or_(Incident.acknowledged_by_id == r, Incident.slot1_user_id == r,
                        Incident.slot2_user_id == r, Incident.resolved_by_id == r))
    if f.sla == "kept":
        q = q.where(sql.sla_kept())
    elif f.sla == "missed":
        q = q.where(sql.sla_missed(now))
    if f.before is not None:
        q = q.where(Incident.id < f.before)
    if visible is not None and not visible:
        q = q.where(false())
    rows = list(session.execute(q.order_by(Incident.id.desc()).limit(f.limit + 1)).unique().scalars())
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    return Page(rows, rows[-1].id if more and rows else None)


def as_dict(inc: Incident, now: datetime) -> dict[str, Any]:
    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t else None

    start = inc.held_until if inc.held_until and inc.held_until > inc.created_at else inc.created_at
    ack = None if inc.responded_at is None else max(0.0, (inc.responded_at - start).total_seconds())
    missed = (inc.responded_at is not None and inc.responded_at > inc.response_deadline) or (
        inc.responded_at is None and (inc.sla_breached_at is not None or inc.response_deadline < now))
    kept = inc.responded_at is not None and inc.responded_at <= inc.response_deadline
    return {
        "id": inc.id, "number": inc.number, "summary": inc.summary, "status": inc.status, "urgency": inc.urgency,
        "dedup_key": inc.dedup_key, "source": inc.source,
        "client": {"id": inc.client_id, "name": inc.client.name, "tier": inc.client.tier},
        "service": {"id": inc.service_id, "name": inc.service.name},
        "created_at": iso(inc.created_at), "held_until": iso(inc.held_until),
        "response_deadline": iso(inc.response_deadline), "responded_at": iso(inc.responded_at),
        "acknowledged_by": inc.acknowledged_by.name if inc.acknowledged_by else None,
        "resolved_at": iso(inc.resolved_at), "resolved_by": inc.resolved_by.name if inc.resolved_by else None,
        "ack_seconds": ack, "sla": "kept" if kept else "missed" if missed else "running",
    }


CSV_COLUMNS = ("number", "created_at", "client", "service", "tier", "urgency", "status", "summary", "dedup_key",
               "held_until", "responded_at", "ack_seconds", "acknowledged_by", "response_deadline", "sla",
               "resolved_at", "resolved_by")


def csv_row(d: dict[str, Any]) -> list[Any]:
    flat = {**d, "client": d["client"]["name"], "tier": d["client"]["tier"], "service": d["service"]["name"]}
    return [flat.get(c) if flat.get(c) is not None else "" for c in CSV_COLUMNS]
