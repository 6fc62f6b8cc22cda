"""Set-wise writes: many rows of one table inserted, or updated by id, in one statement.

On PostgreSQL an executemany is pipelined, but the server still parses, plans and runs one
statement per row, and psycopg builds each row's message in Python: in an alert storm that is
most of what the engine and PostgreSQL spend on a chunk's pages, timeline lines and events. Here
the rows go as one JSON array (`json_to_recordset`, typed by the columns), in a statement whose
text depends only on the table and the columns, so it is built once and the server prepares it
once, whatever the number of rows; orjson writes the parameter.

On SQLite (in-process, no round trips) an executemany is already the cheap way, but SQLAlchemy's
builds a dictionary of processed parameters per row, which in an alert storm was a sixth of the
engine's time: the rows go to the driver's executemany as tuples, each value through the same
bind processor SQLAlchemy would use (a UTCDateTime's, a JSON column's serializer), in a statement
compiled once per table and columns.

Reads by a set of ids (`among`) ask PostgreSQL with one array parameter instead of a list of
parameters, one per id: the statement's text is the same whatever the number of ids, so psycopg
prepares it once and the server stops parsing and planning it afresh for every chunk.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Boolean, Integer, Table, any_, bindparam, insert, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from .db import json_text


class among(ColumnElement[bool]):  # noqa: N801 (used like a function: among(t.c.id, "ids"))
    """`column IN (:name)`, the ids given as a list parameter when the statement runs: an
    expanding list on SQLite, `column = ANY(:name)` with one integer array on PostgreSQL."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a comparison: no "= 1" after it where booleans are integers
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement), ("name", InternalTraversal.dp_string)]

    def __init__(self, column: Any, name: str = "ids") -> None:
        self.column, self.name = column, name


@compiles(among)
def _among(element: among, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)


@compiles(among, "postgresql")
def _among_pg(element: among, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column == any_(bindparam(element.name, type_=ARRAY(Integer))), **kw)


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert these rows (every row with the same keys) in one statement."""
    if not rows:
        return
    if conn.dialect.name == "sqlite" and (plain := _sqlite_insert(table, tuple(rows[0]), conn.dialect)) is not None:
        sql, get, procs = plain
        conn.exec_driver_sql(sql, _parameters(rows, get, procs))
        return
    if conn.dialect.name != "postgresql" or len(rows) == 1:
        conn.execute(insert(table), list(rows))
        return
    conn.execute(_insert_sql(table, tuple(rows[0])), {"rows": as_json(rows)})


def insert_returning(conn: Connection, table: Table, rows: Sequence[dict[str, Any]],
                     returning: tuple[str, ...]) -> list[Any]:
    """Insert these rows in one statement and return these columns of each, in no given order
    (match them to the rows by a unique key)."""
    if not rows:
        return []
    if conn.dialect.name == "postgresql" and len(rows) > 1:
        return list(conn.execute(_insert_sql(table, tuple(rows[0]), returning), {"rows": as_json(rows)}))
    if conn.dialect.name == "sqlite" and (plain := _sqlite_insert(table, tuple(rows[0]), conn.dialect)) is not None:
        # One multi-row INSERT ... RETURNING per 500 rows (SQLite allows 32,766 parameters).
        sql, get, procs = plain
        head, values = sql.split(" VALUES ")
        made, read = _returned(table, returning, conn.dialect)
        out = []
        for start in range(0, len(rows), 500):
            batch = rows[start:start + 500]
            flat = [v for row in _parameters(batch, get, procs) for v in row]
            text_ = f"{head} VALUES {', '.join([values] * len(batch))} RETURNING {', '.join(returning)}"
            out += [made(*[v if p is None else p(v) for v, p in zip(r, read, strict=True)])
                    for r in conn.exec_driver_sql(text_, tuple(flat))]
        return out
    return list(conn.execute(insert(table).returning(*(table.c[c] for c in returning)), list(rows)))


def update_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], key: str = "id") -> None:
    """Set, in each row of `table` whose `key` is the row's, the row's other values (every row
    with the same keys): one statement. Of two rows with the same key, the later wins."""
    if not rows:
        return
    rows = list({row[key]: row for row in rows}.values())
    keys = tuple(rows[0])
    if conn.dialect.name == "sqlite" and (plain := _sqlite_update(table, keys, key, conn.dialect)) is not None:
        sql, get, procs = plain
        conn.exec_driver_sql(sql, _parameters(rows, get, procs))
        return
    if conn.dialect.name != "postgresql" or len(rows) == 1:
        conn.execute(_update_each(table, keys, key), [{f"b_{k}": v for k, v in row.items()} for row in rows])
        return
    conn.execute(_update_sql(table, keys, key), {"rows": as_json(rows)})


def as_json(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as one JSON array (orjson: far cheaper than binding value by value). A chunk's
    rows carry the same few times again and again (its `now`): each is written out once."""
    memo: dict[Any, Any] = {}

    def plain(value: Any) -> Any:
        try:
            return memo[value]
        except KeyError:
            memo[value] = out = _plain(value)
            return out

    return json_text(rows, default=plain)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):  # stored as naive UTC (db.UTCDateTime)
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be written set-wise")


