"""Database plumbing: engine, sessions, the UTC datetime type, dialect quirks.

Plain SQLAlchemy rather than Flask-SQLAlchemy: the engine loop runs without Flask, and tests
build several independent `Database` objects against one database (two engines racing).
"""

from __future__ import annotations

import json
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import DateTime, create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

EVENTS_COMMITTED = "vigil_events_committed"  # session.info flag set by live/events.py
T = TypeVar("T")
log = logging.getLogger("vigil.db")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, hands back aware UTC. Refuses naive input: a naive datetime is a bug."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)

    # On SQLite a time is text, "2026-03-02 03:00:00.000000", which SQLAlchemy writes with a
    # %-format of a dictionary of the fields after the conversion above: 5 µs a value, and the
    # engine binds a score of times for each step it fires (its lines, events, pages, attempts).
    # The same text straight from isoformat() costs 2 µs; reading back, fromisoformat() 1.4 µs
    # against 2.2. What is stored is unchanged: see
    # tests/test_times_and_json_are_stored_as_before_by_the_faster_writers.py.

    def bind_processor(self, dialect: Any) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        seen: dict[datetime, str] = {}  # a batch's rows mostly carry the same few times (its `now`)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if (text := seen.get(value)) is not None:
                return text
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTCDateTime column")
            text = (value.astimezone(UTC) if value.utcoffset() else value).isoformat(" ", "microseconds")[:26]
            if len(seen) >= 256:
                seen.clear()
            seen[value] = text
            return text

        return process

    def result_processor(self, dialect: Any, coltype: Any) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)

        return process


_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def json_text(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """The JSON text a JSON column stores, compact: by orjson (a fifth of json.dumps's time for
    an event's snapshot), or by json.dumps for what orjson refuses (integers beyond 64 bits, lone
    surrogates). A time is handed to `default`, as json.dumps would hand it."""
    try:
        return orjson.dumps(value, default=default, option=_ORJSON).decode()
    except TypeError:
        return json.dumps(value, default=default, separators=(",", ":"))


def normalise_url(url: str) -> URL:
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.is_postgres = self.url.get_backend_name() == "postgresql"
        kwargs: dict[str, Any] = {"echo": echo, "future": True, "json_serializer": json_text}
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(self.url.database)), exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            # A fixed pool: in an alert storm, requests wait their turn for one of ten
            # connections (cheap under gevent) instead of each opening its own, which forks a
            # PostgreSQL backend per connection just when the machine is busiest.
            kwargs.update(pool_size=10, max_overflow=0, pool_timeout=30)
        self.engine: Engine = create_engine(self.url, **kwargs)
        self.waiters: WaitBoard | None = None
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                self.waiters = WaitBoard(os.path.abspath(self.url.database) + "-waiters")
            _configure_sqlite(self.engine, self)
        else:
            _ping_idle_connections(self.engine)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        # A read-only view: on SQLite it begins deferred transactions that never take the write
        # lock, for followers that poll (see _configure_sqlite).
        self.read_engine = self.engine.execution_options(vigil_readonly=True)
        # Called after a commit that wrote events (see live/events.py), e.g. to wake event followers.
        self.after_commit_hooks: list[Callable[[], None]] = []
        self._write_turn = threading.Lock()
        # How long, at most, a writer sleeps between two tries for SQLite's write lock (see
        # _configure_sqlite). A process whose writes go through one thread (the engine, the mail
        # listener) polls finely, and so loses less time after another process lets go (one
        # waiter, a cheap try every 2 ms). A web worker's alerts wait as one batch (its group
        # commit, batching.py) and its other writers are few: 4 ms. At 20 ms, a storm's batches
        # slept through the engine's turns between two chunks, and the engine took the lock
        # again: 940 new alerts/s with the engine running, 1,035 at 4 ms (bench/ingest.py).
        self.lock_poll_max = 0.004

        @event.listens_for(self.Session, "after_commit")
        def _after_commit(session: Session) -> None:
            if session.info.pop(EVENTS_COMMITTED, False):
                for hook in self.after_commit_hooks:
                    hook()

    def session(self) -> Session:
        return self.Session()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.Session() as session, session.begin():
            yield session

    # Reads that end in a commit. A read-only transaction ends alike either way, but psycopg
    # forgets every statement it has prepared on a connection at a rollback (which may have
    # undone what they name), and closing a read rolls back: the engine's looks, several a
    # second in a storm, wiped its pooled connections' prepared statements, so the statements
    # of a chunk were parsed and planned afresh at each chunk (on PostgreSQL, a tenth of what the
    # server spent for the engine; bench/ingest.py: PostgreSQL's CPU for a new incident fell
    # from 0.44 to 0.40 ms, pg_stat_statements' plans by a fifth). Errors still roll back.

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session (on SQLite no write lock), ended by a commit."""
        with self.Session(bind=self.read_engine) as session:
            yield session
            session.commit()

    @contextmanager
    def looking(self) -> Iterator[Connection]:
        """`reading` without a session, for reads made many times a second."""
        with self.read_engine.connect() as conn:
            yield conn
            conn.commit()

    @contextmanager
    def write_turn(self) -> Iterator[None]:
        """Around a write transaction of a process's background writers (the mail listener's
        storer and processor): on SQLite, one writer at a time, they take turns here, in order,
        instead of each sleeping and retrying on SQLite's lock while the other holds it."""
        if self.is_sqlite:
            with self._write_turn:
                yield
        else:
            yield

    def dispose(self) -> None:
        self.engine.dispose()


