"""The escalation loop: its own process (`vigil engine`), or a greenlet inside the web process.

One tick: beat the heartbeat, fire the escalation steps that are due, re-trigger timed-out
acknowledgements, mark missed deadlines, requeue deliveries whose lease expired, and hand due
notifications to a bounded pool of sending threads (every provider call has a timeout; the loop
never waits on one). One recorder thread writes the outcomes, several per transaction. All timing
state is in the database, so a restart loses nothing, and every piece of work is claimed
atomically, so any number of engines can run.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, literal_column, or_, select, union_all, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .. import bulk, incidents
from ..answers import links
from ..clock import Clock
from ..db import Database, retry_transient
from ..live.bus import EventBus
from ..models import (
    Incident,
    Notification,
    Status,
)
from ..notify import TRANSPORTS
from ..notify.base import Transport
from . import heartbeat, jobs
from .delivery import Job, LinkMaker, Sender

log = logging.getLogger("vigil.engine")
T = TypeVar("T")

BATCH = 200
# A claimed page's lease: the backstop for an engine that is alive but stuck. A dead engine's
# pages go back sooner, when its heartbeat stops (heartbeat.DEAD_AFTER; see _requeue_expired).
LEASE = timedelta(minutes=5)  # longer than any transport timeout times the queue depth
# Due incidents handled per transaction; the pages of a chunk go out before the next. What a chunk
# costs whatever its size (a dozen statements, two commits, the pages of a bundle, its events)
# is paid per hundred steps rather than per forty: 1,000 steps due at once fired within 0.22 s
# instead of 0.43 on PostgreSQL (p99, bench/escalation.py --pattern burst) and 0.13 instead of
# 0.31 on SQLite; in a storm the engine's CPU for a new incident fell from 0.24 to 0.18 ms and
# PostgreSQL's from about 0.29 to 0.21 (bench/ingest.py). On SQLite a chunk holds the write lock for
# longer, yet intake's rate beside it did not move.
CHUNK = 100
CHUNK_THREADS = 3  # chunks handled at once (PostgreSQL)
NUDGE_GAP = 0.05  # seconds between two looks for due steps prompted by commits
# In a storm (the last look fired at least STORM_AT steps), the looks prompted by commits come a
# STORM_GAP apart: the chunks fill (36 steps a transaction instead of 26 in a 6,000-alert storm
# with chunks of 40),
# and what each look and transaction costs whatever its size (the due steps' read, the policy,
# who is on call, the commit) is paid less often. bench/ingest.py: the engine's CPU a new
# incident, as a share of the web workers' an alert, fell by about a sixth. A storm's pages wait
# up to STORM_GAP more; a lone alert is looked at at once.
STORM_GAP = 0.2
# Not a share of CHUNK: at 1,000 new alerts a second, a look 50 ms after the last finds about 50
# due, and a threshold above that never let the looks spread out (chunks of 150 with STORM_AT
# at 75 cost the engine as much as chunks of 40).
STORM_AT = 20
YIELD_SECONDS = 0.004  # on SQLite, the rest the engine gives the write lock when another process waits for it

_I, _N = Incident.__table__, Notification.__table__
# Built once, not at every tick (five a second, and back to back in a storm).
# The steps due now, earliest first, a batch at most (Engine._due_steps): ids only. And, when
# fewer than a batch were due, when the first step still to come falls due (_until_next_look).
# Two reads of the same index: in a storm, the steps ahead (each fired incident's M+30) were
# read and their times parsed at every look, twenty looks a second, to keep one of them. Both
# ORDER BY the index's order: PostgreSQL, with statistics from before a storm (few open
# incidents), read min() through the open-dedup index instead, every open incident at each look.
_DUE_NOW = (select(_I.c.id).where(_I.c.status == Status.triggered.value, _I.c.next_escalation_at <= bindparam("now"))
            .order_by(_I.c.next_escalation_at).limit(BATCH))
_NEXT_DUE = (select(_I.c.next_escalation_at).where(_I.c.status == Status.triggered.value,
                                                   _I.c.next_escalation_at > bindparam("now"))
             .order_by(_I.c.next_escalation_at).limit(1))
# By ix_incidents_ack_timeout, the earliest first (as the deadlines below).
_ACK_TIMEOUTS_DUE = (select(_I.c.id).where(_I.c.status == Status.acknowledged.value,
                                           _I.c.ack_timeout_at <= bindparam("now"))
                     .order_by(_I.c.ack_timeout_at).limit(BATCH))
# By ix_incidents_deadline, the earliest first: the deadlines not yet missed, of open incidents
# (before it, the status prefix of ix_incidents_due: every open incident read at each tick). The
# ORDER BY is the index's order, which both planners then take whatever their statistics say.
_DEADLINES_DUE = (select(_I.c.id).where(_I.c.status == Status.triggered.value, _I.c.sla_breached_at.is_(None),
                                        _I.c.response_deadline <= bindparam("now"))
                  .order_by(_I.c.response_deadline).limit(BATCH))
# Pages being sent by an engine that is gone (no heartbeat since dead_before) or past their lease
# (Engine._requeue_expired); taken with SKIP LOCKED, the lock order (db.py): never wait on a page.
_ORPHANS = select(_N.c.id).where(
    _N.c.status == "sending",
    or_(_N.c.lease_until < bindparam("now"),
        and_(_N.c.claimed_by.is_not(None), _N.c.claimed_by != bindparam("me"),
             _N.c.claimed_by.not_in(heartbeat.ALIVE))))
_AN_ORPHAN = _ORPHANS.limit(1)
# Pages due to go out, the longest waiting first (Engine._dispatch), as many as there is room for.
_PENDING_DUE = select(_N.c.id).where(_N.c.status == "pending", _N.c.not_before <= bindparam("now"))
_PAGES_DUE = _PENDING_DUE.order_by(_N.c.not_before, _N.c.id).limit(bindparam("room"))


def _arm(kind: str, query: Any, at: Any) -> Any:
    """One of the looks below as a part of a UNION ALL: (kind, id, at), its ORDER BY and LIMIT
    kept inside (a subquery), `at` what it is ordered by."""
    sub = query.add_columns(at.label("at")).subquery()
    return select(literal_column(f"'{kind}'").label("kind"), sub.c.id, sub.c.at)


# What a tick looks at, in one statement on one connection (Engine._due_at): the steps due and
# when the next falls due, the acknowledgements timed out, the deadlines missed, whether a page
# is orphaned, whether one is due to go out. Six statements on five connections, five ticks a
# second, were most of what an idle engine spends (bench/engine_idle.py, PostgreSQL: 21-25 ms
# of CPU a second, 15-16 now; PostgreSQL's own 7-9, 6 now). Each arm still goes by its index.
_NEXT = _NEXT_DUE.with_only_columns(_I.c.id)
_STEP_ARMS = (_arm("step", _DUE_NOW, _I.c.next_escalation_at), _arm("next", _NEXT, _I.c.next_escalation_at))
_STEPS_LOOK = union_all(*_STEP_ARMS)
_TICK_LOOK = union_all(
    *_STEP_ARMS,
    _arm("ack", _ACK_TIMEOUTS_DUE, _I.c.ack_timeout_at), _arm("deadline", _DEADLINES_DUE, _I.c.response_deadline),
    _arm("orphan", _AN_ORPHAN, _N.c.lease_until), _arm("page", _PENDING_DUE.limit(1), _N.c.not_before))


@dataclass
class _Due:
    """What one look found due (_STEPS_LOOK, _TICK_LOOK), each list earliest first."""

    steps: list[int] = field(default_factory=list)
    next_step: datetime | None = None  # the first step still to come
    ack_timeouts: list[int] = field(default_factory=list)
    deadlines: list[int] = field(default_factory=list)
    orphaned: bool = False
    pages: bool = False  # a page due to go out

    @classmethod
    def of(cls, rows: Any) -> _Due:
        found: dict[str, list[Any]] = {}
        for r in rows:
            found.setdefault(r.kind, []).append(r)

        def ids(kind: str) -> list[int]:  # in the arm's order: a UNION ALL need not keep it
            return [r.id for r in sorted(found.get(kind, ()), key=lambda r: (r.at, r.id))]

        nxt = found.get("next")
        return cls(ids("step"), nxt[0].at if nxt else None, ids("ack"), ids("deadline"), "orphan" in found,
                   "page" in found)


_REQUEUE = (update(_N).where(_N.c.id.in_(_ORPHANS.with_for_update(skip_locked=True)), _N.c.status == "sending")
            .values(status="pending", lease_until=None, claimed_by=None, not_before=bindparam("now")))
# The claim (Engine._claim): of these pages, the ones still pending and not locked, now sending.
_CLAIM = (update(_N)
          .where(_N.c.id.in_(select(_N.c.id).where(bulk.among(_N.c.id), _N.c.status == "pending")
                             .with_for_update(skip_locked=True)), _N.c.status == "pending")
          .values(status="sending", lease_until=bindparam("b_lease"), claimed_by=bindparam("b_engine"),
                  attempts=_N.c.attempts + 1)
          .returning(_N.c.id))


class Engine:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        config: dict[str, Any],
        *,
        name: str | None = None,
        transports: dict[str, type[Transport]] | None = None,
        ack_link: LinkMaker | None = None,
        bus: EventBus | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.config = config
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.transports = {k: cls(config, db) for k, cls in (transports or TRANSPORTS).items()}
        self.ack_link = ack_link or links.for_notification(config)
        self.workers = int(config.get("ENGINE_WORKERS", 16))
        self.poll = float(config.get("ENGINE_POLL_SECONDS", 0.2))
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="vigil-send")
        self.inflight: set[Future[None]] = set()
        self._inflight_lock = threading.Lock()
        self._reserved = 0  # room held by claims under way (_reserve)
        self.wake = threading.Event()
        self.nudged = threading.Event()  # something was committed: look for due steps now
        self._writer = threading.Lock()
        self._chunk_pool = ThreadPoolExecutor(CHUNK_THREADS, thread_name_prefix="vigil-fire")
        self.sender = Sender(db, clock, config, self.transports, transact=self.transact, wake=self.wake,
                             links=jobs.link_makers(config))
        self.started_at = clock.now()
        self._last_beat: datetime | None = None
        self._next_due: datetime | None = None  # the earliest step to come, at the last look
        self._looked_at: datetime | None = None  # when that look was (the clock's time)
        self._drained, self._drained_at = False, 0.0  # the last look for due pages took them all, and when
        self.jobs = jobs.registered(config)  # periodic work: coverage gaps ahead... (engine/jobs.py)

    # --- the loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        log.info("engine %s started", self.name)
        # The heartbeat has its own thread: a long tick (an alert storm) must not make this
        # engine look dead to the others, who would then send its pages again.
        beating = threading.Thread(target=self._beat_until, args=(stop,), name="vigil-heartbeat", daemon=True)
        beating.start()
        if self.bus is not None:
            # A new incident's first step is due at once: rather than find it at the next poll
            # (up to ENGINE_POLL_SECONDS later), look as soon as anything is committed anywhere
            # (LISTEN, Redis, or the SQLite commit watch: see live/bus.py).
            self.bus.add_signal_listener(self._nudge)
        last_tick, last_fire, behind = float("-inf"), float("-inf"), False
        last_fired = 0
        while not stop.is_set():
            try:
                if behind or time.monotonic() - last_tick >= self.poll:
                    self.nudged.clear()
                    started = time.monotonic()  # the cadence counts from the start: a long tick
                    stats = self.tick()  # (an alert storm) is followed by the next one at once
                    last_tick, last_fire, behind = started, started, stats["fired"] >= BATCH
                    last_fired = stats["fired"]
                elif self.nudged.is_set() or self._step_fell_due():
                    # Something was committed, or the next step fell due: fire what is due now,
                    # and page (the rest of a tick keeps its cadence). In a storm every commit
                    # nudges: looking at most every NUDGE_GAP (STORM_GAP once a look fired many)
                    # takes the new incidents a batch at a time, cheaper than one by one, while a
                    # lone alert is still looked at within milliseconds.
                    gap = min(STORM_GAP, self.poll) if last_fired >= STORM_AT else NUDGE_GAP
                    if (early := last_fire + gap - time.monotonic()) > 0:
                        stop.wait(early)
                    self.nudged.clear()
                    last_fire = time.monotonic()
                    last_fired = self._fire(self.clock.now())[0]
                    # A full batch: more may be due (1,000 steps due at once), so the next look is
                    # a tick at once, as after a tick that fired one, not a STORM_GAP later.
                    behind = last_fired >= BATCH
                    continue
                elif not self._drained or time.monotonic() - self._drained_at >= NUDGE_GAP:
                    # Woken by a finished delivery: there is room for more pages. The rest of a
                    # tick can wait for its time (an alert storm wakes us once per delivery).
                    # When the last look found every due page taken, the next is made a
                    # NUDGE_GAP later at the soonest (a storm's deliveries end hundreds of times a
                    # second, and the engine's own pages are claimed as they are written).
                    self._dispatch(self.clock.now())
            except Exception:  # a bad tick must never kill the loop that pages people
                log.exception("engine tick failed")
                stop.wait(1.0)
                continue
            if not behind:
                self.wake.wait(self._until_next_look(last_tick))
                self.wake.clear()
        self.close()
        log.info("engine %s stopped", self.name)

    def _until_next_look(self, last_tick: float) -> float:
        """Seconds to wait: until the next tick, or less, until the next step falls due (as known
        at the last look), so that a step, a storm's M+30 among them, is fired when it falls due
        rather than up to a poll later. A step already due that was not fired (it failed) does
        not shorten the wait: the next tick tries again."""
        wait = max(0.0, self.poll - (time.monotonic() - last_tick))
        if self._next_due is not None:
            ahead = (self._next_due - self.clock.now()).total_seconds()
            if 0 < ahead < wait:
                return ahead
        return wait

    def _step_fell_due(self) -> bool:
        """The next step, as known at the last look, has fallen due since that look."""
        return self._next_due is not None and self._looked_at is not None \
            and self._looked_at < self._next_due <= self.clock.now()

    def _nudge(self) -> None:
        self.nudged.set()
        self.wake.set()

    def tick(self) -> dict[str, int]:
        now = self.clock.now()
        self._heartbeat(now)
        due = self._look(lambda c: self._due_at(c, now))
        fired, dispatched = self._fire(now, due.steps)
        done = {
            "fired": fired,
            "retriggered": self._each_due(self._in_transaction(incidents.retrigger_due, now), due.ack_timeouts),
            "breached": self._each_due(self._in_transaction(incidents.breach_due, now), due.deadlines),
            "requeued": self._requeue_expired(now) if due.orphaned else 0,
        }
        if due.pages or any(done.values()):  # else none was due at the look, and none made since
            dispatched += self._dispatch(now)
        else:
            self._drained, self._drained_at = True, time.monotonic()
        return {
            **done,
            "dispatched": dispatched,
            **jobs.run_due(self.jobs, now, self.transact, self._look),
        }

    def _fire(self, now: datetime, due: list[int] | None = None) -> tuple[int, int]:
        """Fire the escalation steps due at `now` (`due`, else looked for) and send their pages:
        (fired, dispatched)."""
        if due is None:
            due = self._look(lambda c: self._due_steps(c, now))
        dispatched = 0
        cache = incidents.FiringCache()
        left = False  # a chunk left pages pending for want of room: _dispatch takes them, in order

        def fire_due(chunk: list[int]) -> int:
            # A chunk's pages are claimed by the transaction that fired its steps, as many as
            # there is room for (none once a chunk has left some behind: those go first).
            nonlocal dispatched, left
            held = [0]  # the room the transaction holds (reserved again should it be retried)
            try:
                fired, jobs, full = self.transact(lambda s: self._fire_chunk(s, chunk, now, cache, held, claim=not left))
                self._send(jobs)  # committed: the pages and their ack links exist
            finally:
                self._release(held[0])
            dispatched += len(jobs)
            left = left or full
            return fired

        def pages_out(_fired: int) -> None:
            # An alert storm fires many steps in one tick: the first pages go out while the
            # later steps are still being fired, not after all of them.
            nonlocal dispatched
            if left:
                dispatched += self._dispatch(now)

        self.sender.firing_done.clear()
        try:
            fired = self._each_due(fire_due, due, progress=pages_out)
        finally:
            self.sender.firing_done.set()
        if left:
            self._drained = False  # pages are waiting for room: look as soon as there is some
        return fired, dispatched

    def _fire_chunk(self, s: Session, chunk: list[int], now: datetime, cache: incidents.FiringCache,
                    held: list[int], claim: bool) -> tuple[int, list[Job], bool]:
        """Fire a chunk's due steps and, in the same transaction, claim the pages now due for its
        incidents, as many as the sending threads have room for (held[0] of it is reserved, to be
        released by the caller): they are written claimed (incidents.PageClaim). A claim of their
        own would re-read what firing just wrote, in one more transaction, and write each page
        again. Returns (fired, the claimed pages, whether pages were left behind)."""
        def reserve(want: int) -> int:  # the room for `want` pages, held for this transaction
            self._release(held[0])
            held[0] = self._reserve(want)
            return held[0]

        snaps: dict[int, dict[str, Any]] = {}
        pages = incidents.PageClaim(self.name, now + LEASE, reserve) if claim else None
        fired = incidents.fire_due(s, chunk, now, engine=self.name, cache=cache, snaps=snaps, claim=pages,
                                   bundle_at=int(self.config.get("PAGE_BUNDLE_AT", 0)),
                                   pace=timedelta(seconds=float(self.config.get("STORM_PAGE_PACE_SECONDS", 0))))
        if not fired or pages is None:
            return fired, [], bool(fired)
        # Read with the claim, for the whole batch, each page's ack link written (Sender.prepare).
        jobs = self.sender.prepare(s, pages.ids, now, self.ack_link, snaps) if pages.ids else []
        return fired, jobs, pages.left

    def _in_transaction(self, action: Callable[..., int], now: datetime) -> Callable[[list[int]], int]:
        """`action(session, chunk, now)` as a chunk's work for _each_due, in a transaction of its own."""
        def run(chunk: list[int]) -> int:
            return self.transact(lambda s: action(s, chunk, now))

        run.__name__ = action.__name__  # for _each_due's log
        return run

    def drain(self, timeout: float = 30.0) -> None:
        """Wait for the deliveries in flight and their records (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._inflight_lock:
                pending = list(self.inflight)
            if not pending:
                break
            for f in pending:
                f.result(timeout=max(0.0, deadline - time.monotonic()))
        self.sender.outcomes.join(max(0.0, deadline - time.monotonic()))

    def run_until_idle(self, max_ticks: int = 50) -> None:
        """Tick and drain until nothing is left to do at the current instant (tests)."""
        for _ in range(max_ticks):
            stats = self.tick()
            self.drain()
            if not any(stats.values()):
                return
        raise RuntimeError("engine did not become idle")

    def close(self) -> None:
        try:
            self.drain(timeout=30.0)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=False)
            self._chunk_pool.shutdown(wait=True)
            self.sender.close()

    # --- claims -------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A write transaction. On SQLite (one writer at a time) the engine's own threads queue
        on a lock, in order: a connection that finds the database locked sleeps in growing steps
        (up to 100 ms) before retrying, which under a burst of sends turned into seconds of
        tail latency. Other processes still wait on SQLite itself."""
        if self.db.is_sqlite:
            with self._writer:
                with self.db.transaction() as s:
                    yield s
                # Another process was refused the lock just now (db.WaitBoard): let it have a
                # turn before our next transaction, or a storm's back-to-back writes starve it.
                if self.db.waiters is not None and self.db.waiters.someone_else_waiting():
                    time.sleep(YIELD_SECONDS)
        else:
            with self.db.transaction() as s:
                yield s

    def transact(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a write transaction, and again should it lose a race (db.retry_transient):
        every write of the engine and its recorder comes through here."""

        def once() -> T:
            with self._write() as s:
                return work(s)

        return retry_transient(once)

    def _look(self, work: Callable[[Connection], T]) -> T:
        """Run `work` on a read-only connection (no write lock on SQLite), without a session: the
        looks are made many times a second in a storm, and a Session costs more to make than
        such a read."""
        with self.db.looking() as conn:
            return work(conn)

    def _each_due(self, action: Callable[[list[int]], int], ids: list[int],
                  progress: Callable[[int], None] | None = None) -> int:
        """Do `action` for these incidents found due, a chunk at a time."""

        def run(chunk: list[int]) -> int:
            # Several incidents per transaction: fewer commits in an alert storm (event-writing
            # commits are serialised, see live/events.py). The chunk's rows are locked together and
            # each is re-checked under the lock; a failure replays the chunk one at a time.
            try:
                return action(chunk)
            except Exception:
                if len(chunk) == 1:
                    log.exception("%s failed for incident %s", action.__name__, chunk[0])
                    return 0
                return sum(run([incident_id]) for incident_id in chunk)

        # Sorted within a chunk: two engines lock the rows of a chunk in the same order.
        chunks = [sorted(ids[i:i + CHUNK]) for i in range(0, len(ids), CHUNK)]
        if self.db.is_postgres and len(chunks) > 1:
            # A step is a handful of round trips to the server, mostly spent waiting: a few
            # threads overlap the waits (SQLite has one writer at a time: nothing to overlap).
            results = self._chunk_pool.map(run, chunks)
        else:
            results = map(run, chunks)
        done = 0
        for n in results:  # in order, as they complete
            done += n
            if n and progress is not None:
                progress(done)
        return done

    def _due_steps(self, conn: Connection, now: datetime) -> list[int]:
        """The incidents whose next step is due, earliest first (a look prompted by a commit)."""
        return self._found(_Due.of(conn.execute(_STEPS_LOOK, {"now": now})), now).steps

    def _due_at(self, conn: Connection, now: datetime) -> _Due:
        """Everything a tick looks for (_TICK_LOOK)."""
        return self._found(_Due.of(conn.execute(_TICK_LOOK, self._orphan_params(now))), now)

    def _orphan_params(self, now: datetime) -> dict[str, Any]:
        """What tells this engine's pages and the live engines' from orphans (_ORPHANS)."""
        return {"now": now, "me": self.name, "dead_before": now - heartbeat.DEAD_AFTER}

    def _found(self, due: _Due, now: datetime) -> _Due:
        """Keep when the first step still to come falls due (_until_next_look); not known after
        a full batch (more may be due)."""
        self._next_due = due.next_step if len(due.steps) < BATCH else None
        self._looked_at = now
        return due

    def _requeue_expired(self, now: datetime) -> int:
        """Pages claimed by an engine that died (its heartbeat stopped) or that hold an expired
        lease go back to pending, to be sent by whoever claims them next. Of these, only the
        ones that were on the wire when it died can reach a phone twice: an engine records a
        page's outcome before its sending thread takes the next one (Sender.deliver). The tick
        asks first, without the write lock, whether there is one (_TICK_LOOK): there are none at
        almost every tick, and on SQLite a write transaction five times a second is the lock
        taken from intake each time."""
        params = self._orphan_params(now)
        return self.transact(lambda s: s.connection().execute(_REQUEUE, params).rowcount or 0)

    def _capacity_max(self) -> int:
        """Pages in flight at most: being sent, or claimed and queued for a sending thread. A
        burst's chunks (three at once on PostgreSQL, 40 steps each) claim their pages as they
        write them only while there is room: with four per thread, the second and third chunk
        found none and wrote theirs pending, to be claimed again by a transaction of their own
        (1,000 steps due at once: p99 487–535 ms; eight per thread: 407–456 ms, 0.39 ms of CPU a
        step instead of 0.43). Queued pages are claimed but not on the wire: an engine that dies
        holding them sends none twice (they go back when its heartbeat stops)."""
        return self.workers * 8

    def _dispatch(self, now: datetime) -> int:
        room = self._reserve()
        try:
            if room <= 0:
                return 0
            candidates = self._look(lambda c: list(  # most looks find nothing: no write lock
                c.execute(_PAGES_DUE, {"now": now, "room": room}).scalars()))
            self._drained, self._drained_at = len(candidates) < room, time.monotonic()
            if not candidates:
                return 0
            jobs = self.transact(lambda s: self._claim(s, candidates, now))
            self._send(jobs)
            return len(jobs)
        finally:
            self._release(room)

    def _claim(self, s: Session, candidates: list[int], now: datetime) -> list[Job]:
        """The claim: pending -> sending, and each claimed page read (Sender.prepare). Of two
        engines, each row goes to exactly one. SKIP LOCKED: a page that a phone's acknowledgement
        is cancelling right now is not waited for (the lock order of db.py: the web holds the
        incident and then its pages; we hold pages of several incidents and must not wait on one
        of theirs)."""
        if not candidates:
            return []
        claimed = list(s.connection().execute(  # Core: nothing of the session's to synchronise
            _CLAIM, {"ids": candidates, "b_lease": now + LEASE, "b_engine": self.name}).scalars())
        # Read with the claim, for the whole batch, each page's ack link written (Sender.prepare).
        return self.sender.prepare(s, claimed, now, self.ack_link) if claimed else []

    def _send(self, jobs: list[Job]) -> None:
        """Hand claimed pages (their claim committed) to the sending threads."""
        for job in jobs:
            fut = self.pool.submit(self.sender.deliver, job)
            with self._inflight_lock:
                self.inflight.add(fut)
            fut.add_done_callback(self._done)

    def _reserve(self, want: int | None = None) -> int:
        """Room for more pages in flight (up to `want`), held for a claim under way (chunks are
        fired by several threads at once on PostgreSQL): given back by _release once its pages are
        in flight."""
        with self._inflight_lock:
            room = max(0, self._capacity_max() - len(self.inflight) - self._reserved)
            if want is not None:
                room = min(room, want)
            self._reserved += room
            return room

    def _release(self, room: int) -> None:
        with self._inflight_lock:
            self._reserved -= room

    def _done(self, fut: Future[None]) -> None:
        with self._inflight_lock:
            self.inflight.discard(fut)
        if fut.exception() is not None:
            log.error("delivery crashed", exc_info=fut.exception())
        self.wake.set()

    # --- heartbeat ------------------------------------------------------------------------------

    def _beat_until(self, stop: threading.Event) -> None:
        while not stop.wait(heartbeat.HEARTBEAT_EVERY.total_seconds()):
            try:
                self._heartbeat(self.clock.now(), force=True)
            except Exception:  # the database is away for a moment: beat again next time
                log.warning("engine heartbeat failed", exc_info=True)

    def _heartbeat(self, now: datetime, *, force: bool = False) -> None:
        if not force and self._last_beat is not None and now - self._last_beat < heartbeat.HEARTBEAT_EVERY \
                and now >= self._last_beat:
            return
        self.transact(lambda s: heartbeat.beat(s, self.name, self.started_at, now))
        self._last_beat = now
