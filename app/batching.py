"""A writer thread that takes items from many threads and writes them several at a time.

The engine's senders hand their results here instead of each opening a write transaction: a
sender is free for the next page as soon as the provider has answered, and a burst of results
costs a few transactions instead of one each (the database's writer lock on SQLite, the event
bus's commit order on PostgreSQL, are what an alert storm queues on).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger("vigil.engine")
_STOP = object()


class GroupWriter(Generic[T]):
    def __init__(self, write: Callable[[list[T]], None], *, name: str, max_batch: int = 50) -> None:
        self._write = write
        self._max = max_batch
        self._queue: queue.Queue[object] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(item)

    def join(self, timeout: float) -> None:
        """Wait until everything put so far is written (or the timeout passes)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending and (left := deadline - time.monotonic()) > 0:
                self._idle.wait(left)

    def close(self, timeout: float = 30.0) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [] if first is _STOP else [first]
            stopping = first is _STOP
            while len(batch) < self._max and not stopping:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                else:
                    batch.append(item)
            if batch:
                try:
                    self._write(batch)  # type: ignore[arg-type]
                except Exception:  # the writer must outlive a bad batch; the write logs details
                    log.exception("writing %d results failed", len(batch))
                with self._idle:
                    self._pending -= len(batch)
                    self._idle.notify_all()
            if stopping:
                return
