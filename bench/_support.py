"""Shared by the bench scripts: a throwaway Vigil served by gunicorn (gevent workers)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


class Server(str):
    """gunicorn's base URL, and the pid of its master (its workers are the master's children)."""

    pid: int


@contextmanager
def gunicorn(env: dict[str, str], workers: int = 2, worker_connections: int | None = None) -> Iterator[Server]:
    """`worker_connections`: how many connections a gevent worker holds at once (10,000 unless
    said; gunicorn's own default is 1,000)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", str(workers), "--worker-connections",
         str(worker_connections or 10000), "-b", f"127.0.0.1:{port}", "--graceful-timeout", "2",
         "--log-level", "warning", "--reuse-port", "app.wsgi:app"],
        env=dict(env, PYTHONMALLOC=env.get("PYTHONMALLOC", "malloc")), cwd=ROOT,  # as the Procfile runs them
    )
    base = Server(f"http://127.0.0.1:{port}")
    base.pid = proc.pid
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


def _proc_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far, from Linux's /proc; None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree(pid: int) -> list[int]:
    """A process and all its descendants (gunicorn's master and its workers, say)."""
    kids, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, ()))
    return out


def postgres_backends(url: str) -> list[int]:
    """The PostgreSQL server processes serving this database's connections right now (the
    server runs on this machine in the benches), from pg_stat_activity."""
    from sqlalchemy import text

    from app.db import Database

    db = Database(url)
    with db.engine.connect() as c:
        pids = [p for (p,) in c.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"))]
    db.dispose()
    return pids


class CpuMeter:
    """CPU used by a set of processes between start() and stop(): only the ones this bench
    started (their whole trees, found again at each reading) and, on PostgreSQL, the server
    processes serving this bench's database; nobody else's on the machine. A process seen only
    at the end counts from zero (it started during the run); one that exited mid-run is lost."""

    def __init__(self, find: Callable[[], list[int]]) -> None:
        self.find = find
        self.before: dict[int, float] = {}

    def start(self) -> None:
        self.before = {p: c for p in self.find() if (c := _proc_cpu(p)) is not None}

    def seconds(self) -> float:
        total = 0.0
        for p in self.find():
            now = _proc_cpu(p)
            if now is not None:
                total += now - self.before.get(p, 0.0)
        return total


class BusyMeter:
    """How busy the machine's cores were between start() and share(), from /proc/stat: every
    process's, not only this bench's (a figure about the run, not about Vigil). Below 1, cores
    sat idle during the run: something waited (a lock, the network) rather than computed."""

    def __init__(self) -> None:
        self.before = (0, 0)

    @staticmethod
    def _read() -> tuple[int, int]:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
        return ticks[3] + ticks[4], sum(ticks)  # idle + iowait, all

    def start(self) -> None:
        self.before = self._read()

    def share(self) -> float:
        idle, total = self._read()
        return 1 - (idle - self.before[0]) / max(1, total - self.before[1])


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def pages_of(by: str) -> Any:
    """Which page reached an incident ("incident") or a step's firing ("firing"): its own, or a
    bundled page listing it (notify/plan.bundle), as a subquery of (key, nid)."""
    from sqlalchemy import select, union_all

    from app.models import Notification, PageIncident

    return union_all(
        select(getattr(Notification, f"{by}_id").label("key"), Notification.id.label("nid")),
        select(getattr(PageIncident, f"{by}_id").label("key"), PageIncident.notification_id.label("nid")),
    ).subquery()
