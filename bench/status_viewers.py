"""N WebSocket viewers of one status page on ONE gevent worker (gunicorn -k gevent -w 1), and how
long one change takes to reach all of them: each viewer's time from the intake call that opened
an incident to the page's new state arriving on its socket. Also the worker's memory per open
connection (its RSS growth over N sockets). The viewers are asyncio clients in this process.

    python bench/status_viewers.py            # 5,000 viewers, 3 changes
    python bench/status_viewers.py -n 1000 --db postgresql://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

import requests
from _support import ROOT, gunicorn, percentile, tree, vigil_env
from websockets.asyncio.client import connect


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


async def viewer(url: str, ready: asyncio.Event, got: list[float], opened: list[int], changes: asyncio.Queue,
                 sockets: list) -> None:
    ws = await connect(url, open_timeout=120, ping_interval=None, max_size=2**22)
    sockets.append(ws)
    hello = json.loads(await ws.recv())
    assert hello["type"] == "hello"
    opened.append(1)
    await ready.wait()
    while True:
        msg = await ws.recv()
        if msg.startswith('{"type":"page"'):  # the server's message, not parsed: the clients share this CPU
            got.append(time.perf_counter())
            await changes.put(1)


async def run(url: str, n: int, changes: int, key: str, base: str, worker: int) -> dict[str, float]:
    ready = asyncio.Event()
    opened: list[int] = []
    sockets: list = []
    arrivals: list[list[float]] = []
    queue: asyncio.Queue = asyncio.Queue()
    got: list[float] = []
    before = rss_kib(worker)
    tasks = []
    started = time.perf_counter()
    for i in range(0, n, 250):  # open in waves: a real crowd arrives over seconds, not in one instant
        tasks += [asyncio.create_task(viewer(url, ready, got, opened, queue, sockets)) for _ in range(min(250, n - i))]
        while len(opened) < min(i + 250, n):
            await asyncio.sleep(0.05)
            failed = [t for t in tasks if t.done() and t.exception()]
            if failed:
                raise failed[0].exception()  # type: ignore[misc]
    open_s = time.perf_counter() - started
    await asyncio.sleep(1.0)
    after = rss_kib(worker)
    ready.set()
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    for c in range(changes):
        got.clear()
        t0 = time.perf_counter()
        r = await loop.run_in_executor(None, lambda c=c: requests.post(
            f"{base}/api/v1/intake/generic/{key}", json={"summary": f"bench {c}", "dedup_key": f"viewers-{c}-{time.time()}",
                                                          "severity": "critical"}, timeout=30))
        assert r.status_code == 202, r.text
        deadline = time.perf_counter() + 30
        while len(got) < n and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        arrivals.append(list(got))
        latencies += [t - t0 for t in got]
        await asyncio.sleep(1.0)
    for t in tasks:
        t.cancel()
    for ws in sockets:
        await ws.close()
    return {"open_s": open_s, "per_conn_kib": (after - before) / n, "before_mib": before / 1024, "after_mib": after / 1024,
            "delivered": sum(len(a) for a in arrivals), "expected": n * changes,
            "p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "max": max(latencies or [float("nan")])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("--changes", type=int, default=3)
    args = ap.parse_args()
    with vigil_env(args.db) as env:
        out = subprocess.run([sys.executable, "-m", "app.cli", "demo", "--json"], env=env, cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        key = next(k["key"] for k in json.loads(out)["integration_keys"] if k["client"] == "acme" and k["source"] == "generic")
        with gunicorn(env, workers=1, worker_connections=args.n + 100) as base:
            worker = next(p for p in tree(base.pid) if p != base.pid)
            page = requests.get(f"{base}/status/acme/body", timeout=10).text
            url = base.replace("http://", "ws://") + "/status/acme/ws"
            res = asyncio.run(run(url, args.n, args.changes, key, base, worker))
    backend = "postgresql" if (args.db or "").startswith("postgres") else "sqlite"
    print(f"{args.n} WebSocket viewers of one status page on one gevent worker ({backend}; the page's fragment "
          f"{len(page) / 1024:.0f} KiB), {args.changes} changes:")
    print(f"  opened in {res['open_s']:.1f} s; delivered {res['delivered']} of {res['expected']} page updates")
    print(f"  change -> page on every socket: p50 {res['p50'] * 1000:.0f} ms, p99 {res['p99'] * 1000:.0f} ms, "
          f"max {res['max'] * 1000:.0f} ms")
    print(f"  worker memory {res['before_mib']:.0f} MiB -> {res['after_mib']:.0f} MiB: "
          f"{res['per_conn_kib']:.0f} KiB per connection")
    print(f"  the {args.n} clients ran in this process on the same 2-core machine; load average "
          f"{os.getloadavg()[0]:.2f} (other work shares it)")


if __name__ == "__main__":
    main()
