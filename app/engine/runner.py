"""Running the engine: as its own process (`vigil engine`), or inside a web process."""

from __future__ import annotations

import atexit
import logging
import signal
import threading
from typing import Any

from flask import Flask

from ..heap import settle_heap
from .loop import Engine

log = logging.getLogger("vigil.engine")


def build(app: Flask, **kw: Any) -> Engine:
    v = app.extensions["vigil"]
    return Engine(v.db, v.clock, app.config, bus=v.bus, **kw)


def run_process(app: Flask) -> None:
    """The `vigil engine` process: runs until SIGTERM/SIGINT, then finishes in-flight sends."""
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        log.info("signal %s: stopping after this tick", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    engine = build(app)
    engine.db.lock_poll_max = 0.002  # one writer thread at a time here (Engine._write): see db.py
    settle_heap()
    engine.run(stop)


def start_inline(app: Flask) -> threading.Thread:
    """VIGIL_ENGINE=inline: each web process also runs the loop (a greenlet under gevent).
    Safe with several workers because every piece of work is claimed atomically."""
    stop = threading.Event()
    engine = build(app)
    t = threading.Thread(target=engine.run, args=(stop,), name="vigil-engine", daemon=True)
    t.start()
    atexit.register(stop.set)
    return t
