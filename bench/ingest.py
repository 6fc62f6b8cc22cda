"""Ingestion throughput through the HTTP endpoint (gunicorn, 2 gevent workers), without and with
a `vigil engine` process paging the incidents the alerts open, as in production.

    python bench/ingest.py                     # SQLite
    python bench/ingest.py --db postgresql://postgres@127.0.0.1:5432/bench
    python bench/ingest.py --engine with       # only the run with the engine
    python bench/ingest.py --history 0         # on a new, empty database (default: 20,000 incidents)
    python bench/ingest.py --rounds 1          # one run without the engine, then one with it

Prints, per run, alerts/s for new alerts (each opens an incident) and for duplicates (each
attaches to an open incident), posted by 32 concurrent keep-alive clients on the same machine,
and the CPU each alert cost: the web workers (gunicorn's process tree), the engine (its
process), PostgreSQL (the server processes serving this database) and the load generator.
Only processes this bench started, or that serve its database, are counted; with the engine, the
new alerts' figures count until it has fired every step and sent every page they made, and
`engine_caught_up_s` is how long after the last alert's answer that was (0: it kept up with the
storm). `cores_busy`: how
busy the machine's cores were while the alerts went in (all processes, from /proc/stat): on
SQLite with the engine it falls to ~0.9, the time web workers wait for the write lock while the
engine holds it and nothing else is left to compute. Then the share of
the intake rate kept with the engine running: the runs go without, with, with, without (two
rounds; ABBA, so that a drift of the box's speed, or the database growing by each run's
incidents, weighs on both sides alike), and the share is the alerts of the runs with the engine
over their seconds, divided by the same of the runs without. Everyone is reached on the
recording channel (an in-memory log), so the engine does all its database work for each page
and no network call.
What ran beside: the load generator, gunicorn, the engine and PostgreSQL, on the same cores.
This box's throughput drifts by a quarter within minutes (a shared VM); CPU per alert drifts less.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import aiohttp
from _support import ROOT, BusyMeter, CpuMeter, gunicorn, postgres_backends, tree, vigil_env
from sqlalchemy import delete, insert, select, text

from app.db import Database
from app.models import (
    Alert,
    ContactMethod,
    Event,
    Incident,
    Notification,
    Service,
    StepFiring,
    User,
)


async def fire(base: str, key: str, bodies: list[dict], concurrency: int) -> tuple[float, dict[int, int]]:
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[dict] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    url = f"{base}/api/v1/intake/generic/{key}"

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            async with session.post(url, json=body) as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        return time.perf_counter() - t0, statuses


@contextmanager
def engine(env: dict[str, str], running: bool) -> Iterator[int | None]:
    if not running:
        yield None
        return
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "engine"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        settled(proc.pid)
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def paged_all(url: str, timeout: float = 120.0) -> float:
    """Wait until the engine has fired every step due and sent every page due: the seconds that
    took from the last alert's answer (0 when it kept up with the storm)."""
    db = Database(url)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < timeout:
            now = datetime.now(UTC)
            with db.engine.connect() as c:
                left = c.execute(select(Incident.id).where(
                    Incident.status == "triggered", Incident.next_escalation_at <= now).limit(1)).first() or \
                    c.execute(select(Notification.id).where(
                        Notification.status.in_(("pending", "sending")), Notification.not_before <= now).limit(1)).first()
            if left is None:
                return time.monotonic() - t0
            time.sleep(0.05)
        raise RuntimeError(f"the engine left steps or pages due {timeout:.0f} s after the storm")
    finally:
        db.dispose()


def settled(pid: int, timeout: float = 60.0) -> None:
    """Wait until the engine has started (imports, first ticks): its CPU stays under a tenth of a
    core for half a second. A fixed pause was too short on a slow box: the engine was still
    importing when the storm began, and its start-up was counted as the storm's."""
    deadline = time.monotonic() + timeout
    meter = CpuMeter(lambda: tree(pid))
    time.sleep(1.0)
    while time.monotonic() < deadline:
        meter.start()
        time.sleep(0.5)
        if meter.seconds() < 0.05:
            return
    raise RuntimeError(f"the engine did not settle within {timeout:.0f} s")


def recording_only(url: str) -> None:
    """Everyone's only contact method: the recording channel (no provider, every page recorded)."""
    db = Database(url)
    now = datetime.now(UTC)
    with db.transaction() as s:
        for user in s.execute(select(User)).scalars():
            s.execute(delete(ContactMethod).where(ContactMethod.user_id == user.id))
            s.add(ContactMethod(user_id=user.id, kind="recording", address=user.email, created_at=now))
    db.dispose()


