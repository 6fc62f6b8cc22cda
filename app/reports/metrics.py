"""Prometheus metrics at /metrics: a custom collector that reads the database at each scrape
(a few GROUP BY queries, no per-row work in Python), so every web process answers the same and
nothing is lost on a restart. A Grafana user charts Vigil from these without code.

Names (all prefixed vigil_):
  incidents{client,status}                      gauge: incidents by client and state (resolved included)
  incidents_created_total{client}               counter: incidents ever created
  incident_ack_seconds{client}                  histogram: time to first response (held time excluded)
  incident_resolve_seconds{client}              histogram: time to resolution
  sla_kept_total{client}, sla_missed_total{client}  counters: response deadline kept / missed
  pages_total{channel,outcome}                  counter: pages by channel and outcome (pending, sending, sent, failed, cancelled)
  deliveries_pending                            gauge: messages waiting to be sent (pending or sending)
  escalation_lateness_seconds                   histogram: how late escalation steps fired after they were due
  engine_heartbeat_age_seconds{engine}          gauge: seconds since each engine's last heartbeat
  alerts_received_total{source}                 counter: alerts received, per intake source
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Alert, Client, EngineHeartbeat, Incident, Notification, StepFiring
from . import sql

ACK_BUCKETS = (60, 300, 900, 1800, 2700, 3600, 7200, 14400)
RESOLVE_BUCKETS = (300, 900, 1800, 3600, 7200, 14400, 28800, 86400)
LATENESS_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60)
DEFAULT_ALLOW = "127.0.0.0/8,::1/128"


class Collector:
    """Reads through the scrape's own session (the request's: on SQLite a second connection
    would wait for the request's own lock)."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session, self.now = session, now

    def describe(self) -> list[Metric]:
        return []  # read at scrape time only

    def collect(self) -> Iterator[Metric]:
        yield from _collect(self.session, self.now)


def _collect(s: Session, now: datetime) -> Iterator[Metric]:
    d = sql.dialect(s)
    names = dict(s.execute(select(Client.id, Client.slug)).all())

    by_state = GaugeMetricFamily("vigil_incidents", "Incidents by client and state", labels=["client", "status"])
    created = CounterMetricFamily("vigil_incidents_created", "Incidents created", labels=["client"])
    totals: dict[str, int] = {}
    for cid, status, n in s.execute(select(Incident.client_id, Incident.status, func.count())
                                    .group_by(Incident.client_id, Incident.status)):
        slug = names.get(cid, str(cid))
        by_state.add_metric([slug, status], n)
        totals[slug] = totals.get(slug, 0) + n
    for slug, n in totals.items():
        created.add_metric([slug], n)
    yield by_state
    yield created

    ack_h = HistogramMetricFamily("vigil_incident_ack_seconds", "Time to first response (time held outside coverage "
                                  "hours excluded)", labels=["client"])
    res_h = HistogramMetricFamily("vigil_incident_resolve_seconds", "Time to resolution", labels=["client"])
    kept = CounterMetricFamily("vigil_sla_kept", "Incidents answered within their response deadline", labels=["client"])
    missed = CounterMetricFamily("vigil_sla_missed", "Incidents whose response deadline was missed", labels=["client"])
    na, nr = len(ACK_BUCKETS), len(RESOLVE_BUCKETS)
    for cid, row in sorted(_incident_sums(s, d, now).items()):
        slug = names.get(cid, str(cid))
        a_count, a_sum, a_b = row[0], row[1], row[2:2 + na]
        r_count, r_sum, r_b = row[2 + na], row[3 + na], row[4 + na:4 + na + nr]
        ack_h.add_metric([slug], [(str(float(b)), int(v)) for b, v in zip(ACK_BUCKETS, a_b, strict=True)]
                         + [("+Inf", int(a_count))], float(a_sum))
        res_h.add_metric([slug], [(str(float(b)), int(v)) for b, v in zip(RESOLVE_BUCKETS, r_b, strict=True)]
                         + [("+Inf", int(r_count))], float(r_sum))
        kept.add_metric([slug], int(row[4 + na + nr]))
        missed.add_metric([slug], int(row[5 + na + nr]))
    yield from (ack_h, res_h, kept, missed)

    pages = CounterMetricFamily("vigil_pages", "Pages by channel and outcome", labels=["channel", "outcome"])
    pending = 0
    for kind, status, n in s.execute(select(Notification.kind, Notification.status, func.count())
                                     .group_by(Notification.kind, Notification.status)):
        pages.add_metric([kind, status], n)
        if status in ("pending", "sending"):
            pending += n
    yield pages
    yield GaugeMetricFamily("vigil_deliveries_pending", "Messages waiting to be sent", value=pending)

    row = _firing_sums(s)
    late = HistogramMetricFamily("vigil_escalation_lateness_seconds", "How late escalation steps fired after they "
                                 "were due")
    late.add_metric([], [(str(float(b)), int(v)) for b, v in zip(LATENESS_BUCKETS, row[2:], strict=True)]
                    + [("+Inf", int(row[0]))], float(row[1]))
    yield late

    beat = GaugeMetricFamily("vigil_engine_heartbeat_age_seconds", "Seconds since each engine's last heartbeat",
                             labels=["engine"])
    for name, at in s.execute(select(EngineHeartbeat.name, EngineHeartbeat.beat_at)):
        beat.add_metric([name], max(0.0, (now - at).total_seconds()))
    yield beat

    alerts = CounterMetricFamily("vigil_alerts_received", "Alerts received, per intake source", labels=["source"])
    for source, n in s.execute(select(Alert.source, func.count()).group_by(Alert.source)):
        alerts.add_metric([source], n)
    yield alerts


