"""Heartbeat monitors and their pings: a monitor's ping URL (`/hb/<uuid>`, `/start`, `/fail`) or
address (`hb-<uuid>@<domain>`) records a ping; the engine decides from the monitor row what the
ping means for incidents (incidents/heartbeats.py), so a ping only writes two rows.

A hammered URL stays cheap: a ping is one UPDATE of its monitor (which also says when the engine
must look next) and one upsert into the monitor's ring of PING_RING slots, however many come.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import bindparam, case, delete, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from ..db import UTCDateTime, clean_text
from ..errors import EditError
from ..models import PING_RING, HeartbeatMonitor, HeartbeatPing, Service
from .heartbeat_schedule import Schedule, ScheduleError, deadline

Kind = Literal["success", "start", "fail"]
KINDS: tuple[Kind, ...] = ("success", "start", "fail")
SOURCES = ("http", "email")
BODY_EXCERPT = 10_000  # characters of a ping's body kept (a cron job's log tail)
MAX_NAME = 200

_TOKEN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_LOCAL_PART = re.compile(r"hb-([0-9a-fA-F-]{36})")
_M = HeartbeatMonitor.__table__
_P = HeartbeatPing.__table__


@dataclass(frozen=True)
class Pinged:
    """What a ping did: the monitor it counted for, and its state now (new, up or down)."""

    monitor_id: int
    service_id: int
    kind: Kind
    state: str


def schedule_of(m: HeartbeatMonitor) -> Schedule:
    return Schedule(timedelta(seconds=m.period_seconds), timedelta(seconds=m.grace_seconds), m.timezone, m.cron)


def is_token(token: str) -> bool:
    """A ping URL's uuid as we make them (checked before any database work: noise costs nothing)."""
    return _TOKEN.fullmatch(token) is not None


def monitor_for_token(session: Session, token: str) -> HeartbeatMonitor | None:
    if not is_token(token):
        return None
    return session.execute(select(HeartbeatMonitor).where(HeartbeatMonitor.token == token)).scalar_one_or_none()


def monitor_for_local_part(session: Session, local_part: str) -> HeartbeatMonitor | None:
    """The monitor of a ping address's local part, `hb-<uuid>` (any case), or None."""
    m = _LOCAL_PART.fullmatch(local_part.strip())
    return monitor_for_token(session, m.group(1).lower()) if m else None


# A ping is the hot path (a URL in a runaway loop, a fleet of cron jobs at midnight). What a ping
# needs to know of its monitor (its id and schedule) is cached per process for CACHE_SECONDS, and
# so is "no such monitor": noise costs no database work at all, and a known monitor's ping is two
# statements, built once as text both SQLite and PostgreSQL run (building a statement costs more
# than running it). The UPDATE is guarded by the cached schedule: a monitor changed or deleted
# since is read again, so a stale cache never computes a deadline from an old schedule.
# Each column is set from the row as it is when the UPDATE runs, not as read before: two pings of
# one monitor at once each see the other's effect (PostgreSQL re-reads the row after waiting for
# its lock; SQLite has one writer).
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class _Known:
    id: int
    schedule: Schedule


_FIND = select(_M.c.id, _M.c.period_seconds, _M.c.grace_seconds, _M.c.timezone, _M.c.cron).where(
    _M.c.token == bindparam("token"))
