"""Trigger -> first push on the phone's push service: 100 alerts fire at once through the intake
API of a real server (gunicorn, gevent workers) with a real `vigil engine` process; for each
incident, the time to the first Web Push request the (local, VAPID-checking, decrypting) push
service accepted for it, counted from the incident's creation (the server's record) and from the
start of its intake HTTP call (which adds the web tier's queue under 100 simultaneous calls).
Incidents whose steps fall due in the same look of the engine are paged together, one push
listing them (notify/plan.bundle): an incident's first push is the first that named it.

    python bench/push_latency.py
    python bench/push_latency.py --db postgresql://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
from _support import ROOT, gunicorn, pages_of, percentile, vigil_env
from sqlalchemy import delete, select

from app.db import Database
from app.models import ContactMethod, User
from app.notify import vapid
from tests.fakes.webpush import FakePushService


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--engines", type=int, default=1, help="`vigil engine` processes (they share the work safely)")
    ap.add_argument("--via", choices=["http", "db"], default="http",
                    help="http: 100 simultaneous intake calls; db: the 100 incidents created in one transaction")
    args = ap.parse_args()
    with FakePushService() as push, vigil_env(args.db) as env:
        env["VIGIL_VAPID_SUBJECT"] = "mailto:bench@vigil.example"
        out = subprocess.run([sys.executable, "-m", "app.cli", "demo", "--json"], env=env, cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        key = next(k["key"] for k in json.loads(out)["integration_keys"] if k["source"] == "generic")
        db = Database(env["VIGIL_DATABASE_URL"])
        sub = push.new_subscription()
        with db.transaction() as s:
            # Whoever the demo rotation has on call today, their only contact is a phone
            # subscribed to push (one subscription shared by the engineers: M+0 pages one of
            # them per incident; managers are left out, their gap warnings would count too).
            for user in s.execute(select(User).where(User.role == "engineer")).scalars():
                s.execute(delete(ContactMethod).where(ContactMethod.user_id == user.id))
                s.add(ContactMethod(user_id=user.id, kind="push", address=sub.endpoint, push_p256dh=sub.p256dh,
                                    push_auth=sub.auth, label="bench phone", created_at=datetime.now(UTC)))
            push.expect_vapid_public_key(vapid.load_or_create(s, datetime.now(UTC)).public_key)
        backend = "postgresql" if db.is_postgres else "sqlite"
        db.dispose()
        engines = [subprocess.Popen([sys.executable, "-m", "app.cli", "engine"], env=env, cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(args.engines)]
        try:
            with gunicorn(env) as base:
                deadline = time.monotonic() + 30
                while requests.get(f"{base}/healthz", timeout=2).status_code != 200:  # the engine is beating
                    if time.monotonic() > deadline or any(e.poll() is not None for e in engines):
                        raise SystemExit("the engine did not start")
                    time.sleep(0.1)
                started, walls = fire(base, key, args.n) if args.via == "http" else create(env, key, args.n)
                received, reached = every_incident_pushed(push, env["VIGIL_DATABASE_URL"], set(started))
            stages, created = breakdown(env["VIGIL_DATABASE_URL"], walls)
        finally:
            for e in engines:
                e.send_signal(signal.SIGTERM)
            for e in engines:
                e.wait(30)
    first: dict[int, tuple[float, float]] = {}  # incident -> (monotonic, wall) of its first push
    for r in received:
        for iid in reached(r):
            if iid not in first or r.received_at < first[iid][0]:
                first[iid] = (r.received_at, r.received_at_wall.timestamp())
    from_call = [(first[iid][0] - t0) * 1000 for iid, t0 in started.items()]
    from_creation = [(first[iid][1] - created[iid]) * 1000 for iid in started]
    print(f"push_latency backend={backend} via={args.via} engines={args.engines} incidents={len(started)} pushes={len(received)} rejected={len(push.rejected)} "
          f"from_creation_p50_ms={percentile(from_creation, 50):.0f} p99_ms={percentile(from_creation, 99):.0f} "
          f"from_intake_call_p50_ms={percentile(from_call, 50):.0f} p99_ms={percentile(from_call, 99):.0f} ({stages})")


def every_incident_pushed(push: FakePushService, url: str, wanted: set[int],
                          timeout: float = 60) -> tuple[list[Any], Callable[[Any], list[int]]]:
    """Wait until a push has reached each of the `wanted` incidents: its own page's, or a bundled
    page's that lists it (100 alerts at once page each person once a look: notify/plan.bundle;
    its Topic is page-<id>). Returns the pushes received, and which incidents a push reached."""
    from app import incidents

    db = Database(url)
    members: dict[int, list[int]] = {}

    def reached(r: Any) -> list[int]:
        body = r.json()
        if body.get("kind") != "incident":
            return []
        if not (r.topic or "").startswith("page-"):
            return [body["incident"]["id"]]
        nid = int(r.topic.split("-", 1)[1])
        if nid not in members:
            with db.transaction() as s:
                members[nid] = incidents.bundled(s, nid)
        return members[nid]

    deadline = time.monotonic() + timeout
    try:
        while True:
            received = list(push.received)
            if wanted <= {i for r in received for i in reached(r)}:
                return received, reached
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(received)} pushes in {timeout:.0f} s, not every incident reached")
            time.sleep(0.05)
    finally:
        db.dispose()


def breakdown(url: str, walls: dict[int, float]) -> tuple[str, dict[int, float]]:
    """Where the time goes, from the server's own records (p50/p99 of each stage); and when
    each incident was created (wall clock)."""
    from app.models import DeliveryAttempt, Incident, StepFiring

    db = Database(url)
    with db.transaction() as s:
        # A step's page: its own, or the bundled page that lists it.
        pages = pages_of("firing")
        rows = s.execute(
            select(Incident.id, Incident.created_at, StepFiring.fired_at, DeliveryAttempt.started_at,
                   DeliveryAttempt.latency_ms).distinct()
            .join(StepFiring, StepFiring.incident_id == Incident.id)
            .join(pages, pages.c.key == StepFiring.id)
            .join(DeliveryAttempt, DeliveryAttempt.notification_id == pages.c.nid)
        ).all()
    db.dispose()
    stages = {
        "intake": [(c.timestamp() - walls[i]) * 1000 for i, c, *_ in rows],
        "created_to_picked_up": [(f - c).total_seconds() * 1000 for _, c, f, _, _ in rows],
        "picked_up_to_sending": [(a - f).total_seconds() * 1000 for _, _, f, a, _ in rows],
        "push_request": [float(ms) for *_, ms in rows],
    }
    text = " ".join(f"{k}_p50/p99_ms={percentile(v, 50):.0f}/{percentile(v, 99):.0f}" for k, v in stages.items())
    return text, {i: c.timestamp() for i, c, *_ in rows}


def create(env: dict[str, str], key: str, n: int) -> tuple[dict[int, float], dict[int, float]]:
    """n incidents opened in one transaction, as intake would (no web tier in the way)."""
    from app import incidents
    from app.intake.base import IntakeEvent
    from app.intake.keys import lookup

    db = Database(env["VIGIL_DATABASE_URL"])
    t0, wall = time.monotonic(), time.time()
    with db.transaction() as s:
        target = lookup(s, key)
        assert target is not None
        ids = [incidents.trigger(s, target, IntakeEvent("trigger", f"Disk full on web-{i}", f"bench-{i}"),
                                 f"bench-{i}", datetime.now(UTC))[0] for i in range(n)]
    db.dispose()
    return dict.fromkeys(ids, t0), dict.fromkeys(ids, wall)


def fire(base: str, key: str, n: int) -> tuple[dict[int, float], dict[int, float]]:
    """n alerts at once (one thread each, released together); incident id -> monotonic start
    (and the same start on the wall clock, to compare with the server's records)."""
    gate = threading.Barrier(n)
    started: dict[int, float] = {}
    walls: dict[int, float] = {}
    lock = threading.Lock()

    def one(i: int) -> None:
        gate.wait()
        t0, wall = time.monotonic(), time.time()
        r = requests.post(f"{base}/api/v1/intake/generic/{key}", timeout=30,
                          json={"summary": f"Disk full on web-{i}", "dedup_key": f"bench-{i}", "severity": "critical"})
        r.raise_for_status()
        with lock:
            iid = r.json()["results"][0]["incident"]
            started[iid], walls[iid] = t0, wall

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return started, walls


if __name__ == "__main__":
    main()