# --- the settled part, kept between scrapes ---------------------------------------------------
# A resolved incident's times never change (its first response stays its first response), nor
# does a step that fired: each process keeps their sums (per database) and reads from the
# database only what is new since (incidents above the highest id seen, and those that were
# open then), so a scrape stays cheap on years of incidents. Rebuilt every REBUILD, and at once
# when the settled rows are not the ones counted (an incident reopened or deleted, a reset).
REBUILD = 3600.0
_lock = threading.Lock()
_settled: dict[tuple[str, str], tuple[float, int, frozenset[int], dict[int, list[float]], int]] = {}


def _sums(s: Session, d: str, now: datetime, where: Any) -> dict[int, list[float]]:
    # Each incident's times once (MATERIALIZED), then the buckets of every client from there.
    per = (select(Incident.client_id.label("c"), sql.ack_seconds(d).label("ack"), sql.resolve_seconds(d).label("res"),
                  sql.sla_kept().label("kept"), sql.sla_missed(now).label("missed"))
           .where(where).cte("per_incident").prefix_with("MATERIALIZED"))
    ack, res = per.c.ack, per.c.res
    cols = [func.count(ack), func.coalesce(func.sum(ack), 0), *[sql.count_if(ack <= b) for b in ACK_BUCKETS],
            func.count(res), func.coalesce(func.sum(res), 0), *[sql.count_if(res <= b) for b in RESOLVE_BUCKETS],
            sql.count_if(per.c.kept), sql.count_if(per.c.missed)]
    return {r[0]: [float(v or 0) for v in r[1:]] for r in s.execute(select(per.c.c, *cols).group_by(per.c.c))}


def _add(into: dict[int, list[float]], more: dict[int, list[float]]) -> dict[int, list[float]]:
    out = {k: list(v) for k, v in into.items()}
    for k, v in more.items():
        out[k] = [a + b for a, b in zip(out.get(k, [0.0] * len(v)), v, strict=True)]
    return out


def _key(s: Session, what: str) -> tuple[str, str]:
    return (s.get_bind().url.render_as_string(hide_password=True), what)


