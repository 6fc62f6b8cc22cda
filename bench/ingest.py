"""Ingestion throughput through the HTTP endpoint (gunicorn, 2 gevent workers).

    python bench/ingest.py                     # SQLite
    python bench/ingest.py --db postgresql://postgres@127.0.0.1:5432/bench

Prints alerts/s for new alerts (each opens an incident) and for duplicates (each attaches to an
open incident), posted by 32 concurrent keep-alive clients on the same machine, and the CPU each
alert cost the web workers and, when it runs on this machine, the PostgreSQL server. This box's
throughput drifts by a quarter within minutes (a shared VM); CPU per alert drifts much less.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time

import aiohttp
from _support import ROOT, cpu_seconds, gunicorn, vigil_env


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    ap.add_argument("-n", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with vigil_env(args.db) as env:
        info = json.loads(subprocess.run([sys.executable, "-m", "app.cli", "demo", "--json"], env=env, cwd=ROOT,
                                         check=True, capture_output=True, text=True).stdout)
        key = next(k["key"] for k in info["integration_keys"] if k["source"] == "generic")
        backend = "postgresql" if (args.db or "").startswith("postgres") else "sqlite"
        with gunicorn(env, args.workers) as base:
            warm = [{"summary": "warm-up", "dedup_key": f"warm-{i}"} for i in range(200)]
            asyncio.run(fire(base, key, warm, args.concurrency))
            new = [{"summary": f"Disk full on web-{i}", "dedup_key": f"disk-{i}", "severity": "critical"} for i in range(args.n)]
            dup = [{"summary": "Disk full on web-1", "dedup_key": f"disk-{i % 50}", "severity": "critical"} for i in range(args.n)]
            for name, bodies in (("new", new), ("duplicate", dup)):
                web0, db0, me0 = cpu_seconds("gunicorn"), cpu_seconds("postgres:"), time.process_time()
                secs, st = asyncio.run(fire(base, key, bodies, args.concurrency))
                web, db = (cpu_seconds("gunicorn") - web0) / args.n * 1000, (cpu_seconds("postgres:") - db0) / args.n * 1000
                client = (time.process_time() - me0) / args.n * 1000
                cpu = f"web_cpu_ms={web:.2f}" + (f" db_cpu_ms={db:.2f}" if backend == "postgresql" else "") + f" client_cpu_ms={client:.2f}"
                print(f"ingest_{name}_alerts backend={backend} n={args.n} seconds={secs:.2f} alerts_per_s={args.n / secs:.0f} "
                      f"{cpu} statuses={st}")


if __name__ == "__main__":
    main()
