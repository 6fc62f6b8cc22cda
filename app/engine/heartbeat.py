"""The engines' heartbeats: a running engine writes its row every HEARTBEAT_EVERY, and one silent
for DEAD_AFTER is gone (its pages go back). Read here by /healthz and the pages, without loading
the engine."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from ..models import EngineHeartbeat

HEARTBEAT_EVERY = timedelta(seconds=2)
DEAD_AFTER = timedelta(seconds=10)  # five missed heartbeats: that engine is gone


def beat(session: Session, name: str, started_at: datetime, now: datetime) -> None:
    """Engine `name` is alive at `now` (its row is written at its first beat)."""
    row = session.get(EngineHeartbeat, name)
    if row is None:
        session.add(EngineHeartbeat(name=name, started_at=started_at, beat_at=now,
                                    pid=os.getpid(), host=socket.gethostname()))
    else:
        row.beat_at = now


# The names of the engines that beat since `dead_before` (now - DEAD_AFTER): for a subquery.
_H = EngineHeartbeat.__table__
ALIVE = select(_H.c.name).where(_H.c.beat_at >= bindparam("dead_before"))


def engine_status(session: Session, now: datetime, stale_seconds: int) -> tuple[bool, datetime | None]:
    last = session.execute(select(func.max(EngineHeartbeat.beat_at))).scalar_one_or_none()
    if last is not None and last.tzinfo is None:  # func.max bypasses the column type on SQLite
        last = last.replace(tzinfo=UTC)
    return (last is not None and now - last <= timedelta(seconds=stale_seconds)), last

