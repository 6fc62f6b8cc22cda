"""A writer thread that takes items from many threads and writes them several at a time.

The engine's senders hand their results here instead of each opening a write transaction, and
wait for them to be written (a page sent but not yet recorded would be sent again if the engine
died; see Sender.deliver): a burst of results costs a few transactions instead of one each (the database's writer lock on SQLite, the event
bus's commit order on PostgreSQL, are what an alert storm queues on).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")
Step = tuple[Any, Callable[[Session], Any]]  # (lock key, write): see GroupCommit
log = logging.getLogger("vigil.engine")
log_group = logging.getLogger("vigil.intake")
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

    def put(self, item: T) -> threading.Event:
        """Queue an item; the event returned is set once the batch holding it has been written
        (or has failed: the write logs why)."""
        done = threading.Event()
        with self._idle:
            self._pending += 1
        self._queue.put((item, done))
        return done

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
                    self._write([item for item, _ in batch])  # type: ignore[misc]
                except Exception:  # the writer must outlive a bad batch; the write logs details
                    log.exception("writing %d results failed", len(batch))
                for _, done in batch:  # type: ignore[misc]
                    done.set()
                with self._idle:
                    self._pending -= len(batch)
                    self._idle.notify_all()
            if stopping:
                return


class GroupCommit:
    """Concurrent callers' writes, committed together: group commit, for intake in a storm.

    A caller hands over its steps, each a lock key and a function of a session, and waits. The
    first caller to find no writer becomes the writer: it takes what is queued (up to
    `max_steps`), runs every step in lock-key order in one transaction, commits, gives each
    caller its results, and passes the role to the first caller still waiting. So a storm's
    alerts share BEGIN, COMMIT, the event bus's commit-time work and the log flush, and each
    caller still answers only once its own writes are committed; alone, a caller writes at once.

    Lock-key order keeps writers of different processes from deadlocking: each takes its row
    locks in the same order. A step that raises costs its batch a rollback; every caller's steps
    then run again alone, each in its own transaction, so one bad write fails only its caller.
    """

    def __init__(self, open_session: Callable[[], Session], *, max_steps: int = 64, wait_seconds: float = 120.0) -> None:
        self._open = open_session
        self._max = max_steps
        self._wait = wait_seconds
        self._lock = threading.Lock()
        self._queue: list[_Job] = []
        self._busy = False  # a writer is running or has been chosen; while False, the queue is empty

    def waiting(self) -> int:
        """How many callers wait for their turn (the writer's own batch not counted)."""
        with self._lock:
            return len(self._queue)

    def run(self, steps: list[Step]) -> list[Any]:
        job = _Job(steps)
        with self._lock:
            self._queue.append(job)
            job.lead = not self._busy
            self._busy = True
        if not job.lead and not job.woken.wait(self._wait):
            with self._lock:
                if job in self._queue and not job.lead:  # never picked up: nothing was written
                    self._queue.remove(job)
                    raise Busy(f"the database took no writes for {self._wait:.0f} s")
            job.woken.wait()  # picked up just now: the writer is committing it
        if job.lead:  # the first in, or handed the role
            self._write_next()
        if job.error is not None:
            raise job.error
        return job.results

    def _write_next(self) -> None:
        """As the writer: write one batch from the front of the queue (this caller's own job is
        first), then hand over."""
        with self._lock:
            batch, taken = [], 0
            for j in self._queue:
                if batch and taken + len(j.steps) > self._max:
                    break
                batch.append(j)
                taken += len(j.steps)
            del self._queue[: len(batch)]
        try:
            self._write(batch)
        finally:
            for j in batch:
                if j.results is None and j.error is None:  # the writer itself was stopped
                    j.error = RuntimeError("the group writer stopped before committing")
            with self._lock:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].woken.set()
                else:
                    self._busy = False
            for j in batch:
                j.woken.set()

    def _write(self, batch: list[_Job]) -> None:
        if len(batch) > 1:
            try:
                self._transaction(batch)
                return
            except Exception:
                log_group.warning("a group of %d writes failed; writing each alone", len(batch), exc_info=True)
        for j in batch:
            try:
                self._transaction([j])
            except Exception as e:
                j.error = e

    def _transaction(self, jobs: list[_Job]) -> None:
        """Run the jobs' steps in lock-key order in one transaction; their results once committed.

        Consecutive steps (in lock-key order) that offer the same `run_many` (a static method
        taking the session and the steps, returning one result each) run together through it, in
        that order, arrival order within a key: intake attaches or opens a group's alerts in one
        statement, and coalesces a storm's repeats of one alert, that way (incidents/trigger.py)."""
        steps = sorted(((key, j, i, fn) for j in jobs for i, (key, fn) in enumerate(j.steps)), key=lambda s: s[0])
        out: dict[tuple[int, int], Any] = {}
        with self._open() as session:
            at = 0
            while at < len(steps):
                fn = steps[at][3]
                many = getattr(fn, "run_many", None)
                end = at + 1
                while many is not None and end < len(steps) and getattr(steps[end][3], "run_many", None) == many:
                    end += 1
                run = steps[at:end]
                results = many(session, [r[3] for r in run]) if end - at > 1 else [fn(session)]
                for (_, j, i, _fn), result in zip(run, results, strict=True):
                    out[(id(j), i)] = result
                session.flush()  # a step's ORM changes reach the database before the next step's SQL
                at = end
            session.commit()
        for j in jobs:
            j.results = [out[(id(j), i)] for i in range(len(j.steps))]


class Busy(Exception):
    """Waited too long for a turn to write: nothing was written."""


class _Job:
    __slots__ = ("steps", "woken", "lead", "results", "error")

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self.woken = threading.Event()
        self.lead = False
        self.results: list[Any] | None = None
        self.error: BaseException | None = None