_SET = {
    # up; due again at its deadline, or looked at at once if the engine had alerted (it resolves)
    "success": "state = 'up', alert_pending = FALSE, last_start_at = NULL, last_ping_at = :now, "
               "last_ping_kind = 'success', check_at = CASE WHEN alerted THEN :now ELSE :due END",
    # down; the engine opens (or counts into) the incident at once
    "fail": "state = 'down', alert_pending = TRUE, last_start_at = NULL, last_ping_at = :now, "
            "last_ping_kind = 'fail', check_at = :now",
    # a run began: it must end within the grace (:due), if that comes before the next deadline
    "start": "last_start_at = :now, check_at = CASE WHEN state = 'up' AND NOT alerted "
             "AND (check_at IS NULL OR check_at > :due) THEN :due ELSE check_at END",
}
_PING = {kind: text(f"UPDATE heartbeat_monitors SET {values}, pings = pings + 1, version = version + 1 "
                    "WHERE id = :id AND period_seconds = :period AND grace_seconds = :grace AND timezone = :tz "
                    "AND COALESCE(cron, '') = :cron RETURNING pings, service_id, state")
         .bindparams(*[bindparam(name, type_=UTCDateTime()) for name in ("now", "due") if f":{name}" in values])
         for kind, values in _SET.items()}
_RING = text(
    "INSERT INTO heartbeat_pings (monitor_id, slot, n, kind, source, at, remote, body) "
    "VALUES (:monitor_id, :slot, :n, :kind, :source, :at, :remote, :body) "
    "ON CONFLICT (monitor_id, slot) DO UPDATE SET n = excluded.n, kind = excluded.kind, source = excluded.source, "
    "at = excluded.at, remote = excluded.remote, body = excluded.body"
).bindparams(bindparam("at", type_=UTCDateTime()))

_cache: dict[tuple[str, str], tuple[float, _Known | None]] = {}
_cache_lock = threading.Lock()


def known_id(engine: Engine, token: str) -> int | None:
    """The id of the monitor a token pings: from the cache, else read (never in a write
    transaction: a flood of unknown uuids takes no write lock)."""
    hit = _cached(str(engine.url), token)
    if hit is _MISS:
        with engine.connect() as conn:
            hit = known(conn, token)
    return hit.id if isinstance(hit, _Known) else None


_MISS = object()


def _cached(url: str, token: str) -> _Known | None | object:
    with _cache_lock:
        hit = _cache.get((url, token))
    return hit[1] if hit is not None and hit[0] > time.monotonic() else _MISS


def known(conn: Connection, token: str, *, fresh: bool = False) -> _Known | None:
    """The monitor a (well-formed, lower-case) token pings, from the cache or the database."""
    key = (str(conn.engine.url), token)
    if not fresh and (hit := _cached(*key)) is not _MISS:
        return hit  # type: ignore[return-value]
    clock = time.monotonic()
    row = conn.execute(_FIND, {"token": token}).first()
    found = None if row is None else _Known(row.id, Schedule(
        timedelta(seconds=row.period_seconds), timedelta(seconds=row.grace_seconds), row.timezone, row.cron))
    with _cache_lock:
        if len(_cache) > 100_000:  # a flood of random uuids: start afresh rather than grow
            _cache.clear()
        _cache[key] = (clock + CACHE_SECONDS, found)
    return found


def forget_cached_monitors() -> None:
    """After changing or deleting a monitor: this process sees it at once (others are guarded)."""
    with _cache_lock:
        _cache.clear()


