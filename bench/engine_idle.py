"""What an idle `vigil engine` process costs: its CPU a second while nothing is due, the price
of being ready (five ticks a second, its heartbeat, the periodic jobs' looks, its LISTEN).

    python bench/engine_idle.py                                     # SQLite
    python bench/engine_idle.py --db postgresql://postgres@127.0.0.1:5432/bench

A fresh database (migrated, the demo's data, and --history resolved incidents with their
pages, as bench/ingest.py makes them), one engine process started and left to
settle, then its CPU (its process tree, from /proc) over --seconds, and PostgreSQL's (the server
processes serving this database) beside it. Printed three times, one reading after another:
this box's speed drifts by a quarter within minutes.
What ran beside: the engine, and PostgreSQL when used, on the same cores.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

from _support import ROOT, CpuMeter, postgres_backends, tree, vigil_env
from ingest import history


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    ap.add_argument("--history", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    with vigil_env(args.db) as env:
        url = env["VIGIL_DATABASE_URL"]
        subprocess.run([sys.executable, "-m", "app.cli", "demo"], env=env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        history(url, args.history)
        backend = "postgresql" if url.startswith("postgres") else "sqlite"
        engine = subprocess.Popen([sys.executable, "-m", "app.cli", "engine"], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(5)  # imports, the first ticks, the jobs' first runs
            for _ in range(3):
                eng = CpuMeter(lambda: tree(engine.pid))
                pg = CpuMeter(lambda: postgres_backends(url) if backend == "postgresql" else [])
                eng.start()
                pg.start()
                t0 = time.monotonic()
                time.sleep(args.seconds)
                elapsed = time.monotonic() - t0
                print(f"engine_idle backend={backend} seconds={elapsed:.1f} "
                      f"engine_cpu_ms_per_s={eng.seconds() / elapsed * 1000:.1f} "
                      f"db_cpu_ms_per_s={pg.seconds() / elapsed * 1000:.1f}", flush=True)
        finally:
            engine.send_signal(signal.SIGTERM)
            engine.wait(60)


if __name__ == "__main__":
    main()
