"""Set-wise writes: many rows of one table inserted, or updated by id, in one statement.

On PostgreSQL an executemany is pipelined, but the server still parses, plans and runs one
statement per row, and psycopg builds each row's message in Python: in an alert storm that is
most of what the engine and PostgreSQL spend on a chunk's pages, timeline lines and events. Here
the rows go as one array per column (`unnest`), in a statement whose text depends only on the
table and the columns, so it is built once and the server prepares it once, whatever the number
of rows. Values travel as text and are cast to the column's type by the server.

On SQLite (in-process, no round trips) an executemany is already the cheap way: it is used as is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Table, bindparam, insert, text, update
from sqlalchemy.engine import Connection


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert these rows (every row with the same keys) in one statement."""
    if not rows:
        return
    if conn.dialect.name != "postgresql" or len(rows) == 1:
        conn.execute(insert(table), list(rows))
        return
    keys = tuple(rows[0])
    conn.execute(_insert_sql(table, keys), _arrays(conn, table, keys, rows))


def update_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], key: str = "id") -> None:
    """Set, in each row of `table` whose `key` is the row's, the row's other values (every row
    with the same keys): one statement. Of two rows with the same key, the later wins."""
    if not rows:
        return
    rows = list({row[key]: row for row in rows}.values())
    keys = tuple(rows[0])
    if conn.dialect.name != "postgresql" or len(rows) == 1:
        conn.execute(_update_each(table, keys, key), [{f"b_{k}": v for k, v in row.items()} for row in rows])
        return
    conn.execute(_update_sql(table, keys, key), _arrays(conn, table, keys, rows))


def _arrays(conn: Connection, table: Table, keys: tuple[str, ...], rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    convert = _converters(table, keys, conn.dialect)
    return {f"a{i}": [None if row[k] is None else f(row[k]) for row in rows] for i, (k, f) in enumerate(convert)}


def _converters(table: Table, keys: tuple[str, ...], dialect: Any) -> list[tuple[str, Callable[[Any], str]]]:
    out = []
    for k in keys:
        column_type = table.c[k].type
        bind = column_type.bind_processor(dialect) if not isinstance(column_type, JSON) else None
        out.append((k, _as_text(column_type, bind)))
    return out


def _as_text(column_type: Any, bind: Callable[[Any], Any] | None) -> Callable[[Any], str]:
    if isinstance(column_type, JSON):
        return lambda v: json.dumps(v)

    def convert(value: Any) -> str:
        if bind is not None:
            value = bind(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime | date):
            return value.isoformat()
        return str(value)

    return convert


def _sql_type(table: Table, k: str) -> str:
    from sqlalchemy.dialects import postgresql

    return table.c[k].type.compile(dialect=postgresql.dialect())


@lru_cache(maxsize=64)
def _insert_sql(table: Table, keys: tuple[str, ...]) -> Any:
    columns = ", ".join(f'"{k}"' for k in keys)
    arrays = ", ".join(f"CAST(:a{i} AS TEXT[])" for i in range(len(keys)))
    values = ", ".join(f"CAST(u.c{i} AS {_sql_type(table, k)})" for i, k in enumerate(keys))
    names = ", ".join(f"c{i}" for i in range(len(keys)))
    return text(f'INSERT INTO "{table.name}" ({columns}) SELECT {values} FROM unnest({arrays}) AS u({names})')


@lru_cache(maxsize=64)
def _update_sql(table: Table, keys: tuple[str, ...], key: str) -> Any:
    arrays = ", ".join(f"CAST(:a{i} AS TEXT[])" for i in range(len(keys)))
    names = ", ".join(f"c{i}" for i in range(len(keys)))
    sets = ", ".join(f'"{k}" = CAST(u.c{i} AS {_sql_type(table, k)})' for i, k in enumerate(keys) if k != key)
    at = keys.index(key)
    return text(f'UPDATE "{table.name}" AS t SET {sets} FROM unnest({arrays}) AS u({names}) '
                f'WHERE t."{key}" = CAST(u.c{at} AS {_sql_type(table, key)})')


@lru_cache(maxsize=64)
def _update_each(table: Table, keys: tuple[str, ...], key: str) -> Any:
    return (update(table).where(table.c[key] == bindparam(f"b_{key}"))
            .values({k: bindparam(f"b_{k}") for k in keys if k != key}))
