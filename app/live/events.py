"""The write side of the event bus: events are rows, written in the transaction that changed
the state they describe, so an event exists if and only if its change committed.

Ordering matters: followers read `id > last_seen`, so ids must become visible in increasing
order. On PostgreSQL a deferred trigger renumbers a transaction's events inside its COMMIT, one
commit at a time (see models.core.EVENTS_ORDER_FUNCTION); SQLite already serialises writers
(BEGIN IMMEDIATE). Events are inserted at the very end of the transaction (before_commit), after
the changes they describe.

Other append-only rows that nothing reads back before the commit (a raw alert, the timeline
entries of intake and of the engine's pages) can ride along: `append_at_commit` queues them, and
they are written with the events. On PostgreSQL that is a single statement (each table's INSERT a
CTE of the last one), so an alert costs one round trip for all its rows instead of one per row;
in a storm, round trips are most of the CPU a web worker spends on an alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, bindparam, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .. import bulk
from ..db import EVENTS_COMMITTED
from ..models import Event

_PENDING = "vigil_pending_events"
_ROWS = "vigil_rows_at_commit"


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


def append_at_commit(session: Session, table: Table, row: dict[str, Any]) -> None:
    """Insert `row` into `table` when the transaction commits, with its events. Only for
    append-only rows nothing in the transaction reads back; rows with the same keys batch."""
    session.info.setdefault(_ROWS, {}).setdefault((table, tuple(row)), []).append(row)


def _take_queued_rows(session: Session) -> list[tuple[Table, list[dict[str, Any]]]]:
    return [(table, batch) for (table, _), batch in session.info.pop(_ROWS, {}).items()]


def write_queued_rows(session: Session) -> None:
    """Write the rows queued by append_at_commit now (not the events): for a writer about to
    insert a row that must come after them."""
    if groups := _take_queued_rows(session):
        insert_rows(session.connection(), groups)


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    groups = _take_queued_rows(session)
    if not pending and not groups:
        return
    session.flush()  # the changes the rows describe go first
    if pending:
        groups.append((Event.__table__, pending))
        session.info[EVENTS_COMMITTED] = True
    insert_rows(session.connection(), groups)


def insert_rows(conn: Connection, groups: Sequence[tuple[Table, list[dict[str, Any]]]]) -> None:
    """Insert batches of rows (each batch: one table, the same keys in every row). A few single
    rows (an alert's) go as one statement on PostgreSQL; bigger batches (an engine chunk's) as
    one statement per table (bulk.insert_rows: a statement with a parameter per value would cost
    more to build and bind than the round trips it saves)."""
    if conn.dialect.name != "postgresql" or len(groups) == 1 or any(len(batch) > 1 for _, batch in groups):
        for table, batch in groups:
            bulk.insert_rows(conn, table, batch)
        return
    shape = tuple((table, len(batch), tuple(batch[0])) for table, batch in groups)
    params = {f"r{g}_{i}_{k}": v for g, (_, batch) in enumerate(groups) for i, row in enumerate(batch)
              for k, v in row.items()}
    conn.execute(_combined_insert(shape), params)


@lru_cache(maxsize=128)
def _combined_insert(shape: tuple[tuple[Table, int, tuple[str, ...]], ...]) -> Any:
    """One INSERT statement for several tables: every batch but the last is a data-modifying CTE
    of the last one's INSERT (PostgreSQL runs them all). Written as text once per shape: SQLAlchemy
    would compile a multi-VALUES INSERT with CTEs afresh on every call (~2 ms here)."""
    binds, parts = [], []
    for g, (table, n, keys) in enumerate(shape):
        rows = []
        for i in range(n):
            names = [f"r{g}_{i}_{k}" for k in keys]
            binds += [bindparam(name, type_=table.c[k].type) for name, k in zip(names, keys, strict=True)]
            rows.append("(" + ", ".join(f":{name}" for name in names) + ")")
        columns = ", ".join(f'"{k}"' for k in keys)
        parts.append(f'INSERT INTO "{table.name}" ({columns}) VALUES {", ".join(rows)}')
    *ctes, last = parts
    with_ = "WITH " + ", ".join(f"w{g} AS ({sql})" for g, sql in enumerate(ctes)) + " " if ctes else ""
    return text(with_ + last).bindparams(*binds)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_ROWS, None)
    session.info.pop(EVENTS_COMMITTED, None)
