"""Shared plumbing for the HTTP fakes: a threaded WSGI server on loopback, and scripted
(queued) answers.

``WSGIServerThread(app)`` binds 127.0.0.1 on a free port (port 0) at ``start()``, serves
in a daemon thread with one thread per request, and ``stop()`` shuts it down and closes
the listening socket (no ResourceWarning). Request logging is silenced.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without the per-request access log lines."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002
        if type == "error":
            super().log(type, message, *args)


class WSGIServerThread:
    """Run a WSGI app on ``host`` (default 127.0.0.1), port 0 = pick a free one."""

    def __init__(self, app: Callable, host: str = "127.0.0.1", port: int = 0, name: str = "wsgi"):
        self.app = app
        self.host = host
        self._requested_port = port
        self.name = name
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        if self.port is None:
            raise RuntimeError(f"{self.name} server is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> WSGIServerThread:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} server already running")
        # A subclass per server: werkzeug sets protocol_version on the handler class.
        handler = type("_Handler", (_QuietHandler,), {})
        server = make_server(
            self.host, self._requested_port, self.app, threaded=True, request_handler=handler
        )
        self._server = server
        self.port = server.port
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-{self.name}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        if thread is not None:
            server.shutdown()  # serve_forever() returns, then closes the socket itself
            thread.join(timeout=5)
        server.server_close()  # idempotent; covers the never-served case

    def __enter__(self) -> WSGIServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Scripted:
    """One queued answer. ``status=None`` (or a 2xx) means "process normally" after the
    optional ``delay`` (or once ``hold`` is set, when given); any other status is answered
    as-is without processing. ``times=None`` means forever."""

    status: int | None
    times: int | None = 1
    delay: float = 0.0
    hold: threading.Event | None = None
    retry_after: int | str | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    match: dict[str, Any] = field(default_factory=dict)

    def matches(self, **facts: Any) -> bool:
        return all(facts.get(k) == v for k, v in self.match.items() if v is not None)


class ScriptBook:
    """Thread-safe FIFO of ``Scripted`` answers; ``take(**facts)`` consumes the first
    rule whose ``match`` agrees with ``facts``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Scripted] = []

    def add(self, rule: Scripted) -> Scripted:
        if rule.times is not None and rule.times < 1:
            raise ValueError("times must be >= 1 or None")
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, **facts: Any) -> Scripted | None:
        with self._lock:
            for i, rule in enumerate(self._rules):
                if rule.matches(**facts):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times == 0:
                            del self._rules[i]
                    return rule
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._rules)


class Recorder:
    """A list guarded by a Condition, with ``wait_for(n)``."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: list[Any] = []

    def append(self, item: Any) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def snapshot(self) -> list[Any]:
        with self._cond:
            return list(self._items)

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def wait_for(
        self, n: int, timeout: float, describe: Callable[[], str] = lambda: ""
    ) -> list[Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._items) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = len(self._items)
                    extra = describe()
                    raise AssertionError(
                        f"waited {timeout}s for {n} item(s), got {got}"
                        + (f"; {extra}" if extra else "")
                    )
                self._cond.wait(remaining)
            return list(self._items)

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
