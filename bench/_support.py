"""Shared by the bench scripts: a throwaway Vigil served by gunicorn (gevent workers)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reset_postgres(url: str) -> None:
    from sqlalchemy import text

    from app.db import Database

    db = Database(url)
    with db.engine.begin() as c:
        c.execute(text("DROP SCHEMA public CASCADE"))
        c.execute(text("CREATE SCHEMA public"))
    db.dispose()


@contextmanager
def vigil_env(db_url: str | None) -> Iterator[dict[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        url = db_url or f"sqlite:///{tmp}/bench.db"
        if url.startswith("postgres"):
            reset_postgres(url)
        env = dict(os.environ, VIGIL_DATABASE_URL=url, VIGIL_INSTANCE_PATH=f"{tmp}/instance",
                   VIGIL_SECRET_KEY="bench", PYTHONPATH=str(ROOT), VIGIL_PASSWORD_PROFILE="CHEAPEST")
        subprocess.run([sys.executable, "-m", "app.cli", "db", "upgrade"], env=env, check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        yield env


@contextmanager
def gunicorn(env: dict[str, str], workers: int = 2) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--graceful-timeout", "2",
         "--log-level", "warning", "--reuse-port", "app.wsgi:app"],
        env=env, cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def cpu_seconds(name: str) -> float:
    """CPU time (user + system) of every local process whose command line holds `name`: Linux's
    /proc, so it sees the PostgreSQL server's backends too when it runs on this machine."""
    hz = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if name.encode() not in f.read():
                    continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:  # gone meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / hz  # utime, stime
    return total


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]
