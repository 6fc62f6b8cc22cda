"""Shared fixtures: a manual clock, a fresh database per test, the app, a test world of users and
clients, a logged-in browser helper and an engine.

The suite runs on SQLite by default; with VIGIL_TEST_DB=postgres (and VIGIL_TEST_POSTGRES_URL)
every database-backed test runs on PostgreSQL instead. `.ci/run` runs both passes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.clock import ManualClock
from app.db import Database
from app.engine.loop import Engine
from app.models import Base
from tests.helpers import (
    BACKEND,
    PG_URL,
    Browser,
    World,
    build_world,
    make_app,
)

if BACKEND == "postgres" and not PG_URL:
    raise pytest.UsageError("VIGIL_TEST_DB=postgres needs VIGIL_TEST_POSTGRES_URL")


# --- databases ---------------------------------------------------------------------------------


def _pg_worker_url() -> str:
    """One PostgreSQL database per xdist worker, created on first use."""
    from sqlalchemy.engine import make_url

    assert PG_URL
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return PG_URL
    base = make_url(PG_URL)
    name = f"{base.database}_{worker}"
    admin = Database(PG_URL)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        if not c.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
            c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_url() -> str:
    if not PG_URL:
        pytest.skip("set VIGIL_TEST_POSTGRES_URL to run PostgreSQL tests")
    url = _pg_worker_url()
    db = Database(url)
    Base.metadata.drop_all(db.engine)
    with db.engine.begin() as c:
        c.execute(text("DROP TABLE IF EXISTS alembic_version"))
    Base.metadata.create_all(db.engine)
    db.dispose()
    return url


_EMPTYING: dict[str, str] = {}


def truncate_all(db: Database) -> None:
    """Every table emptied and every sequence back at 1. A DELETE of each table, with triggers
    (foreign keys, the audit log's guard) off for the transaction, takes ~10 ms; a TRUNCATE of
    the 54 tables took ~110 ms (it makes new files for each), once for every test of the pass.
    Without the right to turn triggers off (not a superuser), TRUNCATE."""
    url = db.engine.url.render_as_string(hide_password=False)
    if url not in _EMPTYING:
        names = [f'"{t.name}"' for t in Base.metadata.sorted_tables]
        with db.engine.connect() as c:
            superuser = c.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar()
            seqs = c.execute(text("SELECT quote_ident(sequencename) FROM pg_sequences WHERE schemaname = current_schema()")).scalars().all()
        _EMPTYING[url] = (
            "SET LOCAL session_replication_role = replica; " + "; ".join(f"DELETE FROM {n}" for n in names)
            + "".join(f"; ALTER SEQUENCE {s} RESTART" for s in seqs)
        ) if superuser else f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"
    with db.engine.begin() as c:
        c.exec_driver_sql(_EMPTYING[url])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "vigil.db"
    db = Database(f"sqlite:///{path}")
    Base.metadata.create_all(db.engine)
    db.dispose()  # the last connection to close checkpoints the WAL into the main file
    assert not path.with_name("vigil.db-wal").exists()
    return path


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if BACKEND == "postgres":
        url = request.getfixturevalue("pg_url")
        db = Database(url)
        truncate_all(db)
        db.dispose()
        return url
    template = request.getfixturevalue("sqlite_template")
    path = tmp_path / "vigil.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = Database(db_url)
    yield db
    db.dispose()


@pytest.fixture
def postgres(pg_url: str) -> Iterator[Database]:
    """A clean PostgreSQL database whatever the pass (for tests about PostgreSQL itself)."""
    db = Database(pg_url)
    truncate_all(db)
    yield db
    db.dispose()


# --- the app -------------------------------------------------------------------------------------


def _share_url_builders() -> None:
    """Each test makes its own app, and werkzeug compiles two URL-builder functions (an AST put
    through `compile`) for each of its ~200 routes: two thirds of making an app, ~60 ms a test.
    A builder depends only on the rule's parsed parts, its defaults and its converters' types (it
    reads the converters through the rule it is bound to), so apps of one test run share them."""
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    built: dict[tuple[Any, ...], Any] = {}

    def shared(self: Rule, append_unknown: bool = True) -> Any:
        key = (self.rule, tuple(self._trace), repr(sorted((self.defaults or {}).items())), append_unknown,
               tuple(sorted((k, type(c)) for k, c in self._converters.items())))
        if key not in built:
            built[key] = compile_builder(self, append_unknown)
        return built[key]

    Rule._compile_builder = shared  # type: ignore[method-assign]


_share_url_builders()


@pytest.fixture
def clock() -> ManualClock:
    # A Monday night in winter (CET), when things break.
    return ManualClock(datetime(2026, 3, 2, 3, 0, tzinfo=UTC))


@pytest.fixture
def app(database: Database, clock: ManualClock, tmp_path: Path) -> Any:
    return make_app(database, clock, tmp_path)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


# --- the test world --------------------------------------------------------------------------


@pytest.fixture
def world(app: Any, database: Database, clock: ManualClock) -> World:
    return build_world(database, clock.now())


@pytest.fixture
def browser(app: Any) -> Any:
    def make(who: str) -> Browser:
        return Browser(app.test_client()).login(who)

    return make


# --- the engine ----------------------------------------------------------------------------------


@pytest.fixture
def engine(app: Any, database: Database, clock: ManualClock) -> Iterator[Engine]:
    from app.notify.recording import RecordingTransport

    RecordingTransport.clear()
    e = Engine(database, clock, app.config, name="engine-1", transports={"recording": RecordingTransport})
    yield e
    e.close()




# --- the PostgreSQL pass runs what the database can change --------------------------------------

_DATABASE_FIXTURES = frozenset({"db_url", "pg_url", "database"})


# The modules whose tests take longest (real processes killed and restarted, a fresh virtualenv,
# thousands of generated requests), from `pytest --durations`: run first, so that the two xdist
# workers do not end with one of them alone on a 30-second test while the other is idle.
_SLOW_FIRST = ("test_readme_quickstart", "test_api_fuzz", "test_a_hand_over_tells_each_contact_once",
               "test_engine_crash", "test_first_minutes", "test_live_socket", "test_migrations_and_cli",
               "test_heartbeat_ping_urls", "test_prometheus_scrapes", "test_a_late_heartbeat", "test_fakes",
               "test_engine_processes", "test_audit_log", "test_client_email_demo", "test_client_email_refuses")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slowest modules first (_SLOW_FIRST). On the PostgreSQL pass, a test that never touches
    a database (pure functions, parsers, templates read as files) would only run again what the
    SQLite pass ran: it is deselected. A module that names PostgreSQL itself (its own URL, a race
    for PostgreSQL) keeps every test."""
    def rank(item: pytest.Item) -> int:
        name = Path(str(item.fspath)).stem
        return next((i for i, slow in enumerate(_SLOW_FIRST) if name.startswith(slow)), len(_SLOW_FIRST))

    items.sort(key=rank)  # stable: the order within a module, and of the rest, is kept
    if BACKEND != "postgres":
        return
    keep, drop = [], []
    for item in items:
        module = getattr(item, "module", None)
        source = Path(module.__file__).read_text() if module is not None and module.__file__ else ""
        uses_db = _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        (keep if uses_db or "postgres" in source.lower() else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
