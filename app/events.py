"""The write side of the event bus: events are rows, written in the transaction that changed
the state they describe, so an event exists if and only if its change committed.

Ordering matters: followers read `id > last_seen`. On PostgreSQL ids come from a sequence at
INSERT time, so a transaction that took id 10 could commit after one that took id 11, and a
follower that had already read 11 would never see 10. We therefore insert the events at the very
end of the transaction (before_commit) under a transaction-scoped advisory lock: event-writing
transactions commit one at a time, in id order, and the serialised section is only the insert
and the commit. SQLite already serialises writers (BEGIN IMMEDIATE).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.orm import Session

from .db import EVENTS_COMMITTED
from .models import Event

_PENDING = "vigil_pending_events"
_ADVISORY_KEY = 0x56494749  # "VIGI"
PG_CHANNEL = "vigil_events"
_LOCK_AND_NOTIFY = text("SELECT pg_advisory_xact_lock(:k), pg_notify(:c, '')")


def publish(
    session: Session,
    kind: str,
    *,
    now: datetime,
    incident_id: int | None = None,
    client_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    session.info.setdefault(_PENDING, []).append(
        {"at": now, "kind": kind, "incident_id": incident_id, "client_id": client_id, "data": data or {}}
    )


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    if session.get_bind().dialect.name == "postgresql":
        # The NOTIFY is delivered to LISTENers at commit, and dropped on rollback.
        session.execute(_LOCK_AND_NOTIFY, {"k": _ADVISORY_KEY, "c": PG_CHANNEL})
    session.flush()  # the changes the events describe go first
    session.connection().execute(insert(Event.__table__), pending)
    session.info[EVENTS_COMMITTED] = True


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(EVENTS_COMMITTED, None)
