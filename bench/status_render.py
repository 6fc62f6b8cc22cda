"""Status page render time: one client with 100 components (services) and 90 days of history (an
incident a day on a random component, each with two public updates, two maintenance windows), the
whole page (snapshot + HTML) rendered afresh each time (the cache cleared), then as most readers
get it (from the cache), then the Statuspage summary.json. In-process (Flask's test client), on
SQLite or PostgreSQL.

    python bench/status_render.py
    python bench/status_render.py --db postgresql://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta

from _support import percentile, reset_postgres

from app import create_app
from app.clock import ManualClock
from app.db import Database
from app.heap import settle_heap
from app.migrate import upgrade
from app.models import (
    Client,
    Incident,
    MaintenanceWindow,
    PublicUpdate,
    Service,
    StatusPage,
)


def seed(db: Database, now: datetime, components: int, days: int) -> None:
    rnd = random.Random(14)
    with db.transaction() as s:
        c = Client(name="Big Retail", slug="big", tier="4h", timezone="Europe/Paris", coverage={"kind": "always"},
                   out_of_coverage="hold", created_at=now - timedelta(days=400))
        s.add(c)
        s.flush()
        s.add(StatusPage(client_id=c.id, visibility="public", title="", color="#1f5fbf", created_at=now, updated_at=now))
        services = [Service(client_id=c.id, name=f"Service {i:03d}", created_at=now - timedelta(days=400))
                    for i in range(components)]
        s.add_all(services)
        s.flush()
        for d in range(days):
            start = now - timedelta(days=d, hours=rnd.randint(0, 20))
            svc = rnd.choice(services)
            resolved = start + timedelta(minutes=rnd.randint(10, 240))
            open_now = d == 0
            inc = Incident(client_id=c.id, service_id=svc.id, summary="internal", details="", source="generic",
                           severity=rnd.choice(["critical", "warning"]), urgency=rnd.choice(["high", "low"]),
                           dedup_key=f"k{d}", status="triggered" if open_now else "resolved", created_at=start,
                           last_alert_at=start, response_deadline=start + timedelta(hours=4),
                           responded_at=start + timedelta(minutes=rnd.randint(1, 300)),
                           resolved_at=None if open_now else resolved)
            s.add(inc)
            s.flush()
            for k, status in enumerate(("identified", "monitoring")):
                s.add(PublicUpdate(public_id=f"u{d}-{k}", incident_id=inc.id, client_id=c.id, status=status,
                                   body="We found the cause and deployed a fix. **Thanks** for your patience.",
                                   created_at=start + timedelta(minutes=5 * (k + 1))))
        for k, delta in enumerate((timedelta(days=2), timedelta(days=-10))):
            s.add(MaintenanceWindow(public_id=f"m{k}", client_id=c.id, title="Database upgrade", body="Postgres 17",
                                    service_ids=[services[0].id], starts_at=now + delta,
                                    ends_at=now + delta + timedelta(hours=2), hold_pages=True,
                                    state="scheduled" if k == 0 else "completed", created_at=now, updated_at=now))


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("--components", type=int, default=100)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("-n", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{tmp}/render.db"
        if url.startswith("postgres"):
            reset_postgres(url)
        db = Database(url)
        upgrade(db)
        now = datetime.now(UTC).replace(microsecond=0)
        seed(db, now, args.components, args.days)
        app = create_app({"DATABASE": db, "CLOCK": ManualClock(now), "SECRET_KEY": "bench", "TESTING": True,
                          "INSTANCE_PATH": f"{tmp}/instance", "BASE_URL": "http://bench.test"})
        c = app.test_client()
        assert c.get("/status/big").status_code == 200
        settle_heap()  # as a web worker does once started (app/wsgi.py)

        def fresh() -> None:
            app.extensions.get("vigil_status_pages", {}).clear()
            r = c.get("/status/big")
            assert r.status_code == 200

        cold = timed(fresh, args.n)
        warm = timed(lambda: c.get("/status/big"), args.n)
        api = timed(lambda: c.get("/status/big/api/v2/summary.json"), args.n)
        size = len(c.get("/status/big").get_data())
        db.dispose()
    backend = "postgresql" if url.startswith("postgres") else "sqlite"
    print(f"status page, {args.components} components, {args.days} days of history ({backend}), {args.n} renders each:")
    for name, xs in (("rendered afresh", cold), ("from the cache", warm), ("summary.json (cached)", api)):
        print(f"  {name:<22} p50 {percentile(xs, 50):6.1f} ms   p99 {percentile(xs, 99):6.1f} ms")
    print(f"  page size {size / 1024:.0f} KiB; load average beside it: {os.getloadavg()[0]:.2f} (a shared 2-core machine)")


if __name__ == "__main__":
    main()
