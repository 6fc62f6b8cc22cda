"""The read side of the event bus: each web process follows the events table and fans events out
to its WebSocket subscribers.

Events are rows (see events.py), so the table is the truth: followers read `id > last`, and a
reconnecting client asks for everything after the last id it saw. What differs between setups
is only how a follower learns that there is something new:
- in-process: the committing session wakes the follower at once;
- PostgreSQL: LISTEN (the NOTIFY is sent by the committing transaction itself);
- Redis, when configured: pub/sub, for any database and any number of hosts;
- SQLite: a watch on the file's commit counter (PRAGMA data_version, read every 20 ms without
  touching a table), which tells that another connection committed;
- and always a short poll, a safety net behind all of these.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import Database
from ..models import Event
from ..models.core import EVENTS_PG_CHANNEL

log = logging.getLogger("vigil.live")
REDIS_CHANNEL = "vigil:events"
SQLITE_WATCH_SECONDS = 0.02


def event_dict(e: Event) -> dict[str, Any]:
    return {"id": e.id, "at": e.at.isoformat(), "kind": e.kind, "incident_id": e.incident_id,
            "client_id": e.client_id, "data": e.data}


class LiveEvent(dict):  # type: ignore[type-arg]
    """An event as the follower hands it to every subscriber of this process: the same object
    for all of them, so its WebSocket frame is serialised once per process, not once a viewer."""

    __slots__ = ("_frame", "_wire")

    def frame(self) -> str:
        try:
            return self._frame
        except AttributeError:
            self._frame: str = dumps({"type": "event", "event": self})
            return self._frame

    def wire(self) -> bytes:
        """The frame as a WebSocket text frame on the wire, built once for every socket: a
        server's frames are unmasked, and ours are uncompressed (views/live.py declines the
        extension), so the bytes are the same for every viewer."""
        try:
            return self._wire
        except AttributeError:
            self._wire: bytes = text_frame(self.frame())
            return self._wire


def text_frame(text: str) -> bytes:
    """One unfragmented, unmasked WebSocket text frame (RFC 6455, section 5.2)."""
    payload = text.encode("utf-8")
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 1 << 16:
        header = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return header + payload


class Subscription:
    """One socket's queue of events. `scope`: the client ids whose events it may see (None: all);
    the follower puts nothing else in it, so a storm at one client wakes nobody who cannot see it."""

    def __init__(self, bus: EventBus, maxsize: int = 1000, scope: frozenset[int] | None = None) -> None:
        self.bus = bus
        self.scope = scope
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize)
        self.overflowed = False  # the client fell behind: it must reconnect and catch up

    def put(self, event: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(event)
        except queue.Full:
            self.overflowed = True

    def get(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.bus.unsubscribe(self)


class EventBus:
    def __init__(self, db: Database, *, redis_url: str | None = None, poll: float = 0.25) -> None:
        self.db = db
        self.redis_url = redis_url
        self.poll = poll
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        # Set once the Redis or PostgreSQL subscription is in place (wake-ups from then on).
        self.listening = threading.Event()
        self._started = False
        self._redis: Any = None
        self._threads: list[threading.Thread] = []
        self._signals_started = False
        self._signal_listeners: list[Callable[[], None]] = []
        self.last_id = 0
        db.after_commit_hooks.append(self._on_commit)

    # --- publishing side: wake everyone after a commit that wrote events -------------------

    def _on_commit(self) -> None:
        self._signal()
        if self.redis_url:
            try:
                self._redis_client().publish(REDIS_CHANNEL, "1")
            except Exception:  # the poll still delivers, only later
                log.warning("could not publish to Redis; followers will poll", exc_info=True)

    def _redis_client(self) -> Any:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)
        return self._redis

    # --- following side -----------------------------------------------------------------------

    def subscribe(self, scope: frozenset[int] | None = None) -> Subscription:
        self.start()
        sub = Subscription(self, scope=scope)
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def replay(self, since: int, limit: int = 500, visible: Callable[[int | None], bool] | None = None) -> list[dict[str, Any]]:
        with self.db.reading() as s:
            rows = s.execute(select(Event).where(Event.id > since).order_by(Event.id).limit(limit)).scalars().all()
            return [event_dict(e) for e in rows if visible is None or visible(e.client_id)]

    def add_signal_listener(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from a bus thread; keep it short) whenever events may have been
        committed anywhere, without reading them: for the engine, which only needs to know when
        to look for new work."""
        self._signal_listeners.append(callback)
        self._start_signals()

    def _signal(self) -> None:
        self._wake.set()
        for callback in self._signal_listeners:
            callback()

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        with Session(self.db.read_engine) as s:
            self.last_id = s.execute(select(Event.id).order_by(Event.id.desc()).limit(1)).scalar() or 0
        self._spawn(self._follow)
        self._start_signals()

    def _start_signals(self) -> None:
        with self._lock:
            if self._signals_started:
                return
            self._signals_started = True
        if self.redis_url:
            self._spawn(self._listen_redis)
        elif self.db.is_postgres:
            self._spawn(self._listen_postgres)
        elif self.db.is_sqlite and self.db.url.database not in (None, "", ":memory:"):
            self._spawn(self._watch_sqlite)

    def _spawn(self, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=f"vigil-bus{target.__name__}", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._redis is not None:
            self._redis.close()
        if self._on_commit in self.db.after_commit_hooks:
            self.db.after_commit_hooks.remove(self._on_commit)
        for t in self._threads:
            t.join(timeout=5.0)

    def _follow(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll)
            self._wake.clear()
            try:
                self._deliver_new()
            except Exception:
                log.exception("event follower failed; retrying")
                self._stop.wait(1.0)

    def _deliver_new(self) -> None:
        while True:
            batch = [LiveEvent(ev) for ev in self.replay(self.last_id)]
            if not batch:
                return
            with self._lock:
                subs = list(self._subs)
            for ev in batch:
                client_id = ev["client_id"]
                for sub in subs:
                    if sub.scope is None or client_id in sub.scope:
                        sub.put(ev)
            self.last_id = batch[-1]["id"]
            if len(batch) < 500:
                return

    def _listen_redis(self) -> None:
        import redis

        while not self._stop.is_set():
            try:
                client = redis.Redis.from_url(self.redis_url, socket_timeout=30, socket_connect_timeout=5)
                with client, client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    pubsub.subscribe(REDIS_CHANNEL)
                    pubsub.get_message(timeout=2.0)  # the subscription's confirmation
                    self.listening.set()
                    while not self._stop.is_set():
                        if pubsub.get_message(timeout=1.0) is not None:
                            self._signal()
            except Exception:
                self.listening.clear()
                log.warning("Redis subscription lost; reconnecting", exc_info=True)
                self._stop.wait(1.0)

    def _watch_sqlite(self) -> None:
        import sqlite3

        while not self._stop.is_set():
            try:
                conn = sqlite3.connect(f"file:{self.db.url.database}?mode=ro", uri=True, check_same_thread=False)
                try:
                    last = conn.execute("PRAGMA data_version").fetchone()[0]
                    self.listening.set()
                    while not self._stop.wait(SQLITE_WATCH_SECONDS):
                        version = conn.execute("PRAGMA data_version").fetchone()[0]
                        if version != last:  # another connection committed (ours included)
                            last = version
                            self._signal()
                finally:
                    conn.close()
            except Exception:
                self.listening.clear()
                log.warning("watching the SQLite file failed; retrying", exc_info=True)
                self._stop.wait(1.0)

    def _listen_postgres(self) -> None:
        import psycopg

        dsn = self.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {EVENTS_PG_CHANNEL}")
                    self.listening.set()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self._signal()
            except Exception:
                self.listening.clear()
                log.warning("PostgreSQL LISTEN lost; reconnecting", exc_info=True)
                self._stop.wait(1.0)


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), default=str)
