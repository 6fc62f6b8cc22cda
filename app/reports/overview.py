"""The manager's overview: what is at risk now and soon. Open incidents with their response
deadline (unanswered ones first, the nearest deadline first), coverage gaps ahead and the clients
they leave without someone, who is on call in each pool, the engine's health, and today's
figures (the viewer's day). Read-only, composed from the other views of the world."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import access
from ..access import visible_pool_ids
from ..incidents.next_page import NextPage, next_page
from ..models import (
    OPEN_STATUSES,
    Client,
    EngineHeartbeat,
    EscalationStep,
    EscalationTarget,
    Incident,
    Notification,
    User,
)
from ..schedules import open_slots, readiness, whos_on

AT_RISK = timedelta(minutes=15)
GAP_DAYS = 14


@dataclass
class Row:
    inc: Incident
    risk: str  # late | soon | ok | answered
    next: NextPage | None


@dataclass
class Overview:
    incidents: list[Row] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    pools: list[dict[str, Any]] = field(default_factory=list)
    engine: dict[str, Any] = field(default_factory=dict)
    today: dict[str, Any] = field(default_factory=dict)
    unconfirmed: list[Any] = field(default_factory=list)  # shift starts nobody confirmed in time
    unreachable: list[Any] = field(default_factory=list)  # (shift start, why): phones in doubt before a shift

    @property
    def at_risk(self) -> int:
        return sum(1 for r in self.incidents if r.risk in ("late", "soon"))


def _risk(inc: Incident, now: datetime) -> str:
    if inc.responded_at is not None:
        return "answered"
    left = inc.response_deadline - now
    return "late" if left < timedelta(0) else "soon" if left < AT_RISK else "ok"


def incidents(session: Session, user: User, now: datetime) -> list[Row]:
    rows = [Row(i, _risk(i, now), None) for i in access.visible_incidents(session, user, OPEN_STATUSES, limit=200)]
    order = {"late": 0, "soon": 1, "ok": 2, "answered": 3}
    rows.sort(key=lambda r: (order[r.risk], r.inc.response_deadline if r.risk != "answered" else r.inc.created_at))
    for r in rows:
        r.next = next_page(session, r.inc) if r.risk != "answered" else None
    return rows


def clients_by_layer(session: Session) -> dict[int, list[Client]]:
    """For each schedule layer, the clients an escalation policy pages it for (the client's
    policy, or one of its services')."""
    q = (select(EscalationTarget.layer_id, EscalationStep.policy_id)
         .join(EscalationStep, EscalationTarget.step_id == EscalationStep.id)
         .where(EscalationTarget.layer_id.is_not(None)))
    by_policy: dict[int, set[int]] = {}
    for layer_id, policy_id in session.execute(q):
        by_policy.setdefault(policy_id, set()).add(layer_id)
    out: dict[int, list[Client]] = {}
    for c in session.execute(select(Client).order_by(Client.name)).scalars():
        pids = {c.policy_id} | {s.policy_id for s in c.services if s.policy_id}
        layers = set().union(*(by_policy.get(p, set()) for p in pids if p))
        for layer_id in layers:
            out.setdefault(layer_id, []).append(c)
    return out


def gaps(session: Session, user: User, now: datetime, days: int = GAP_DAYS) -> list[dict[str, Any]]:
    found = open_slots.gaps(session, now, now + timedelta(days=days), visible_pool_ids(session, user))
    affected = clients_by_layer(session)
    for g in found:
        g["clients"] = affected.get(g["layer"]["id"], [])
        g["now"] = g["start"] <= now
    return found


def pools(session: Session, user: User, now: datetime) -> list[dict[str, Any]]:
    board = whos_on.oncall(session, user, now)
    out: dict[str, dict[str, Any]] = {}
    for sched in board["schedules"]:
        pool = out.setdefault(sched["pool"]["name"], {"name": sched["pool"]["name"], "schedules": []})
        pool["schedules"].append(sched)
    return list(out.values())


def engine(session: Session, now: datetime, stale_seconds: int,
           health: tuple[bool, datetime | None]) -> dict[str, Any]:
    """`health`: engine.heartbeat.engine_status, read by the caller (the engine's folder sits
    above the reports, whose monthly report it sends)."""
    ok, last = health
    beats = session.execute(select(EngineHeartbeat).order_by(EngineHeartbeat.beat_at.desc())).scalars().all()
    live = [b for b in beats if (now - b.beat_at).total_seconds() <= stale_seconds]
    waiting = session.execute(select(func.count()).select_from(Notification).where(
        Notification.status == "pending", Notification.not_before <= now)).scalar() or 0
    failed = session.execute(select(func.count()).select_from(Notification).where(
        Notification.status == "failed", Notification.created_at >= now - timedelta(hours=24))).scalar() or 0
    return {"ok": ok, "last": last, "engines": len(live), "waiting": waiting, "failed_24h": failed}


def today(session: Session, user: User, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    start = datetime.combine(now.astimezone(tz).date(), time(0), tz)
    visible = access.visible_client_ids(session, user)

    def q(*where: Any) -> Any:
        stmt = select(Incident).where(*where)
        if visible is not None:
            stmt = stmt.where(Incident.client_id.in_(visible))
        return session.execute(stmt).scalars().all()

    opened = q(Incident.created_at >= start)
    answered = q(Incident.responded_at >= start)
    resolved = q(Incident.resolved_at >= start)
    late = [i for i in answered if i.responded_at > i.response_deadline]
    breached = q(Incident.sla_breached_at >= start)
    minutes = [(i.responded_at - (i.held_until or i.created_at)).total_seconds() / 60 for i in answered]
    return {
        "since": start, "opened": len(opened), "answered": len(answered), "resolved": len(resolved),
        "missed": len({i.id for i in late} | {i.id for i in breached}),
        "median_response_min": round(statistics.median(minutes)) if minutes else None,
    }


def build(session: Session, user: User, now: datetime, tz: ZoneInfo, stale_seconds: int,
          ready: readiness.Settings | None = None, *, health: tuple[bool, datetime | None]) -> Overview:
    ready = ready or readiness.Settings.of({})
    return Overview(
        incidents=incidents(session, user, now),
        gaps=gaps(session, user, now),
        pools=pools(session, user, now),
        engine=engine(session, now, stale_seconds, health),
        today=today(session, user, now, tz),
        unconfirmed=readiness.unconfirmed(session, now),
        unreachable=readiness.unreachable_soon(session, now, ready),
    )



