"""Reports on a year of data: 100,000 incidents of 20 clients (with their pages, step firings,
alerts and some timeline entries), then the response figures, breaches, charts and load for the
whole year, history searches, and /metrics scrapes.

    python bench/reports.py                                            # SQLite
    python bench/reports.py --db postgresql://postgres@127.0.0.1:5432/bench_reports
    python bench/reports.py --incidents 20000                          # a quicker look

Every figure is SQL aggregation (GROUP BY, percentiles by percentile_cont on PostgreSQL and an
ordered window on SQLite); the timings are wall-clock in this process, the database on the same
machine. What ran beside: whatever else the machine was running (the load average is printed).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from _support import ROOT, percentile, vigil_env

sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from app.clock import ManualClock  # noqa: E402
from app.db import Database  # noqa: E402
from app.models import (  # noqa: E402
    Alert,
    Client,
    EscalationPolicy,
    EscalationStep,
    Incident,
    Notification,
    Pool,
    Service,
    StepFiring,
    TimelineEntry,
    User,
)
from app.reports import charts, figures, history, load  # noqa: E402

START = datetime(2025, 12, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)
WORDS = ("disk", "full", "latency", "checkout", "api", "5xx", "memory", "cpu", "queue", "backup", "certificate",
         "expired", "replication", "lag", "timeout", "dns", "vpn", "login", "payment", "warehouse")


def seed(db: Database, n: int, rng: random.Random) -> None:
    now = START
    with db.transaction() as s:
        pool = Pool(name="Pool A", created_at=now)
        s.add(pool)
        s.flush()
        engineers = [User(email=f"eng{i}@bench.test", name=f"Engineer {i}", role="engineer", created_at=now,
                          timezone=rng.choice(("Europe/Paris", "Europe/London", "America/New_York")))
                     for i in range(12)]
        s.add_all(engineers)
        pols = []
        for tier, minutes in (("4h", 240), ("1h", 60)):
            p = EscalationPolicy(name=f"{tier} policy", preset=tier, response_minutes=minutes, created_at=now)
            p.steps = [EscalationStep(position=i, delay_minutes=30) for i in range(3)]
            s.add(p)
            pols.append(p)
        s.flush()
        services = []
        for i in range(20):
            tier = "1h" if i % 4 == 0 else "4h"
            c = Client(name=f"Client {i:02d}", slug=f"client-{i:02d}", tier=tier, pool_id=pool.id,
                       policy_id=pols[tier == "1h"].id, created_at=now, timezone="Europe/Paris")
            s.add(c)
            s.flush()
            sv = Service(client_id=c.id, name="Production", created_at=now)
            s.add(sv)
            s.flush()
            services.append((c, sv))
        eng_ids = [e.id for e in engineers]
        span = (END - START).total_seconds()
        rows, firings, alerts, notes = [], [], [], []
        for i in range(1, n + 1):
            c, sv = rng.choice(services)
            created = START + timedelta(seconds=rng.random() * span)
            held = created + timedelta(hours=rng.uniform(1, 10)) if rng.random() < 0.05 else None
            start = held or created
            deadline = start + timedelta(minutes=60 if c.tier == "1h" else 240)
            r = rng.random()
            responded = None if r < 0.03 else start + timedelta(seconds=rng.lognormvariate(6.3, 1.0))
            who = rng.choice(eng_ids) if responded else None
            resolved = responded + timedelta(seconds=rng.lognormvariate(7.5, 1.0)) if responded else (
                start + timedelta(minutes=rng.uniform(5, 600)) if rng.random() < 0.8 else None)  # monitoring resolved it
            summary = f"{rng.choice(WORDS)} {rng.choice(WORDS)} on host-{rng.randint(1, 400)} #{i}"
            rows.append({"id": i, "client_id": c.id, "service_id": sv.id, "policy_id": c.policy_id, "summary": summary,
                         "details": "", "source": "generic", "urgency": "high", "dedup_key": f"bench-{i}",
                         "status": "resolved" if resolved else "triggered", "alert_count": 1, "created_at": created,
                         "last_alert_at": created, "response_deadline": deadline, "responded_at": responded,
                         "acknowledged_at": responded, "acknowledged_by_id": who, "resolved_at": resolved,
                         "resolved_by_id": who, "held_until": held, "esc_seq": 0, "esc_step": 0, "esc_loop": 0,
                         "sla_breached_at": deadline if responded is None or responded > deadline else None})
            steps = 1 + (responded is None or responded - start > timedelta(minutes=30)) + (
                responded is None or responded - start > timedelta(minutes=60))
            for k in range(steps):
                firings.append({"incident_id": i, "seq": k, "step_index": k, "loop": 0,
                                "due_at": start + timedelta(minutes=30 * k), "fired_at": start + timedelta(minutes=30 * k),
                                "lateness_ms": rng.randint(1, 400), "manual": False, "engine": "bench", "targets": []})
            alerts.append({"incident_id": i, "service_id": sv.id, "source": "generic", "action": "trigger",
                           "dedup_key": f"bench-{i}", "summary": summary, "outcome": "created", "received_at": created,
                           "payload": {}})
            if held:
                notes.append({"incident_id": i, "at": created, "kind": "coverage", "actor_label": "coverage",
                              "message": "held", "data": {}})
            if rng.random() < 0.01:
                notes.append({"incident_id": i, "at": created, "kind": "reopened", "actor_label": "e-mail",
                              "message": "reopened", "data": {}})
        chunk = 5000
        for table, data in ((Incident, rows), (Alert, alerts), (TimelineEntry, notes)):
            for k in range(0, len(data), chunk):
                s.execute(insert(table), data[k:k + chunk])
        ids = []
        for k in range(0, len(firings), chunk):
            ids += list(s.execute(insert(StepFiring).returning(StepFiring.id, StepFiring.incident_id,
                                                                StepFiring.fired_at), firings[k:k + chunk]))
        pages = [{"incident_id": inc, "firing_id": fid, "user_id": rng.choice(eng_ids), "kind": "push",
                  "purpose": "page", "status": "sent", "not_before": at, "created_at": at, "sent_at": at, "attempts": 1}
                 for fid, inc, at in ids]
        for k in range(0, len(pages), chunk):
            s.execute(insert(Notification), pages[k:k + chunk])


def timed(fn: Any, runs: int = 3) -> tuple[float, Any]:
    out, times = None, []
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("--incidents", type=int, default=100_000)
    args = ap.parse_args()
    rng = random.Random(15)
    with vigil_env(args.db) as env:
        db = Database(env["VIGIL_DATABASE_URL"])
        t = time.perf_counter()
        seed(db, args.incidents, rng)
        if db.is_postgres:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM ANALYZE")
        else:
            with db.engine.begin() as c:
                c.exec_driver_sql("ANALYZE")
        backend = "PostgreSQL" if db.is_postgres else "SQLite"
        print(f"{backend}: seeded {args.incidents:,} incidents of 20 clients over a year in {time.perf_counter() - t:.1f} s")
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        now = END
        year = {"start": START, "end": END, "now": now}
        with db.session() as s:
            for by in figures.GROUPS:
                secs, rows = timed(lambda by=by: figures.compute(s, by=by, **year))
                print(f"figures for the year, per {by:<8}: {secs * 1000:7.1f} ms ({len(rows)} groups)")
            secs, b = timed(lambda: figures.breaches(s, **year))
            print(f"breaches (newest 500, with their pages): {secs * 1000:7.1f} ms ({len(b)} listed)")
            secs, _ = timed(lambda: (charts.by_hour(s, START, END, now, None), charts.ack_distribution(s, START, END, None)))
            print(f"chart data (hours and ack distribution):  {secs * 1000:7.1f} ms")
            secs, rows = timed(lambda: load.compute(s, **year))
            print(f"load per engineer for the year:          {secs * 1000:7.1f} ms ({len(rows)} engineers)")
            clients = list(s.execute(select(Client.id)).scalars())
            engs = list(s.execute(select(User.id)).scalars())
            tz = charts.ZoneInfo("Europe/Paris")
            queries = [{}, {"q": "disk"}, {"q": "checkout latency"}, {"q": "#4242"}, {"q": "bench-777"},
                       {"q": "zzz-no-match"}, {"status": "open"}, {"sla": "missed"}, {"tier": "1h"},
                       {"from": "2026-03-01", "to": "2026-03-31"}, {"urgency": "low"}]
            lat = []
            for k in range(300):
                a = dict(rng.choice(queries))
                if k % 3 == 0:
                    a["client"] = str(rng.choice(clients))
                if k % 7 == 0:
                    a["responder"] = str(rng.choice(engs))
                if k % 5 == 0:
                    a["before"] = str(rng.randint(1, args.incidents))
                t = time.perf_counter()
                history.search(s, history.Filters.parse(a, tz), now=now, visible=None)
                lat.append((time.perf_counter() - t) * 1000)
            print(f"history search, 300 queries: p50 {percentile(lat, 50):.1f} ms, p99 {percentile(lat, 99):.1f} ms, "
                  f"max {max(lat):.1f} ms")
        from app import create_app

        app = create_app({"DATABASE": db, "CLOCK": ManualClock(now), "SECRET_KEY": "bench",
                          "INSTANCE_PATH": env["VIGIL_INSTANCE_PATH"], "ENGINE_MODE": "process"})
        c = app.test_client()
        lat = []
        for _ in range(30):
            t = time.perf_counter()
            r = c.get("/metrics")
            lat.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200
        print(f"/metrics scrape (through Flask), 30 scrapes: p50 {percentile(lat, 50):.1f} ms, "
              f"p99 {percentile(lat, 99):.1f} ms, {len(r.data):,} bytes")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        db.dispose()


if __name__ == "__main__":
    main()
