"""The engine's side of heartbeat monitors (a periodic job, engine/jobs.py): a monitor past its
grace, or one that sent /fail, opens its incident through the intake path (so it escalates like
any alert, with the client's coverage and urgency); pings that resume resolve it.

Exactly once, from the database: the engine acts on a monitor only by a compare-and-set on its
`version`, in the transaction that writes the incident. Two engines that look at once, or an
engine that dies between the two, or a ping that lands in between, cannot open it twice: the
loser's UPDATE finds the version moved and does nothing (on PostgreSQL it waits for the winner's
commit, then re-reads the row). Each monitor has one dedup key, so even a repeat would only count
itself into the open incident.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..intake import heartbeat_schedule as due
from ..intake.base import IntakeEvent
from ..intake.heartbeats import schedule_of
from ..intake.keys import target_for_service
from ..models import HeartbeatMonitor, HeartbeatPing
from .trigger import ingest

BATCH = 200
_M = HeartbeatMonitor.__table__
SOURCE = "heartbeat"


def dedup_key(monitor_id: int) -> str:
    return f"heartbeat:{monitor_id}"


def _due(now: datetime) -> Any:
    return select(_M.c.id).where(_M.c.check_at <= now)


def any_due(conn: Connection, now: datetime) -> bool:
    """Whether any monitor is due a look at `now` (a read: watch() needs a write transaction)."""
    return conn.execute(_due(now).limit(1)).first() is not None


def watch(session: Session, now: datetime) -> int:
    """Act on the monitors due at `now`: how many opened, resolved or moved their next look."""
    ids = session.execute(_due(now).order_by(_M.c.check_at).limit(BATCH)).scalars().all()
    # By id: the order every writer of several monitor rows takes their locks (the ping view's
    # group commit too), so two engines, or an engine and a batch of pings, never deadlock.
    return sum(look(session, monitor_id, now) for monitor_id in sorted(ids))


def look(session: Session, monitor_id: int, now: datetime) -> int:
    m = session.get(HeartbeatMonitor, monitor_id, populate_existing=True)
    if m is None or m.check_at is None or m.check_at > now:
        return 0  # another engine, or a ping, moved it since we listed it
    schedule = schedule_of(m)
    status = due.status(schedule, m.state, m.last_ping_at, m.last_start_at, now)
    # Down again after pings resumed, and the engine never saw it up (it was stopped, or the
    # pings resumed and stopped between two looks): the old incident is over, this is a new one.
    again = (m.alerted and not m.alert_pending and m.alerted_at is not None and m.last_ping_at is not None
             and m.last_ping_at > m.alerted_at)
    if status == "down" and (not m.alerted or m.alert_pending or again):
        failed = m.alert_pending and m.last_ping_kind == "fail"  # else: late
        if _claim(session, m, state="down", alerted=True, alerted_at=now, alert_pending=False, check_at=None):
            if again:
                _resolve(session, m, now)
                session.flush()  # the old incident is resolved before the new one is opened
            _open(session, m, failed, now)
        return 1
    if status != "down" and m.alerted:
        if _claim(session, m, alerted=False, alert_pending=False,
                  check_at=due.next_check(schedule, m.state, m.last_ping_at, m.last_start_at)):
            _resolve(session, m, now)
        return 1
    state = "down" if status == "down" else m.state
    _claim(session, m, state=state, alert_pending=False,
           check_at=due.next_check(schedule, state, m.last_ping_at, m.last_start_at))
    return 1


def _claim(session: Session, m: HeartbeatMonitor, **values: Any) -> bool:
    """Compare-and-set on the version read: True when this transaction won the monitor."""
    won = session.execute(
        update(_M).where(_M.c.id == m.id, _M.c.version == m.version).values(version=_M.c.version + 1, **values)
    ).rowcount == 1
    session.expire(m)
    return won


def _open(session: Session, m: HeartbeatMonitor, failed: bool, now: datetime) -> None:
    last = "never" if m.last_ping_at is None else m.last_ping_at.isoformat(timespec="seconds")
    if failed:
        summary = f"Heartbeat {m.name}: the job reported a failure"
        body = session.execute(
            select(HeartbeatPing.body).where(HeartbeatPing.monitor_id == m.id, HeartbeatPing.kind == "fail")
            .order_by(HeartbeatPing.n.desc()).limit(1)
        ).scalar() or ""
        details = f"A /fail ping came at {last}." + (f"\n\nWhat it sent:\n{body}" if body else "")
    else:
        summary = f"Heartbeat {m.name}: no ping since {last}"
        started = f" A run started at {m.last_start_at.isoformat(timespec='seconds')} and did not end." if m.last_start_at else ""
        details = f"Expected {due.describe(schedule_of(m))}; the grace is over.{started}"
    target = target_for_service(session, m.service_id, SOURCE)
    ingest(session, target, IntakeEvent(action="trigger", summary=summary, dedup_key=dedup_key(m.id), details=details,
                                        severity="critical"), _payload(m, "fail" if failed else "late"), now)


def _resolve(session: Session, m: HeartbeatMonitor, now: datetime) -> None:
    target = target_for_service(session, m.service_id, SOURCE)
    ingest(session, target, IntakeEvent(action="resolve", summary=f"Heartbeat {m.name}: pings resumed",
                                        dedup_key=dedup_key(m.id)), _payload(m, "resumed"), now)


def _payload(m: HeartbeatMonitor, what: str) -> dict[str, Any]:
    return {"heartbeat": m.id, "name": m.name, "event": what,
            "last_ping_at": m.last_ping_at.isoformat() if m.last_ping_at else None}

