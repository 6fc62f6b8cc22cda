"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from app.clock import ManualClock
from app.db import Database

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("VIGIL_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("VIGIL_TEST_REDIS_URL")
BACKEND = os.environ.get("VIGIL_TEST_DB", "sqlite")
PASSWORD = "correct horse battery staple"

requires_postgres = pytest.mark.skipif(
    not PG_URL, reason="set VIGIL_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test) to run"
)
requires_redis = pytest.mark.skipif(
    not REDIS_URL, reason="set VIGIL_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run"
)


def make_app(database: Database, clock: ManualClock, tmp_path: Path, **extra: Any) -> Any:
    return create_app({
        "DATABASE": database,
        "CLOCK": clock,
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "BASE_URL": "http://vigil.test",
        "ENGINE_MODE": "process",
        "PASSWORD_PROFILE": "CHEAPEST",
        "PUSH_ALLOW_LOOPBACK": True,  # the fake push services listen on 127.0.0.1
        **extra,
    })


@dataclass
class World:
    ids: dict[str, int] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str) -> int:
        try:
            return self.ids[name]
        except KeyError:
            raise AttributeError(name) from None


class Browser:
    """A test client that logs in and sends the CSRF token like the PWA does."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.csrf: str | None = None

    def login(self, who: str, password: str = PASSWORD) -> Browser:
        email = who if "@" in who else f"{who}@vigil.test"
        page = self.client.get("/login")
        token = _csrf_from(page.get_data(as_text=True))
        r = self.client.post("/login", data={"email": email, "password": password, "csrf_token": token})
        assert r.status_code == 302, r.get_data(as_text=True)
        self.csrf = self.client.get("/api/v1/me").get_json()["csrf_token"]
        return self

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, **kw)

    def post(self, url: str, json: Any = None, **kw: Any) -> Any:
        headers = {"X-CSRFToken": self.csrf or "", **kw.pop("headers", {})}
        return self.client.post(url, json=json, headers=headers, **kw)

    def put(self, url: str, json: Any = None, **kw: Any) -> Any:
        headers = {"X-CSRFToken": self.csrf or "", **kw.pop("headers", {})}
        return self.client.put(url, json=json, headers=headers, **kw)

    def form(self, url: str, data: dict[str, Any]) -> Any:
        """Submit a page's form: the CSRF token travels as the hidden field, like in a browser."""
        return self.client.post(url, data={"csrf_token": self.csrf or "", **data})


def _csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def post_alert(client: Any, key: str, summary: str = "Disk full on web-2", dedup: str | None = "disk-web-2",
               action: str = "trigger", severity: str = "critical") -> Any:
    body: dict[str, Any] = {"summary": summary, "severity": severity, "action": action}
    if dedup:
        body["dedup_key"] = dedup
    return client.post(f"/api/v1/intake/generic/{key}", json=body)


def build_world(database: Database, now: datetime) -> World:
    """Pool A (alice, bob, carol, theo the lead) covers Acme (4-hour SLA) and Globex (1-hour SLA,
    dual on-call); dave is an engineer outside the pool; maya manages; victor views Acme.
    Everyone is reachable on the recording channel only."""
    from app.accounts.users import create_user
    from app.incidents import policies
    from app.incidents.escalation import TargetSpec
    from app.intake.keys import create_key
    from app.models import Client, ContactMethod, Pool, PoolMember, Service

    w = World()
    with database.transaction() as s:
        pool = Pool(name="Pool A", created_at=now)
        s.add(pool)
        s.flush()
        people = [("admin", "Ada Admin", "admin"), ("maya", "Maya Manager", "manager"),
                  ("theo", "Theo Lead", "engineer"), ("alice", "Alice Martin", "engineer"),
                  ("bob", "Bob Durand", "engineer"), ("carol", "Carol Petit", "engineer"),
                  ("dave", "Dave Outsider", "engineer")]
        users = {}
        for key, name, role in people:
            u = create_user(s, email=f"{key}@vigil.test", name=name, role=role, password=PASSWORD, now=now)
            u.contact_methods.clear()
            u.contact_methods.append(ContactMethod(kind="recording", address=f"{key}@vigil.test", created_at=now))
            s.flush()
            users[key] = u
            w.ids[key] = u.id
            if key in ("theo", "alice", "bob", "carol"):
                s.add(PoolMember(pool_id=pool.id, user_id=u.id))
        p4 = policies.create_preset(s, "4h", "Acme 4h", {
            "primary": TargetSpec("user", users["alice"].id), "lead": TargetSpec("user", users["theo"].id)}, now=now)
        p1 = policies.create_preset(s, "1h", "Globex 1h", {
            "primary": TargetSpec("user", users["alice"].id), "secondary": TargetSpec("user", users["bob"].id),
            "manager": TargetSpec("user", users["maya"].id)}, now=now)
        s.flush()
        acme = Client(name="Acme Retail", slug="acme", tier="4h", pool_id=pool.id, policy_id=p4.id, created_at=now)
        globex = Client(name="Globex Logistics", slug="globex", tier="1h", pool_id=pool.id, policy_id=p1.id, created_at=now)
        initech = Client(name="Initech", slug="initech", tier="4h", pool_id=None, policy_id=p4.id, created_at=now)
        s.add_all([acme, globex, initech])
        s.flush()
        for c in (acme, globex, initech):
            w.ids[c.slug] = c.id
        web = Service(client_id=acme.id, name="Web shop", created_at=now)
        wh = Service(client_id=globex.id, name="Warehouse API", created_at=now)
        tps = Service(client_id=initech.id, name="TPS reports", created_at=now)
        s.add_all([web, wh, tps])
        s.flush()
        w.ids.update(acme_web=web.id, globex_wh=wh.id, initech_tps=tps.id, policy_4h=p4.id, policy_1h=p1.id)
        viewer = create_user(s, email="victor@acme.test", name="Victor Viewer", role="client_viewer",
                             password=PASSWORD, now=now, client_id=acme.id)
        s.flush()
        w.ids["victor"] = viewer.id
        for name, svc, source in [
            ("acme_am", web, "alertmanager"), ("acme_generic", web, "generic"), ("acme_grafana", web, "grafana"),
            ("acme_v2", web, "events_v2"), ("globex_v2", wh, "events_v2"), ("globex_am", wh, "alertmanager"),
            ("globex_generic", wh, "generic"), ("initech_generic", tps, "generic"),
        ]:
            _, plain = create_key(s, svc, source, now=now)
            w.keys[name] = plain
    return w