def history(url: str, n: int) -> None:
    """A database in use: n resolved incidents of the last months (each with its alert, its first
    step's firing, a page sent and two events), then ANALYZE, as autovacuum would have done. On a
    new, empty database PostgreSQL plans the storm's statements for tables of a few rows, and
    keeps those plans (prepared statements) while the tables grow by thousands of rows a second."""
    if n <= 0:
        return
    db = Database(url)
    now = datetime.now(UTC)
    with db.transaction() as s:
        sv = s.execute(select(Service)).scalars().first()
        user = s.execute(select(User.id).where(User.active)).scalars().first()
        for start in range(0, n, 5000):
            rows = []
            for i in range(start, min(n, start + 5000)):
                at = now - timedelta(days=120) + timedelta(seconds=i * 10_000_000 // n)
                rows.append({"client_id": sv.client_id, "service_id": sv.id, "policy_id": None,
                             "summary": f"Past alert {i}", "details": "", "source": "generic", "severity": "critical",
                             "urgency": "high", "dedup_key": f"past-{i}", "status": "resolved", "alert_count": 1,
                             "created_at": at, "last_alert_at": at, "response_deadline": at + timedelta(hours=4),
                             "acknowledged_at": at + timedelta(minutes=5), "acknowledged_by_id": user,
                             "responded_at": at + timedelta(minutes=5), "resolved_at": at + timedelta(hours=1),
                             "resolved_by_id": user, "esc_seq": 1, "esc_step": 1, "esc_loop": 0})
            made = list(s.execute(insert(Incident).returning(Incident.id, Incident.created_at), rows))
            s.execute(insert(Alert), [{"incident_id": i, "service_id": sv.id, "source": "generic", "action": "trigger",
                                       "dedup_key": f"past-{i}", "summary": "Past alert", "outcome": "created",
                                       "received_at": at, "payload": {}} for i, at in made])
            fired = list(s.execute(insert(StepFiring).returning(StepFiring.id, StepFiring.incident_id, StepFiring.fired_at), [
                {"incident_id": i, "seq": 0, "step_index": 0, "loop": 0, "due_at": at, "fired_at": at,
                 "lateness_ms": 20, "manual": False, "engine": "past", "targets": [user]} for i, at in made]))
            s.execute(insert(Event), [{"at": at, "kind": kind, "incident_id": i, "client_id": sv.client_id, "data": {}}
                                      for i, at in made for kind in ("incident.triggered", "incident.resolved")])
            s.execute(insert(Notification), [
                {"incident_id": i, "firing_id": f, "user_id": user, "kind": "recording", "purpose": "page",
                 "status": "sent", "not_before": at, "created_at": at, "sent_at": at, "attempts": 1}
                for f, i, at in fired])
    with db.engine.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    ap.add_argument("-n", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--engine", choices=["both", "with", "without"], default="both")
    ap.add_argument("--history", type=int, default=20000, help="resolved incidents in the database before the storm")
    ap.add_argument("--rounds", type=int, default=2, help="with --engine both: rounds of without, with (ABBA)")
    args = ap.parse_args()
    with vigil_env(args.db) as env:
        info = json.loads(subprocess.run([sys.executable, "-m", "app.cli", "demo", "--json"], env=env, cwd=ROOT,
                                         check=True, capture_output=True, text=True).stdout)
        key = next(k["key"] for k in info["integration_keys"] if k["source"] == "generic")
        recording_only(env["VIGIL_DATABASE_URL"])
        history(env["VIGIL_DATABASE_URL"], args.history)
        backend = "postgresql" if (args.db or "").startswith("postgres") else "sqlite"
        abba = [False, True, True, False]  # with the engine?
        runs = {"both": [abba[i % 4] for i in range(2 * args.rounds)], "with": [True], "without": [False]}[args.engine]
        taken: dict[bool, list[tuple[int, float]]] = {False: [], True: []}  # (alerts, seconds) of each run
        with gunicorn(env, args.workers) as base:
            warm = [{"summary": "warm-up", "dedup_key": f"warm-{i}"} for i in range(200)]
            asyncio.run(fire(base, key, warm, args.concurrency))
            for run, with_engine in enumerate(runs):
                tag = "with" if with_engine else "without"
                new = [{"summary": f"Disk full on web-{i}", "dedup_key": f"{run}-{tag}-disk-{i}", "severity": "critical"}
                       for i in range(args.n)]
                dup = [{"summary": "Disk full on web-1", "dedup_key": f"{run}-{tag}-disk-{i % 50}", "severity": "critical"}
                       for i in range(args.n)]
                with engine(env, with_engine) as engine_pid:
                    for name, bodies in (("new", new), ("duplicate", dup)):
                        web = CpuMeter(lambda: tree(base.pid))
                        eng = CpuMeter(lambda pid=engine_pid: tree(pid) if pid else [])
                        pg = CpuMeter(lambda: postgres_backends(env["VIGIL_DATABASE_URL"]) if backend == "postgresql" else [])
                        for meter in (web, eng, pg):
                            meter.start()
                        me0 = time.process_time()
                        busy = BusyMeter()
                        busy.start()
                        secs, st = asyncio.run(fire(base, key, bodies, args.concurrency))
                        busy_share = busy.share()
                        caught_up = ""
                        if with_engine and name == "new":  # the engine's cost for the last incidents counts too
                            caught_up = f" engine_caught_up_s={paged_all(env['VIGIL_DATABASE_URL']):.2f}"
                        ms = {k: m.seconds() / args.n * 1000 for k, m in (("web", web), ("engine", eng), ("db", pg))}
                        client = (time.process_time() - me0) / args.n * 1000
                        if name == "new":
                            taken[with_engine].append((args.n, secs))
                        cpu = f"web_cpu_ms={ms['web']:.2f}"
                        cpu += f" engine_cpu_ms={ms['engine']:.2f}" if with_engine else ""
                        cpu += f" db_cpu_ms={ms['db']:.2f}" if backend == "postgresql" else ""
                        print(f"ingest_{name}_alerts backend={backend} engine={tag} n={args.n} seconds={secs:.2f} "
                              f"alerts_per_s={args.n / secs:.0f} {cpu} client_cpu_ms={client:.2f} cores_busy={busy_share:.2f} "
                              f"statuses={st}{caught_up}",
                              flush=True)
        if taken[True] and taken[False]:
            rate = {k: sum(n for n, _ in v) / sum(t for _, t in v) for k, v in taken.items()}
            print(f"ingest_with_engine_share backend={backend} runs={len(runs)} new_alerts_per_s_with={rate[True]:.0f} "
                  f"without={rate[False]:.0f} ratio={rate[True] / rate[False]:.2f}")


if __name__ == "__main__":
    main()