def ping(session: Session, monitor_or_token: HeartbeatMonitor | str, kind: str, now: datetime, source: str,
         body_excerpt: str | None = None, remote: str = "") -> Pinged | None:
    """Record a ping (success, start or fail) from `source` (http or email); None for an unknown
    monitor. Within the caller's transaction: the caller commits.

    success: the monitor is up, and due again at its next expected time plus the grace (at once
    if the engine had alerted: it resolves). fail: down, and the engine opens the incident at
    once. start: a run began; it must end (success or fail) within the grace."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}")
    if isinstance(monitor_or_token, HeartbeatMonitor):
        token = monitor_or_token.token
    else:
        token = monitor_or_token.strip().lower()
        if not is_token(token):
            return None
    conn = session.connection()
    for attempt in range(5):  # a second only when the cache was stale; more, were it edited meanwhile
        m = known(conn, token, fresh=attempt > 0)
        if m is None:
            return None
        schedule = m.schedule
        params: dict[str, object] = {"id": m.id, "now": now, "period": int(schedule.period.total_seconds()),
                                     "grace": int(schedule.grace.total_seconds()), "tz": schedule.timezone,
                                     "cron": schedule.cron or ""}
        if kind != "fail":
            params["due"] = now + schedule.grace if kind == "start" else deadline(schedule, now)
        row = conn.execute(_PING[kind], params).first()
        if row is not None:
            break
    else:
        raise RuntimeError(f"heartbeat monitor {m.id} kept changing under its ping")
    n, service_id, state = row
    conn.execute(_RING, {"monitor_id": m.id, "slot": n % PING_RING, "n": n, "kind": kind, "source": source, "at": now,
                         "remote": clean_text(remote, 64), "body": clean_text(body_excerpt, BODY_EXCERPT)})
    return Pinged(m.id, service_id, kind, state)  # type: ignore[arg-type]


def last_pings(session: Session, monitor_id: int, limit: int = 20) -> list[HeartbeatPing]:
    """The newest first."""
    return list(session.execute(
        select(HeartbeatPing).where(HeartbeatPing.monitor_id == monitor_id).order_by(HeartbeatPing.n.desc()).limit(limit)
    ).scalars())


def monitors_of(session: Session, service_ids: list[int]) -> list[HeartbeatMonitor]:
    if not service_ids:
        return []
    return list(session.execute(
        select(HeartbeatMonitor).where(HeartbeatMonitor.service_id.in_(service_ids))
        .order_by(HeartbeatMonitor.service_id, HeartbeatMonitor.name, HeartbeatMonitor.id)
    ).scalars())


# --- managers' changes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MonitorInput:
    name: str
    period_seconds: int
    grace_seconds: int
    timezone: str = "UTC"
    cron: str | None = None

    def checked(self) -> tuple[str, Schedule]:
        """The name and schedule, or EditError saying what to fix."""
        name = clean_text(self.name, MAX_NAME)
        if not name:
            raise EditError("give the monitor a name (what pings it: \"nightly backup\")")
        try:
            return name, Schedule.of(self.period_seconds, self.grace_seconds, self.timezone or "UTC", self.cron)
        except ScheduleError as e:
            raise EditError(str(e)) from None


def create(session: Session, service: Service, spec: MonitorInput, now: datetime, *,
           token: str | None = None) -> HeartbeatMonitor:
    """A new monitor with a fresh random token (`token`: the demo's, derived from its secret)."""
    name, schedule = spec.checked()
    if token is not None and not is_token(token):
        raise ValueError("a heartbeat token is a version-4 uuid")
    m = HeartbeatMonitor(service_id=service.id, name=name, token=token or str(uuid.uuid4()),
                         period_seconds=int(schedule.period.total_seconds()), grace_seconds=int(schedule.grace.total_seconds()),
                         timezone=schedule.timezone, cron=schedule.cron, state="new", alerted=False, alert_pending=False,
                         version=0, pings=0, created_at=now)
    session.add(m)
    session.flush()
    return m


def change(session: Session, m: HeartbeatMonitor, spec: MonitorInput, now: datetime) -> None:
    """A new name or schedule. The engine looks at the monitor again at once: its deadline moves."""
    name, schedule = spec.checked()
    session.execute(update(_M).where(_M.c.id == m.id).values(
        name=name, period_seconds=int(schedule.period.total_seconds()), grace_seconds=int(schedule.grace.total_seconds()),
        timezone=schedule.timezone, cron=schedule.cron, version=_M.c.version + 1,
        check_at=case((_M.c.state == "new", None), else_=now)))
    session.refresh(m)
    forget_cached_monitors()


def remove(session: Session, m: HeartbeatMonitor) -> None:
    """Delete a monitor and its pings. An incident it opened stays open, for a human to resolve."""
    session.execute(delete(_P).where(_P.c.monitor_id == m.id))
    session.delete(m)
    forget_cached_monitors()