def add_schedule(database: Database, w: World, now: datetime) -> World:
    """Pool A's on-call schedule on top of build_world, and the two policies paging its layers.

    Primary (alice, bob, carol, theo) and Secondary (bob, carol, theo, alice) hand off weekly on
    Mondays at 09:00 Europe/Paris, since Monday 23 Feb 2026. So on the world's Monday night
    (2026-03-02 03:00 UTC) Alice holds Primary and Bob Secondary, as the user-targeted world
    pages them; from 08:00 UTC (09:00 in Paris) Bob and Carol do. The 4-hour policy's lead and
    the 1-hour policy's manager stay people (theo, maya)."""
    from app.incidents import policies
    from app.incidents.escalation import TargetSpec
    from app.models import Client, Pool, User
    from app.schedules import store as schedule_store

    with database.transaction() as s:
        admin = s.get(User, w.admin)
        pool = s.query(Pool).filter_by(name="Pool A").one()
        sched = schedule_store.save_schedule(s, admin, None, name="Pool A on-call", pool_id=pool.id,
                                             timezone="Europe/Paris", coverage=None, now=now)
        for name, order in (("Primary", ("alice", "bob", "carol", "theo")),
                            ("Secondary", ("bob", "carol", "theo", "alice"))):
            spec = schedule_store.RotationSpec.parse({
                "members": [w.ids[k] for k in order], "length": "weekly", "handoff_day": 0,
                "handoff_time": "09:00", "start_date": "2026-02-23", "timezone": "Europe/Paris"})
            layer = schedule_store.save_layer(s, admin, sched.id, None, name=name, rotation=spec, now=now)
            w.ids[name.lower()] = layer.id
        w.ids["schedule"] = sched.id
        p4 = policies.create_preset(s, "4h", "Acme 4h by layer", {
            "primary": TargetSpec("layer", w.primary), "lead": TargetSpec("user", w.theo)}, now=now)
        p1 = policies.create_preset(s, "1h", "Globex 1h by layer", {
            "primary": TargetSpec("layer", w.primary), "secondary": TargetSpec("layer", w.secondary),
            "manager": TargetSpec("user", w.maya)}, now=now)
        s.flush()
        s.get(Client, w.acme).policy_id = p4.id
        s.get(Client, w.globex).policy_id = p1.id
        w.ids.update(layer_policy_4h=p4.id, layer_policy_1h=p1.id)
    from app.intake.keys import forget_cached_keys

    forget_cached_keys()  # intake caches each key's policy for a few seconds
    return w


