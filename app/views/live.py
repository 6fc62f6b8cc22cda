"""Live updates over a WebSocket: the events the user may see, from the event bus.

The client connects to /ws?since=<last event id it saw>; the server replays what it missed from
the events table, then streams new events. Application-level pings every 15 s carry the engine's
health (and keep idle connections alive through proxies, as do the protocol-level pings).

Built for thousands of viewers on one gevent worker without starving intake:
- a worker holds at most `WS_MAX_PER_WORKER` sockets and refuses more with a 503 that says why
  (gunicorn's `--worker-connections` is set well above it, so HTTP requests always get a slot);
- the engine's health is read once per process every `WS_HEALTH_SECONDS`, not once per ping;
- an event's frame is serialised once per process (bus.LiveEvent), the ping frame once per
  health reading;
- no per-message compression: our frames are a few hundred bytes, and each compressed socket
  keeps its own deflate state (~300 KB of memory and a compression per send), so the offer is
  declined before the handshake;
- when many viewers leave, the worker gives the freed memory back to the system.
"""

from __future__ import annotations

import ctypes
import gc
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app, g, request
from flask_login import current_user
from flask_sock import ConnectionClosed, Sock

from .. import access
from ..engine.heartbeat import engine_status
from ..live.bus import dumps
from ..web import error_response, vigil
from ..web.httpsec import check_origin

sock = Sock()
PING_SECONDS = 15.0


class _Health:
    """The engine's health as this process last read it: one query every few seconds, however
    many sockets ask, and the ping frame that carries it, serialised once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self.value: dict[str, Any] = {}
        self.ping = ""

    def get(self) -> dict[str, Any]:
        ttl = float(current_app.config["WS_HEALTH_SECONDS"])
        if time.monotonic() - self._read_at >= ttl:
            with self._lock:
                if time.monotonic() - self._read_at >= ttl:  # one reader; the others use its answer
                    self._read(current_app.config["ENGINE_STALE_SECONDS"])
        return self.value

    def ping_frame(self) -> str:
        self.get()
        return self.ping

    def _read(self, stale_seconds: float) -> None:
        from sqlalchemy.orm import Session

        v = vigil()
        with Session(v.db.read_engine) as s:
            ok, last = engine_status(s, v.clock.now(), stale_seconds)
        self.value = {"ok": ok, "last_heartbeat": last.isoformat() if last else None}
        self.ping = dumps({"type": "ping", "engine": self.value})
        self._read_at = time.monotonic()


class _Sockets:
    """How many sockets this worker holds, and giving memory back when many have left."""

    def __init__(self) -> None:
        self.open = 0
        self.peak_since_trim = 0

    def opened(self) -> None:
        self.open += 1
        self.peak_since_trim = max(self.peak_since_trim, self.open)

    def closed(self) -> None:
        self.open -= 1
        # A crowd leaving (a status page's viewers after an incident) leaves its buffers in the
        # allocator's free lists: once half of the peak has gone, collect and hand them back.
        if self.peak_since_trim >= 200 and self.open <= self.peak_since_trim // 2:
            self.peak_since_trim = self.open
            gc.collect()
            _malloc_trim()


def _malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the memory is reused, only not returned
        pass


sockets = _Sockets()  # per process: what a worker holds
_CLOSED: dict[str, Any] = {"id": -1, "client_id": None}  # put in a subscription when its socket closes


class ReaderThread(threading.Thread):
    """simple-websocket's reader (a greenlet under gevent), which tells the socket's handler the
    moment the viewer has gone: a handler waiting for events would otherwise hold the socket, its
    memory and its place under WS_MAX_PER_WORKER until its next ping, up to 15 s later."""

    def __init__(self, *args: Any, target: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, target=target, **kwargs)
        self.ws = getattr(target, "__self__", None)

    def run(self) -> None:
        try:
            super().run()
        finally:
            on_close = getattr(self.ws, "vigil_on_close", None)
            if on_close is not None:
                on_close()


def _health() -> _Health:
    """Per application (a process serves one; the tests make several, each with its database)."""
    return current_app.extensions.setdefault("vigil.live_health", _Health())


def refuse_before_handshake() -> Any:
    """Before any WebSocket upgrade (this one, and a status page's): refuse strangers and foreign
    origins on /ws, and a full worker, with a plain HTTP answer; and decline per-message
    compression (see the module's note)."""
    if request.environ.get("HTTP_UPGRADE", "").lower() != "websocket" and request.path != "/ws":
        return None
    if request.path == "/ws":
        if not current_user.is_authenticated:
            return error_response(401, "log in first")
        if not check_origin(request):
            return error_response(403, "cross-origin WebSocket refused")
    limit = int(current_app.config["WS_MAX_PER_WORKER"])
    if sockets.open >= limit:
        resp = error_response(503, f"this server process already holds its {limit} live connections: "
                                   "retry in a few seconds (the page keeps polling meanwhile)")
        resp.headers["Retry-After"] = "5"
        return resp
    request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
    return None


@contextmanager
def counted() -> Iterator[None]:
    """Around a socket's handler, whichever page it serves: what WS_MAX_PER_WORKER counts."""
    sockets.opened()
    try:
        yield
    finally:
        sockets.closed()


@sock.route("/ws")
def events_socket(ws: Any) -> None:
    with counted():
        _serve(ws)


def _serve(ws: Any) -> None:
    session = g.pop("db_session", None)
    visible = access.visible_client_ids(session or vigil().db.session(), current_user)
    if session is not None:
        session.close()  # never hold a database connection for the life of a socket

    def may_see(client_id: int | None) -> bool:
        return visible is None or client_id in visible

    bus = vigil().bus
    sub = bus.subscribe(None if visible is None else frozenset(visible))  # before the replay: nothing falls between
    ws.vigil_on_close = lambda: sub.put(_CLOSED)
    try:
        if not ws.connected:  # gone before the hook was set
            return
        since = request.args.get("since", type=int)
        if since is not None:
            since = min(max(since, 0), 2**63 - 1)  # like /api/v1/events: no overflow in the database
        last = since if since is not None else bus.last_id
        ws.send(json.dumps({"type": "hello", "last_id": last, "engine": _health().get()}))
        while since is not None:
            batch = bus.replay(last, 500, may_see)
            for ev in batch:
                ws.send(json.dumps({"type": "event", "event": ev}))
                last = ev["id"]
            if len(batch) < 500:
                break
        while True:
            ev = sub.get(timeout=PING_SECONDS)
            if sub.overflowed:
                ws.close(reason=1013, message="too far behind: reconnect and catch up")
                return
            if ev is _CLOSED:
                return
            if ev is None:
                ws.send(_health().ping_frame())
            elif ev["id"] > last and may_see(ev["client_id"]):
                # The bus hands out LiveEvents: serialised, and framed, once per process; the
                # frame's bytes go to the socket as they are (wsproto would frame them again for
                # every viewer: a crowd's event is the same bytes 5,000 times).
                if not ws.connected:
                    return
                ws.sock.sendall(ev.wire())
                last = ev["id"]
    except (ConnectionClosed, OSError):  # OSError: the viewer went while its frame was sent
        pass
    finally:
        sub.close()