# --- transactions that lose a race -------------------------------------------------------------
# Lock order (every writer follows it, so PostgreSQL has no cycle to detect): an incident row
# first, FOR NO KEY UPDATE (never FOR UPDATE: rows that point at the incident, timeline entries,
# operations, pages, ack links, take a KEY SHARE lock on it through their foreign key, which NO
# KEY UPDATE lets through, so inserting them never waits on the incident and nothing upgrades a
# share lock); then that incident's notifications. Whoever touches notifications without
# holding their incident (the engine's claims and requeues) takes them with SKIP LOCKED, so it
# never waits while holding others. What still loses (a deadlock PostgreSQL breaks, a
# serialisation failure) is run again here, a bounded number of times: the web requests
# (web.App) and the engine's write transactions come through this one function.

TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
RETRIES = 4


def is_transient(error: BaseException) -> bool:
    """A failure that says nothing about the work itself: the same transaction, run again, can
    succeed (PostgreSQL aborted it to break a deadlock, or as a serialisation failure)."""
    if not isinstance(error, DBAPIError) or error.orig is None:
        return False
    return getattr(error.orig, "sqlstate", None) in TRANSIENT_SQLSTATES


def retry_transient(work: Callable[[], T], *, before_retry: Callable[[], None] | None = None,
                    attempts: int = RETRIES) -> T:
    """Run `work` (which runs whole transactions: nothing of a failed attempt is committed) and
    run it again when it lost a race; `before_retry` resets what the attempt left behind."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except DBAPIError as e:
            if attempt == attempts or not is_transient(e):
                raise
            log.warning("transaction lost a race (%s), attempt %d of %d: running it again",
                        getattr(e.orig, "sqlstate", "?"), attempt, attempts)
            if before_retry is not None:
                before_retry()
            time.sleep(random.uniform(0.0, 0.005 * 2 ** attempt))  # apart, so they do not meet again
    raise AssertionError("unreachable")


PING_IDLE_SECONDS = 2.0


def _ping_idle_connections(engine: Engine) -> None:
    """SQLAlchemy's pool_pre_ping, but only for a connection that sat in the pool for a while.

    A pooled connection can be dead (the server restarted, a firewall dropped an idle socket);
    a ping at checkout finds that out and the pool opens a fresh one, so the request never sees
    it. Pinging on every checkout, though, is a round trip per request, about 8 % of intake's CPU
    in an alert storm, when connections go back and out again within milliseconds. A connection
    that was last returned under PING_IDLE_SECONDS ago is trusted; were the server to die in that
    window, the statement fails, SQLAlchemy invalidates the pool, and the alert's sender retries
    (every monitoring tool retries a failed webhook).
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn: Any, record: Any) -> None:
        record.info["vigil_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("vigil_idle_since")
        if since is None or time.monotonic() - since < PING_IDLE_SECONDS:
            return  # a new connection, or one in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as e:  # whatever it was, this connection is no good: the pool retries afresh
            raise DisconnectionError(f"the pooled database connection is dead: {e}") from e


class WaitBoard:
    """Who last waited for SQLite's write lock, and when: 16 bytes in a file beside the
    database, mapped into every process (a hint, not a lock: a torn read only costs one turn).

    SQLite queues nobody: a writer that finds the lock taken sleeps and tries again, and a
    process that writes back to back (the engine in an alert storm) takes the lock again the
    moment it lets go, so another process's writer (the mail listener's storer) can wait through
    many of its transactions. A writer refused the lock writes its pid and the time here; the
    engine, between two transactions, gives the lock a moment's rest when someone else was
    refused just now (Engine._write), and never otherwise."""

    RECENT_NS = 5_000_000  # a refusal this recent means someone is still waiting

    def __init__(self, path: str) -> None:
        import mmap
        import struct

        self._struct = struct.Struct("<qq")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if os.fstat(fd).st_size < self._struct.size:
                    os.ftruncate(fd, self._struct.size)
                self._map: Any = mmap.mmap(fd, self._struct.size)
            finally:
                os.close(fd)
        except OSError:  # a read-only directory: no hints, writers simply take turns as SQLite lets them
            self._map = None

    def mark(self) -> None:
        if self._map is not None:
            self._struct.pack_into(self._map, 0, os.getpid(), time.monotonic_ns())

    def someone_else_waiting(self) -> bool:
        if self._map is None:
            return False
        pid, at = self._struct.unpack_from(self._map, 0)
        return pid != os.getpid() and 0 <= time.monotonic_ns() - at < self.RECENT_NS


LOCK_WAIT_SECONDS = 30.0
BUSY_TIMEOUT_MS = 5000


def _configure_sqlite(engine: Engine, db: Database) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        # Readers and commits may meet a short WAL-index lock: let SQLite wait for those. Taking
        # the write lock, the only long wait, is done in Python instead (see _on_begin).
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
        # another process committed in between (the busy timeout cannot help: its snapshot is
        # stale). Writers therefore take the write lock up front; pollers ask for read-only.
        #
        # The wait for that lock happens here, in Python, not in SQLite's busy handler: the
        # handler sleeps inside C, which freezes a whole gevent worker, the greenlet holding the
        # lock included (a WebSocket handshake can switch greenlets mid-request), so a wait on a
        # lock held in the same process could never end. time.sleep() lets gevent run the holder;
        # in the engine's threads it simply sleeps.
        if conn.get_execution_options().get("vigil_readonly"):
            conn.exec_driver_sql("BEGIN")
            return
        # The tries go to the driver's connection: a refusal through SQLAlchemy (its exception
        # wrapped, with its statement and parameters) cost 31 µs against 2 µs (a storm of 3,000
        # alerts with the engine: ~2,000 refusals in all, about 1 % of its CPU). The last try,
        # or one that fails otherwise, goes through SQLAlchemy: its error is the one callers know
        # (and it may yet succeed).
        raw = conn.connection.driver_connection
        raw.execute("PRAGMA busy_timeout=0")
        try:
            delay, deadline = 0.0005, time.monotonic() + LOCK_WAIT_SECONDS
            while time.monotonic() <= deadline:
                try:
                    raw.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as e:
                    if "locked" not in str(e):
                        break
                if db.waiters is not None:
                    db.waiters.mark()
                time.sleep(delay)
                delay = min(delay * 2, db.lock_poll_max)
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        finally:
            raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


# --- values the database can store -------------------------------------------------------------

MAX_ID = 2**31 - 1


def is_id(value: Any) -> bool:
    """A possible row id: an int the database column can hold (PostgreSQL refuses bigger ones
    with an error rather than finding nothing)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def clean_text(value: Any, limit: int) -> str:
    """Free text from a form, storable everywhere (PostgreSQL refuses NUL characters)."""
    return str(value or "").replace("\x00", "").strip()[:limit]
