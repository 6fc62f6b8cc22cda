"""Heartbeat pings per second through the ping URL (gunicorn, 2 gevent workers), as a cron fleet
or a runaway loop would send them: GET /hb/<uuid> from 32 concurrent keep-alive clients, spread
over `--monitors` monitors (1: one URL hammered), then POSTs with a 2 kB log tail.

    python bench/heartbeats.py                    # SQLite
    python bench/heartbeats.py --db postgresql://postgres@127.0.0.1:5432/bench

Prints pings/s, the CPU each ping cost in the web workers (gunicorn's process tree), and checks
that every ping counted (the monitors' counters) and that the ping table stayed bounded.
What ran beside: the load generator and gunicorn (and PostgreSQL) on the same cores, with other
people's work on this shared machine: the figure moves with their load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time

import aiohttp
from _support import ROOT, CpuMeter, gunicorn, postgres_backends, tree, vigil_env
from sqlalchemy import func, select

from app.db import Database
from app.intake import heartbeats
from app.models import HeartbeatMonitor, HeartbeatPing, Service


async def fire(urls: list[str], body: bytes | None, concurrency: int) -> tuple[float, dict[int, int]]:
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[str] = asyncio.Queue()
    for u in urls:
        queue.put_nowait(u)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            url = queue.get_nowait()
            request = session.post(url, data=body) if body is not None else session.get(url)
            async with request as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        return time.perf_counter() - t0, statuses


def make_monitors(url: str, n: int) -> list[str]:
    from datetime import UTC, datetime

    db = Database(url)
    with db.transaction() as s:
        svc = s.execute(select(Service).order_by(Service.id)).scalars().first()
        tokens = [heartbeats.create(s, svc, heartbeats.MonitorInput(f"bench job {i}", 3600, 600), datetime.now(UTC)).token
                  for i in range(n)]
    db.dispose()
    return tokens


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--monitors", type=int, default=50)
    args = ap.parse_args()
    backend = "postgresql" if (args.db or "").startswith("postgres") else "sqlite"
    with vigil_env(args.db) as env:
        json.loads(subprocess.run([sys.executable, "-m", "app.cli", "demo", "--json"], env=env, cwd=ROOT, check=True,
                                  capture_output=True, text=True).stdout)
        url = env["VIGIL_DATABASE_URL"]
        runs = [("hammered", make_monitors(url, 1)), ("fleet", make_monitors(url, args.monitors))]
        log_tail = ("rsync: 1,204 files, 3.2 GB transferred\n" * 52).encode()[:2048]
        with gunicorn(env, args.workers) as base:
            asyncio.run(fire([f"{base}/hb/{runs[0][1][0]}"] * 200, None, args.concurrency))  # warm-up
            for name, tokens in runs:
                for method, body in (("GET", None), ("POST", log_tail)):
                    urls = [f"{base}/hb/{tokens[i % len(tokens)]}" for i in range(args.n)]
                    web = CpuMeter(lambda: tree(base.pid))
                    pg = CpuMeter(lambda: postgres_backends(url) if backend == "postgresql" else [])
                    web.start()
                    pg.start()
                    secs, st = asyncio.run(fire(urls, body, args.concurrency))
                    cpu = f"web_cpu_ms={web.seconds() / args.n * 1000:.2f}"
                    cpu += f" db_cpu_ms={pg.seconds() / args.n * 1000:.2f}" if backend == "postgresql" else ""
                    print(f"heartbeat_pings run={name} monitors={len(tokens)} method={method} backend={backend} "
                          f"n={args.n} seconds={secs:.2f} pings_per_s={args.n / secs:.0f} {cpu} statuses={st}", flush=True)
        db = Database(url)
        with db.session() as s:
            counted = s.scalar(select(func.sum(HeartbeatMonitor.pings))) or 0
            kept = s.scalar(select(func.count()).select_from(HeartbeatPing))
        db.dispose()
        sent = 200 + 4 * args.n
        print(f"heartbeat_pings_counted sent={sent} counted={counted} ping_rows_kept={kept} "
              f"(at most 100 per monitor, {1 + args.monitors} monitors)")


if __name__ == "__main__":
    main()
