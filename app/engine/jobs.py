"""The engine's periodic jobs: work due by the clock that is not an escalation step (coverage
gaps ahead; heartbeats that stopped, the monthly client report, shift starts and hand-over
chains join them). Each is a function of a session and `now` that the engine runs every so often
(in clock time) in a write transaction of its own, guarded: a failing job is logged and never
fails the pages of the tick. Each makes itself exactly-once with its own unique rows, so any
number of engines may run it; the cadence only saves work.

A job lives in the folder whose noun it is (schedules/gap_watch.py...) and is registered here,
with its cadence and settings, in `registered`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .. import incidents
from ..clients import handover
from ..incidents import heartbeats
from ..reports import monthly
from ..schedules import gap_watch, readiness
from ..status import maintenance

log = logging.getLogger("vigil.engine")


@dataclass
class Periodic:
    """`run(session, now)` every `every` of clock time; returns how much it did."""

    name: str
    every: timedelta
    run: Callable[[Session, datetime], int]
    last: datetime | None = field(default=None, compare=False)
    # Whether there may be anything to do, asked with a read first (for a job run every second
    # that finds nothing most of the time: its write transaction would take SQLite's one write
    # lock from intake for nothing).
    ready: Callable[[Connection, datetime], bool] | None = field(default=None, compare=False)

    def due(self, now: datetime) -> bool:
        # A clock set back (tests travel in time) makes it due again rather than never.
        return self.last is None or not (self.last <= now < self.last + self.every)


def registered(config: dict[str, Any]) -> list[Periodic]:
    """Every periodic job, built from the settings."""
    def seconds(name: str, default: float) -> timedelta:
        return timedelta(seconds=float(config.get(name, default)))

    warn_ahead = timedelta(days=float(config.get("SCHEDULE_WARN_DAYS", 14)))
    ready = readiness.Settings.of(config)
    base, secret = str(config.get("BASE_URL") or ""), str(config.get("SECRET_KEY") or "")
    return [
        Periodic("gaps_warned", seconds("SCHEDULE_CHECK_SECONDS", 300), lambda s, now: gap_watch.warn(s, now, warn_ahead)),
        Periodic("handovers_walked", seconds("HANDOVER_CHECK_SECONDS", 10), handover.walk),
        Periodic("shift_starts", seconds("SHIFT_CHECK_SECONDS", 30), lambda s, now: readiness.run(s, now, ready)),
        # Often: a /fail ping must open its incident within a second or so. Each look is one
        # indexed query that finds nothing, most of the time.
        Periodic("heartbeats_watched", seconds("HEARTBEAT_CHECK_SECONDS", 1), heartbeats.watch, ready=heartbeats.any_due),
        # Client e-mail stored (250 answered) but not processed: the listener died in between.
        Periodic("mail_swept", seconds("MAIL_SWEEP_SECONDS", 15),
                 lambda s, now: incidents.sweep_mail(s, now, int(config.get("MAIL_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)))),
        Periodic("monthly_reports", seconds("MONTHLY_REPORT_CHECK_SECONDS", 600), monthly.send_due),
        # Maintenance windows start and end by the clock (their pages are held by intake itself).
        Periodic("maintenance_walked", seconds("MAINTENANCE_CHECK_SECONDS", 15),
                 lambda s, now: maintenance.walk(s, now, base, secret)),
    ]


def link_makers(config: dict[str, Any]) -> dict[str, Any]:
    """The one-time links the engine writes into messages as it sends them, by purpose: a
    hand-over's "we have it", a shift start's "I'm ready" (the jobs above queue those messages)."""
    return {"handover": handover.link_maker(config), "handoff": readiness.link_maker(config)}


def run_due(jobs: list[Periodic], now: datetime, transact: Callable[[Callable[[Session], int]], int],
            look: Callable[[Callable[[Connection], bool]], bool] | None = None) -> dict[str, int]:
    """Run the jobs that are due at `now`, each in its own transaction (unless a read on a
    connection, `look`, shows it has nothing to do): {name: what it did}."""
    done: dict[str, int] = {}
    for job in jobs:
        if not job.due(now):
            continue
        job.last = now
        try:
            if job.ready is not None and look is not None and not look(lambda c, job=job: job.ready(c, now)):
                done[job.name] = 0
                continue
            done[job.name] = transact(lambda s, job=job: job.run(s, now))
        except Exception:  # a look-ahead or a report is worth less than the pages of this tick
            log.exception("periodic job %s failed", job.name)
            done[job.name] = 0
    return done