def race(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run fn(i) in n threads released at the same instant; return results or exceptions."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - the test inspects it
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def free_port() -> int:
    """A loopback port nobody listens on right now (for servers the tests start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_engine(url: str, tmp: Path, name: str, **settings: str) -> subprocess.Popen[bytes]:
    """A real `vigil engine` process on the system clock (settings: more VIGIL_* variables);
    its output goes to tmp/<name>.log."""
    env = dict(os.environ, VIGIL_DATABASE_URL=url, VIGIL_INSTANCE_PATH=str(tmp / "instance"),
               VIGIL_SECRET_KEY="test", VIGIL_ENGINE_POLL_SECONDS="0.05", PYTHONPATH=str(ROOT), **settings)
    with open(tmp / f"{name}.log", "wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "app.cli", "engine"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, cwd=ROOT)


def wait_until(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> None:
    """Poll check() until it is true; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s" + (f" waiting for {what}" if what else ""))


def commits_during(database: Database, work: Callable[[], Any]) -> tuple[Any, int]:
    """What `work` returns, and how many transactions were committed on `database` meanwhile: the
    writers' (a read ends in a commit too, on the read-only view: Database.reading)."""
    from sqlalchemy import event

    seen = [0]

    def commit(conn: Any) -> None:
        if not conn.get_execution_options().get("vigil_readonly"):
            seen[0] += 1

    event.listen(database.engine, "commit", commit)
    try:
        return work(), seen[0]
    finally:
        event.remove(database.engine, "commit", commit)


def statements_during(database: Database, work: Callable[[], Any]) -> tuple[Any, list[str]]:
    """What `work` returns, and the statements sent to `database` meanwhile (SQLite's BEGIN left
    out: db.py begins each transaction itself), their whitespace squeezed."""
    from sqlalchemy import event

    seen: list[str] = []

    def executed(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.strip().upper() not in ("BEGIN", "BEGIN IMMEDIATE"):
            seen.append(" ".join(statement.split()))

    event.listen(database.engine, "before_cursor_execute", executed)
    try:
        return work(), seen
    finally:
        event.remove(database.engine, "before_cursor_execute", executed)


def rows_read(conn: Any, table: str) -> tuple[int, int]:
    """PostgreSQL: the rows of `table` this connection's transaction read by sequential scans,
    and fetched through indexes, so far."""
    from sqlalchemy import text

    return conn.execute(text("SELECT seq_tup_read, coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables "
                             "WHERE relname = :t"), {"t": table}).one()


def sqlite_plan(database: Database, query: Any, **params: Any) -> str:
    """SQLite's query plan for a Core query (EXPLAIN QUERY PLAN), as text."""
    with database.engine.connect() as c:
        compiled = query.compile(c)
        values = compiled.construct_params(params)
        return str(c.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled),
                                     tuple(values[name] for name in compiled.positiontup or values)).all())


def looked_up(database: Database, look: Callable[[Any, datetime], list[int]], now: datetime,
              table: str = "incidents") -> tuple[list[int], tuple[int, int] | None]:
    """What one of the engine's looks (`look(connection, now)`) finds, and on PostgreSQL the rows
    of `table` it read (rows_read), after an ANALYZE as autovacuum would have made."""
    with database.engine.connect() as c:
        if c.dialect.name != "postgresql":
            return look(c, now), None
        c.exec_driver_sql(f"ANALYZE {table}")
        found = look(c, now)
        return found, rows_read(c, table)


def incident_like(database: Database, key: str, now: datetime) -> tuple[int, dict[str, Any]]:
    """An incident opened through intake with `key` at `now` (its id), and its columns as a row
    to insert many more like it at once."""
    from app import incidents
    from app.intake.base import IntakeEvent
    from app.intake.keys import lookup
    from app.models import Incident

    with database.session() as s:
        target = lookup(s, key)
    with database.transaction() as s:
        first = incidents.ingest(s, target, IntakeEvent("trigger", "Disk full", "first"), {}, now).incident_id
    with database.session() as s:
        inc = s.get(Incident, first)
        return first, {c: getattr(inc, c) for c in (
            "client_id", "service_id", "policy_id", "summary", "details", "source", "severity", "urgency", "status",
            "alert_count", "created_at", "last_alert_at", "response_deadline", "esc_seq", "esc_step", "esc_loop")}


def firings_reached(session: Any, status: str = "sent") -> list[int]:
    """The step firings that a page of this status reached someone for, once per page: a page's
    own firing, or each of a bundled page's (an alert storm: one page for many incidents). A
    firing listed twice was reached twice."""
    from sqlalchemy import select

    from app.models import Notification, PageIncident

    bundled = select(PageIncident.notification_id)
    alone = session.execute(select(Notification.firing_id).where(
        Notification.status == status, Notification.firing_id.is_not(None), Notification.id.not_in(bundled))).scalars()
    inside = session.execute(select(PageIncident.firing_id).join(
        Notification, Notification.id == PageIncident.notification_id).where(Notification.status == status)).scalars()
    return [*alone, *inside]
