"""The live tier under a crowd: N WebSocket viewers on ONE gunicorn gevent worker, one event to
all of them, with intake POSTs to the same worker at the same time.

    python bench/live.py                          # 5,000 viewers, SQLite
    python bench/live.py -n 1000 --db postgresql://postgres@127.0.0.1:5432/bench

What it does: a fresh Vigil (demo data, SQLite unless --db), served by gunicorn with one gevent
worker (the Procfile's settings: --worker-connections 10000). Viewer processes (--clients, each an
asyncio loop with the `websockets` client) log in as the demo manager (who sees every client) and
open N sockets. The viewers are Acme's client viewer (who sees Acme's events only), as on a
client's live page. Then, while a load thread posts repeat alerts to that worker at --rate per
second for another client, Globex (a storm elsewhere: events these viewers must not be woken
for), the bench posts --events probe alerts to Acme that each open a new incident, one every
--gap seconds, and every viewer stamps the moment its "incident.triggered" frame for each probe
arrives. With --load-client acme the load's repeats are Acme's too, so every one of them is an
event for all N viewers (the worst case: --rate × N frames a second).

Prints:
- `live_connect`: the time to open the N sockets, and the worker's resident memory (RSS, from
  /proc, the worker process only) before, with the N viewers, and a few seconds after they left:
  KB per viewer and the share given back (--again: a second crowd as large comes and goes, to
  tell memory kept for reuse from memory lost).
- `live_event_to_all`: from just before a probe's POST is sent to each viewer's receipt, over all
  (viewer, probe) pairs: p50, p99 and the slowest; probes that did not reach every viewer.
- `live_intake_meanwhile`: the load thread's POST latency p50 / p99 and statuses.
What ran beside: the viewer processes and the load thread on the same 2 cores as the worker (the
viewers' own reading time is inside the figures), and no engine (nothing is paged; the events are
intake's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

import requests
from _support import ROOT, gunicorn, tree, vigil_env


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1])


def login(base: str, email: str, password: str) -> str:
    s = requests.Session()
    page = s.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = s.post(f"{base}/login", data={"email": email, "password": password, "csrf_token": token},
               allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    return "; ".join(f"{c.name}={c.value}" for c in s.cookies)


def viewer_process(base: str, cookie: str, count: int, ready: Any, done: Any, out: Any) -> None:
    """Open `count` sockets, report ready, stamp every incident.triggered frame, and when told,
    close them all and send back {incident id: [receipt times]}."""
    from websockets.asyncio.client import connect

    async def run() -> None:
        got: dict[int, list[float]] = {}
        socks: list[Any] = []
        url = base.replace("http://", "ws://") + "/ws"
        gate = asyncio.Semaphore(50)  # handshakes in flight at once

        async def open_one() -> Any:
            async with gate:
                for attempt in range(20):
                    try:
                        return await connect(url, origin=base, additional_headers={"Cookie": cookie},
                                             open_timeout=60, ping_interval=None, compression=None,
                                             max_queue=None)
                    except Exception:
                        await asyncio.sleep(0.2 * (attempt + 1))
                raise RuntimeError("could not connect")

        socks = list(await asyncio.gather(*(open_one() for _ in range(count))))

        async def read(ws: Any) -> None:
            try:
                async for raw in ws:
                    if '"incident.triggered"' in raw:
                        t = time.time()
                        msg = json.loads(raw)
                        got.setdefault(msg["event"]["incident_id"], []).append(t)
            except Exception:
                pass

        readers = [asyncio.ensure_future(read(ws)) for ws in socks]
        ready.set()
        while not done.is_set():
            await asyncio.sleep(0.1)
        for ws in socks:
            await ws.close()
        for r in readers:
            r.cancel()
        out.put(got)

    asyncio.run(run())


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    ap.add_argument("-n", type=int, default=5000, help="viewers")
    ap.add_argument("--clients", type=int, default=4, help="viewer processes")
    ap.add_argument("--events", type=int, default=10, help="probe events")
    ap.add_argument("--gap", type=float, default=1.5, help="seconds between probes")
    ap.add_argument("--rate", type=float, default=20.0, help="intake POSTs/s meanwhile")
    ap.add_argument("--again", action="store_true", help="then a second crowd as large (memory reused?)")
    ap.add_argument("--load-client", choices=["globex", "acme"], default="globex", help="whose alerts the load posts")
    args = ap.parse_args()
    with vigil_env(args.db) as env:
        info = json.loads(subprocess.run([sys.executable, "-m", "app.cli", "demo", "--json"], env=env, cwd=ROOT,
                                         check=True, capture_output=True, text=True).stdout)
        key = next(k["key"] for k in info["integration_keys"] if k["source"] == "generic")  # Acme's
        other = next(k["key"] for k in info["integration_keys"] if k["source"] == "events_v2")  # Globex's
        viewer = next(x for x in info["logins"] if x["role"] == "client_viewer")  # Acme's
        backend = "postgresql" if (args.db or "").startswith("postgres") else "sqlite"
        with gunicorn(dict(env, VIGIL_EVENT_POLL_SECONDS="0.25"), workers=1) as base:
            worker = next(p for p in tree(base.pid) if p != base.pid)
            cookie = login(base, viewer["email"], viewer["password"])
            requests.get(f"{base}/", headers={"Cookie": cookie}, timeout=10)  # warm the worker
            before = rss_kb(worker)
            ctx = mp.get_context("spawn")

            def crowd() -> tuple[list[Any], Any, Any, float]:
                done, out = ctx.Event(), ctx.Queue()
                readies, procs = [], []
                t0 = time.perf_counter()
                for i in range(args.clients):
                    ready = ctx.Event()
                    count = args.n // args.clients + (1 if i < args.n % args.clients else 0)
                    p = ctx.Process(target=viewer_process, args=(base, cookie, count, ready, done, out), daemon=True)
                    p.start()
                    readies.append(ready)
                    procs.append(p)
                for r in readies:
                    if not r.wait(600):
                        raise SystemExit("viewers did not connect within 10 minutes")
                return procs, done, out, time.perf_counter() - t0

            def leave(procs: list[Any], done: Any, out: Any) -> dict[int, list[float]]:
                done.set()
                got: dict[int, list[float]] = {}
                for _ in procs:
                    for iid, times in out.get(timeout=300).items():
                        got.setdefault(iid, []).extend(times)
                for p in procs:
                    p.join(30)
                time.sleep(5.0)
                requests.get(f"{base}/healthz", timeout=10)
                return got

            procs, done, out, connect_s = crowd()
            time.sleep(1.0)
            held = rss_kb(worker)

            stop = threading.Event()
            intake: list[float] = []
            statuses: dict[int, int] = {}

            def load() -> None:
                s = requests.Session()
                if args.load_client == "acme":
                    url, body = f"{base}/api/v1/intake/generic/{key}", {"summary": "Queue backlog on mq-1",
                                                                        "dedup_key": "live-bench-repeat"}
                else:
                    url, body = f"{base}/v2/enqueue", {
                        "routing_key": other, "event_action": "trigger", "dedup_key": "live-bench-repeat",
                        "payload": {"summary": "Queue backlog on mq-1", "source": "mq-1", "severity": "critical"}}
                n = 0
                while not stop.is_set():
                    t = time.perf_counter()
                    r = s.post(url, json=body, timeout=60)
                    intake.append(time.perf_counter() - t)
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                    n += 1
                    time.sleep(max(0.0, 1 / args.rate - (time.perf_counter() - t)))

            loader = threading.Thread(target=load, daemon=True)
            loader.start()
            sent: dict[int, float] = {}
            s = requests.Session()
            for i in range(args.events):
                time.sleep(args.gap)
                t = time.time()
                r = s.post(f"{base}/api/v1/intake/generic/{key}",
                           json={"summary": f"Probe {i}", "dedup_key": f"live-probe-{i}-{t}"}, timeout=60)
                sent[int(r.json()["results"][0]["incident"])] = t
            time.sleep(max(3.0, args.gap))
            stop.set()
            loader.join(70)
            got = leave(procs, done, out)
            left = rss_kb(worker)
            again = ""
            if args.again:  # a second crowd as large: does the worker reuse what the first left?
                procs, done, out, _ = crowd()
                time.sleep(1.0)
                held2 = rss_kb(worker)
                leave(procs, done, out)
                again = f" second_crowd_with={held2 / 1024:.0f} after_it_left={rss_kb(worker) / 1024:.0f}"

        lat = [(t - sent[iid]) * 1000 for iid, times in got.items() if iid in sent for t in times]
        missing = sum(1 for iid in sent if len(got.get(iid, [])) < args.n)
        per_viewer = (held - before) / args.n
        returned = (held - left) / max(1, held - before)
        print(f"live_connect backend={backend} viewers={args.n} clients={args.clients} seconds={connect_s:.1f} "
              f"worker_rss_mb_before={before / 1024:.0f} with={held / 1024:.0f} after_leaving={left / 1024:.0f} "
              f"kb_per_viewer={per_viewer:.1f} returned_share={returned:.2f}{again}", flush=True)
        print(f"live_event_to_all backend={backend} viewers={args.n} probes={len(sent)} receipts={len(lat)} "
              f"p50_ms={pct(lat, 50):.0f} p99_ms={pct(lat, 99):.0f} max_ms={max(lat, default=float('nan')):.0f} "
              f"probes_not_reaching_all={missing} each_probe_p99_ms="
              f"{','.join(str(round(pct([(t - t0) * 1000 for t in got.get(iid, [])], 99))) for iid, t0 in sent.items())}",
              flush=True)
        ms = [x * 1000 for x in intake]
        print(f"live_intake_meanwhile backend={backend} load_client={args.load_client} posts={len(ms)} rate_per_s={args.rate:g} "
              f"p50_ms={statistics.median(ms) if ms else float('nan'):.0f} p99_ms={pct(ms, 99):.0f} "
              f"max_ms={max(ms, default=float('nan')):.0f} statuses={statuses}", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