def record(table: Table, keys: tuple[str, ...]) -> str:
    """The typed columns of json_to_recordset for these keys."""
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()
    return ", ".join(f'"{k}" {table.c[k].type.compile(dialect=dialect)}' for k in keys)


@lru_cache(maxsize=256)
def _sqlite_insert(table: Table, keys: tuple[str, ...], dialect: Any) -> tuple[str, Any, list[Any]] | None:
    """The INSERT for these columns in the driver's own terms, and how to turn a row into its
    parameters: their keys in the statement's order and each one's bind processor. None when a
    column left out has a default that SQLAlchemy computes in Python (then it does the insert)."""
    if any(c.default is not None for c in table.c if c.name not in keys):
        return None
    compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
    order = compiled.positiontup or []
    if sorted(order) != sorted(keys):
        return None
    procs = [table.c[k].type._cached_bind_processor(dialect) for k in order]
    return str(compiled), (itemgetter(*order) if len(order) > 1 else lambda row: (row[order[0]],)), procs


def _parameters(rows: Sequence[dict[str, Any]], get: Any, procs: list[Any]) -> list[tuple[Any, ...]]:
    """Each row's values in the statement's order, each through its bind processor."""
    return [tuple([v if p is None else p(v) for v, p in zip(get(row), procs, strict=True)]) for row in rows]


@lru_cache(maxsize=256)
def _sqlite_update(table: Table, keys: tuple[str, ...], key: str, dialect: Any) -> tuple[str, Any, list[Any]] | None:
    """_update_each in the driver's own terms (see _sqlite_insert). None when SQLAlchemy would
    set more than the given columns (a Python-side onupdate): then it does the update."""
    compiled = _update_each(table, keys, key).compile(dialect=dialect)
    order = [name.removeprefix("b_") for name in compiled.positiontup or []]
    if len(order) < 2 or sorted(order) != sorted(keys):
        return None
    if any(c.onupdate is not None for c in table.c if c.name not in keys):
        return None
    procs = [table.c[k].type._cached_bind_processor(dialect) for k in order]
    return str(compiled), itemgetter(*order), procs


@lru_cache(maxsize=64)
def _returned(table: Table, returning: tuple[str, ...], dialect: Any) -> tuple[Any, list[Any]]:
    """A row type for these returned columns, and each one's result processor."""
    return (namedtuple(f"{table.name}_returned", returning),  # noqa: PYI024 (a row, read by name)
            [table.c[c].type._cached_result_processor(dialect, None) for c in returning])


@lru_cache(maxsize=64)
def _insert_sql(table: Table, keys: tuple[str, ...], returning: tuple[str, ...] = ()) -> Any:
    columns = ", ".join(f'"{k}"' for k in keys)
    sql = text(f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} '
               f"FROM json_to_recordset(CAST(:rows AS JSON)) AS u({record(table, keys)})"
               + (" RETURNING " + ", ".join(f'"{c}"' for c in returning) if returning else ""))
    return sql.columns(*(table.c[c] for c in returning)) if returning else sql


@lru_cache(maxsize=64)
def _update_sql(table: Table, keys: tuple[str, ...], key: str) -> Any:
    # The rows to update are found by their keys as an array (the index on the key, whatever the
    # table's size), then matched to their values. Joined to json_to_recordset alone, which
    # PostgreSQL takes for 100 rows, a table of a few thousand rows was read whole and hashed
    # for every chunk (a plan kept by the prepared statement while the table grew).
    sets = ", ".join(f'"{k}" = u."{k}"' for k in keys if k != key)
    return text(f"WITH u AS (SELECT * FROM json_to_recordset(CAST(:rows AS JSON)) AS u({record(table, keys)})) "
                f'UPDATE "{table.name}" AS t SET {sets} FROM u '
                f'WHERE t."{key}" = u."{key}" AND t."{key}" = ANY(ARRAY(SELECT "{key}" FROM u))')


@lru_cache(maxsize=64)
def _update_each(table: Table, keys: tuple[str, ...], key: str) -> Any:
    return (update(table).where(table.c[key] == bindparam(f"b_{key}"))
            .values({k: bindparam(f"b_{k}") for k in keys if k != key}))