def _incident_sums(s: Session, d: str, now: datetime) -> dict[int, list[float]]:
    key = _key(s, "incidents")
    with _lock:
        cached = _settled.get(key)
    if cached is not None:
        # Still the same settled incidents? A reopened or deleted one (or a database reset
        # under us) changes their number: build again rather than drift.
        built, top, still_open, sums, n = cached
        now_n = s.execute(select(func.count()).select_from(Incident).where(
            Incident.id <= top, Incident.status == "resolved", Incident.id.not_in(sorted(still_open)))).scalar()
        if now_n != n or time.monotonic() - built > REBUILD:
            cached = None
    if cached is None:
        top = s.execute(select(func.max(Incident.id))).scalar() or 0
        still_open = frozenset(s.execute(select(Incident.id).where(Incident.id <= top,
                                                                   Incident.status != "resolved")).scalars())
        settled = (Incident.id <= top) & (Incident.status == "resolved")
        n = s.execute(select(func.count()).select_from(Incident).where(settled)).scalar() or 0
        cached = (time.monotonic(), top, still_open, _sums(s, d, now, settled), n)
        with _lock:
            _settled[key] = cached
    _, top, still_open, sums, _ = cached
    fresh = Incident.id > top
    if still_open:
        fresh = fresh | Incident.id.in_(sorted(still_open))
    return _add(sums, _sums(s, d, now, fresh))


def _firing_sums(s: Session) -> list[float]:
    key = _key(s, "firings")
    lateness = StepFiring.lateness_ms / 1000.0

    def read(where: Any) -> list[float]:
        q = select(func.count(), func.coalesce(func.sum(lateness), 0),
                   *[sql.count_if(lateness <= b) for b in LATENESS_BUCKETS]).where(StepFiring.manual.is_(False), where)
        return [float(v or 0) for v in s.execute(q).one()]

    with _lock:
        cached = _settled.get(key)
    def upto(top: int) -> int:
        return s.execute(select(func.count()).select_from(StepFiring).where(StepFiring.id <= top)).scalar() or 0

    if cached is not None and (time.monotonic() - cached[0] > REBUILD or upto(cached[1]) != cached[4]):
        cached = None  # old, or not the rows counted (a reset database)
    if cached is None:
        top = s.execute(select(func.max(StepFiring.id))).scalar() or 0
        cached = (time.monotonic(), top, frozenset(), {0: read(StepFiring.id <= top)}, upto(top))
        with _lock:
            _settled[key] = cached
    _, top, _, sums, _ = cached
    return [a + b for a, b in zip(sums[0], read(StepFiring.id > top), strict=True)]


def forget() -> None:
    """Drop the kept sums (tests that reset the database under a running process)."""
    with _lock:
        _settled.clear()


def scrape(session: Session, now: datetime) -> bytes:
    """The exposition text, read at `now` (a registry per scrape: it holds nothing else)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(Collector(session, now))  # type: ignore[arg-type]
    return generate_latest(reg)


def allowed(remote_addr: str | None, authorization: str | None, config: dict[str, Any]) -> bool:
    """A scrape is answered with the configured token (Authorization: Bearer), or from an
    address of the allow-list (VIGIL_METRICS_ALLOW; loopback by default: a Prometheus beside
    Vigil scrapes without a token)."""
    token = config.get("METRICS_TOKEN")
    if token and authorization and authorization.startswith("Bearer "):
        if secrets.compare_digest(authorization[7:].strip().encode(), str(token).encode()):
            return True
    try:
        ip = ipaddress.ip_address((remote_addr or "").split("%")[0])
    except ValueError:
        return False
    for net in (config.get("METRICS_ALLOW") or DEFAULT_ALLOW).split(","):
        net = net.strip()
        if not net:
            continue
        try:
            if ip in ipaddress.ip_network(net, strict=False):
                return True
        except ValueError:
            continue
    return False
