"""Response figures for a period, overall or per client, service, tier or engineer: how many,
time to acknowledge and to resolve (mean, median, p90), the share acknowledged within 15 / 30 /
45 / 60 minutes, the SLA kept and missed (each breach listed with its reason), escalations that
reached the policy's last step, incidents outside coverage hours and reopened ones counted
apart, and the time spent waiting on the client's team (hand-overs), also apart.

One GROUP BY over the incidents and one percentile query, whatever the number of incidents
(bench/reports.py); how each incident counts is written in sql.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, or_, select
from sqlalchemy.orm import Session

from ..clients import handover
from ..models import (
    Client,
    DeliveryAttempt,
    EscalationStep,
    Handover,
    Incident,
    Notification,
    PageIncident,
    Service,
    StepFiring,
    User,
)
from . import sql

GROUPS = ("overall", "client", "service", "tier", "engineer")


@dataclass
class Row:
    key: Any
    label: str
    count: int = 0
    acknowledged: int = 0
    ack_mean: float | None = None  # seconds
    ack_median: float | None = None
    ack_p90: float | None = None
    resolved: int = 0
    resolve_mean: float | None = None
    resolve_median: float | None = None
    resolve_p90: float | None = None
    within: dict[int, int] = field(default_factory=dict)  # minutes -> incidents acknowledged within
    sla_kept: int = 0
    sla_missed: int = 0
    sla_running: int = 0
    reached_last_step: int = 0
    outside_coverage: int = 0
    held: int = 0
    reopened: int = 0
    handovers: int = 0
    handover_wait: float = 0.0  # seconds waiting on the client's team, apart from the above

    def share_within(self, minutes: int) -> float | None:
        return None if not self.count else self.within.get(minutes, 0) / self.count

    @property
    def sla_share(self) -> float | None:
        decided = self.sla_kept + self.sla_missed
        return None if not decided else self.sla_kept / decided

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["within"] = {str(m): n for m, n in self.within.items()}
        d["share_within"] = {str(m): self.share_within(m) for m in sql.THRESHOLDS}
        d["sla_share"] = self.sla_share
        return d


TABLE_COLUMNS = ("group", "incidents", "acknowledged", "ack_mean_s", "ack_median_s", "ack_p90_s", "resolved",
                 "resolve_mean_s", "resolve_median_s", "resolve_p90_s",
                 *[f"within_{m}_min" for m in sql.THRESHOLDS], *[f"share_within_{m}_min" for m in sql.THRESHOLDS],
                 "sla_kept", "sla_missed", "sla_running", "sla_share", "reached_last_step", "outside_coverage", "held",
                 "reopened", "handovers", "handover_wait_s")


def table_row(r: Row) -> list[Any]:
    """A row of figures as a line of TABLE_COLUMNS (the CSV of every figures table)."""
    return [r.label, r.count, r.acknowledged, r.ack_mean, r.ack_median, r.ack_p90, r.resolved, r.resolve_mean,
            r.resolve_median, r.resolve_p90, *[r.within.get(m, 0) for m in sql.THRESHOLDS],
            *[r.share_within(m) for m in sql.THRESHOLDS], r.sla_kept, r.sla_missed, r.sla_running, r.sla_share,
            r.reached_last_step, r.outside_coverage, r.held, r.reopened, r.handovers, r.handover_wait]


def _group_expr(by: str) -> Any:
    if by == "overall":
        return literal("all")
    if by == "client":
        return Incident.client_id
    if by == "service":
        return Incident.service_id
    if by == "tier":
        # Looked up per incident (20-odd clients: a cached primary-key read), not joined: a join
        # lets SQLite drive the read from clients through the incidents' client index, a row
        # lookup per incident (a year's figures: 1.0 s joined, see bench/reports.py).
        return select(Client.tier).where(Client.id == Incident.client_id).scalar_subquery()
    if by == "engineer":
        return sql.responder()
    raise ValueError(f"group by one of {', '.join(GROUPS)}")


def _reached_last_step() -> Any:
    """Incidents whose escalation reached the last step of their policy (the team lead's or the
    manager's step in both presets), or went round again."""
    last = (select(EscalationStep.policy_id, (func.count() - 1).label("last"))
            .group_by(EscalationStep.policy_id).subquery())
    fired = (select(StepFiring.incident_id)
             .join(Incident, Incident.id == StepFiring.incident_id)
             .join(last, last.c.policy_id == Incident.policy_id)
             .where(StepFiring.manual.is_(False), StepFiring.step_index >= 1,
                    or_(StepFiring.loop > 0, (StepFiring.step_index >= last.c.last) & (last.c.last >= 1))))
    return Incident.id.in_(fired)


def _labels(session: Session, by: str, keys: list[Any]) -> dict[Any, str]:
    ids = [k for k in keys if k is not None]
    if by == "overall":
        return {"all": "All incidents"}
    if by == "tier":
        from ..models import TIERS
        return {k: TIERS.get(k, k) for k in ids}
    model = {"client": Client, "service": Service, "engineer": User}[by]
    rows = session.execute(select(model).where(model.id.in_(ids))).scalars() if ids else []
    out = {r.id: (f"{r.client.name} / {r.name}" if by == "service" else r.name) for r in rows}
    if by == "engineer":
        out[None] = "Nobody (never answered by a person)"
    return out


def compute(session: Session, *, start: datetime | None, end: datetime | None, now: datetime,
            by: str = "overall", visible: set[int] | None = None, client_id: int | None = None) -> list[Row]:
    """The figures of the incidents created in [start, end), grouped `by`."""
    d = sql.dialect(session)
    grp = _group_expr(by)
    base = select(
        grp.label("grp"),
        sql.ack_seconds(d).label("ack"),
        sql.resolve_seconds(d).label("res"),
        sql.sla_kept().label("kept"),
        sql.sla_missed(now).label("missed"),
        (Incident.held_until.is_not(None)).label("held"),
        sql.with_timeline("coverage").label("outside"),
        sql.with_timeline("reopened").label("reopened"),
        _reached_last_step().label("top"),
    ).select_from(Incident)
    # Each incident's times once (MATERIALIZED): every figure below reads them from there.
    base = sql.restrict(base, start, end, visible, client_id, scan=sql.reads_most(session, start, end)) \
        .cte("per_incident").prefix_with("MATERIALIZED")

    def n(cond: Any) -> Any:
        return sql.count_if(cond)

    ack_sub, ack_p = sql.percentile_columns(session, base, "ack", (0.5, 0.9))
    res_sub, res_p = sql.percentile_columns(session, base, "res", (0.5, 0.9))
    agg = select(
        base.c.grp, func.count(), func.count(base.c.ack), func.avg(base.c.ack),
        func.count(base.c.res), func.avg(base.c.res),
        *[n(base.c.ack <= m * 60) for m in sql.THRESHOLDS],
        n(base.c.kept), n(base.c.missed), n(base.c.top), n(base.c.outside | base.c.held), n(base.c.held),
        n(base.c.reopened),
        *([] if ack_sub is not None else [*ack_p, *res_p]),
    ).group_by(base.c.grp)
    if ack_sub is not None:  # SQLite: the percentiles come from their own window, joined by group
        a = agg.subquery()
        agg = (select(*a.c, *ack_p, *res_p)
               .outerjoin(ack_sub, ack_sub.c.grp.is_not_distinct_from(a.c.grp))
               .outerjoin(res_sub, res_sub.c.grp.is_not_distinct_from(a.c.grp)))
    rows: dict[Any, Row] = {}
    k = len(sql.THRESHOLDS)
    for r in session.execute(agg):
        row = Row(key=r[0], label="", count=r[1], acknowledged=r[2], ack_mean=_r(r[3]), resolved=r[4],
                  resolve_mean=_r(r[5]), within={m: int(r[6 + i] or 0) for i, m in enumerate(sql.THRESHOLDS)})
        (row.sla_kept, row.sla_missed, row.reached_last_step, row.outside_coverage, row.held,
         row.reopened) = (int(v or 0) for v in r[6 + k:12 + k])
        row.ack_median, row.ack_p90, row.resolve_median, row.resolve_p90 = (_r(v) for v in r[12 + k:16 + k])
        row.sla_running = row.count - row.sla_kept - row.sla_missed
        rows[r[0]] = row
    _handover_waits(session, rows, by, start, end, now, visible, client_id)
    labels = _labels(session, by, list(rows))
    for key, row in rows.items():
        row.label = labels.get(key, str(key))
    return sorted(rows.values(), key=lambda r: (-r.count, r.label))


def _r(v: Any) -> float | None:
    return None if v is None else round(float(v), 3)


def _handover_waits(session: Session, rows: dict[Any, Row], by: str, start: datetime | None,
                    end: datetime | None, now: datetime, visible: set[int] | None, client_id: int | None) -> None:
    """Time waiting on the client's team, per group: hand-overs are few, so read them."""
    grp = _group_expr(by)
    q = select(Handover, Incident.resolved_at, grp).join(Incident, Incident.id == Handover.incident_id)
    for h, resolved_at, key in session.execute(sql.restrict(q, start, end, visible, client_id)):
        if key not in rows:
            continue
        began, ended = handover.waiting(h, resolved_at, now)
        rows[key].handovers += 1
        rows[key].handover_wait += max(0.0, (ended - began).total_seconds())


# --- breaches and their reasons -------------------------------------------------------------


@dataclass
class Breach:
    incident: Incident
    late_by: float | None  # seconds past the deadline when answered; None: never answered
    pages: list[dict[str, Any]]

    def reason(self) -> str:
        if not self.pages:
            return "nobody was paged (no policy step fired, or it was held)"
        failed = [p for p in self.pages if p["status"] == "failed"]
        sent = [p for p in self.pages if p["status"] == "sent"]
        parts = []
        if sent:
            parts.append("paged " + ", ".join(sorted({f"{p['who']} ({p['channel']})" for p in sent})))
        if failed:
            parts.append("failed: " + "; ".join(f"{p['who']} {p['channel']}: {p['error'] or 'failed'}" for p in failed))
        if not sent and not failed:
            parts.append("pages still pending")
        return "; ".join(parts) + ("; nobody answered" if self.late_by is None else "")

    def as_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        i = self.incident
        return {"incident": {"id": i.id, "number": i.number, "summary": i.summary, "client": i.client.name,
                             "created_at": iso(i.created_at), "response_deadline": iso(i.response_deadline),
                             "responded_at": iso(i.responded_at)},
                "late_by_seconds": self.late_by, "reason": self.reason(),
                "pages": [{**p, "queued_at": iso(p["queued_at"]), "sent_at": iso(p["sent_at"])} for p in self.pages]}


BREACH_COLUMNS = ("number", "client", "summary", "created_at", "response_deadline", "responded_at", "late_by_s",
                  "reason")


def breach_row(d: dict[str, Any]) -> list[Any]:
    """A breach (as_dict) as a line of BREACH_COLUMNS."""
    i = d["incident"]
    return [i["number"], i["client"], i["summary"], i["created_at"], i["response_deadline"], i["responded_at"],
            d["late_by_seconds"], d["reason"]]


def breaches(session: Session, *, start: datetime | None, end: datetime | None, now: datetime,
             visible: set[int] | None = None, client_id: int | None = None, limit: int = 500) -> list[Breach]:
    """The incidents whose response deadline was missed, newest first, each with who was
    notified when, on which channel, and what failed."""
    q = sql.restrict(select(Incident).where(sql.sla_missed(now)), start, end, visible, client_id)
    incs = list(session.execute(q.order_by(Incident.id.desc()).limit(limit)).scalars())
    pages: dict[int, list[dict[str, Any]]] = {i.id: [] for i in incs}
    if incs:
        last_err = (select(DeliveryAttempt.error).where(DeliveryAttempt.notification_id == Notification.id)
                    .order_by(DeliveryAttempt.id.desc()).limit(1).scalar_subquery())
        nq = (select(Notification, User.name, last_err)
              .outerjoin(User, User.id == Notification.user_id)
              .where(Notification.incident_id.in_(list(pages)), Notification.purpose.in_(("page", "help")))
              .order_by(Notification.id))
        # A bundled page (an alert storm) names its first incident; the others are its page_incidents.
        bq = (select(PageIncident.incident_id, Notification, User.name, last_err)
              .join(Notification, Notification.id == PageIncident.notification_id)
              .outerjoin(User, User.id == Notification.user_id)
              .where(PageIncident.incident_id.in_(list(pages)), Notification.incident_id != PageIncident.incident_id)
              .order_by(Notification.id))
        rows = [(note.incident_id, note, who, err) for note, who, err in session.execute(nq)]
        rows += [tuple(r) for r in session.execute(bq)]
        for incident_id, note, who, err in sorted(rows, key=lambda r: r[1].id):
            pages[incident_id].append({
                "who": who or note.address or "?", "channel": note.kind, "queued_at": note.created_at,
                "sent_at": note.sent_at, "status": note.status, "attempts": note.attempts,
                "error": note.last_error or err,
            })
    out = []
    for i in incs:
        late = None if i.responded_at is None else max(0.0, (i.responded_at - i.response_deadline).total_seconds())
        out.append(Breach(i, late, pages[i.id]))
    return out
