"""Ingestion throughput through the HTTP endpoint (gunicorn, 2 gevent workers), without and with
a `vigil engine` process paging the incidents the alerts open, as in production.

    python bench/ingest.py                     # SQLite
    python bench/ingest.py --db postgresql://postgres@127.0.0.1:5432/bench
    python bench/ingest.py --engine with       # only the run with the engine

Prints, per run, alerts/s for new alerts (each opens an incident) and for duplicates (each
attaches to an open incident), posted by 32 concurrent keep-alive clients on the same machine,
and the CPU each alert cost: the web workers (gunicorn's process tree), the engine (its
process), PostgreSQL (the server processes serving this database) and the load generator.
Only processes this bench started, or that serve its database, are counted. Then the share of
the intake rate kept with the engine running. Everyone is reached on the recording channel (an
in-memory log), so the engine does all its database work for each page and no network call.
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
from datetime import UTC, datetime

import aiohttp
from _support import ROOT, CpuMeter, gunicorn, postgres_backends, tree, vigil_env
from sqlalchemy import delete, select

from app.db import Database
from app.models import ContactMethod, User


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    ap.add_argument("-n", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--engine", choices=["both", "with", "without"], default="both")
    args = ap.parse_args()
    with vigil_env(args.db) as env:
        info = json.loads(subprocess.run([sys.executable, "-m", "app.cli", "demo", "--json"], env=env, cwd=ROOT,
                                         check=True, capture_output=True, text=True).stdout)
        key = next(k["key"] for k in info["integration_keys"] if k["source"] == "generic")
        recording_only(env["VIGIL_DATABASE_URL"])
        backend = "postgresql" if (args.db or "").startswith("postgres") else "sqlite"
        runs = {"both": (False, True), "with": (True,), "without": (False,)}[args.engine]
        rate: dict[bool, float] = {}
        with gunicorn(env, args.workers) as base:
            warm = [{"summary": "warm-up", "dedup_key": f"warm-{i}"} for i in range(200)]
            asyncio.run(fire(base, key, warm, args.concurrency))
            for with_engine in runs:
                tag = "with" if with_engine else "without"
                new = [{"summary": f"Disk full on web-{i}", "dedup_key": f"{tag}-disk-{i}", "severity": "critical"}
                       for i in range(args.n)]
                dup = [{"summary": "Disk full on web-1", "dedup_key": f"{tag}-disk-{i % 50}", "severity": "critical"}
                       for i in range(args.n)]
                with engine(env, with_engine) as engine_pid:
                    for name, bodies in (("new", new), ("duplicate", dup)):
                        web = CpuMeter(lambda: tree(base.pid))
                        eng = CpuMeter(lambda pid=engine_pid: tree(pid) if pid else [])
                        pg = CpuMeter(lambda: postgres_backends(env["VIGIL_DATABASE_URL"]) if backend == "postgresql" else [])
                        for meter in (web, eng, pg):
                            meter.start()
                        me0 = time.process_time()
                        secs, st = asyncio.run(fire(base, key, bodies, args.concurrency))
                        if with_engine and name == "new":
                            time.sleep(1.0)  # the engine pages the last incidents: their cost is counted too
                        ms = {k: m.seconds() / args.n * 1000 for k, m in (("web", web), ("engine", eng), ("db", pg))}
                        client = (time.process_time() - me0) / args.n * 1000
                        if name == "new":
                            rate[with_engine] = args.n / secs
                        cpu = f"web_cpu_ms={ms['web']:.2f}"
                        cpu += f" engine_cpu_ms={ms['engine']:.2f}" if with_engine else ""
                        cpu += f" db_cpu_ms={ms['db']:.2f}" if backend == "postgresql" else ""
                        print(f"ingest_{name}_alerts backend={backend} engine={tag} n={args.n} seconds={secs:.2f} "
                              f"alerts_per_s={args.n / secs:.0f} {cpu} client_cpu_ms={client:.2f} statuses={st}",
                              flush=True)
        if len(rate) == 2:
            print(f"ingest_with_engine_share backend={backend} new_alerts_per_s_with={rate[True]:.0f} "
                  f"without={rate[False]:.0f} ratio={rate[True] / rate[False]:.2f}")


if __name__ == "__main__":
    main()
