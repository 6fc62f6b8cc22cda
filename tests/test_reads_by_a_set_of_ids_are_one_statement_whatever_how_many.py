"""The engine reads and claims by sets of ids (a chunk's incidents, their pages). On PostgreSQL
the ids go as one array parameter (bulk.among): the statement's text is the same for 1 id or 40,
so psycopg prepares it once, where an IN list of one parameter per id was a new statement for
every size, parsed and planned afresh by the server each time. SQLite keeps its IN list."""

from __future__ import annotations

from sqlalchemy import event, select

from app import bulk, incidents
from app.models import Incident
from tests.helpers import post_alert


def test_a_read_by_ids_finds_exactly_those_ids_on_both_databases(client, world, database) -> None:
    for dedup in "abcde":
        assert post_alert(client, world.keys["acme_generic"], dedup=dedup).status_code == 202
    i = Incident.__table__
    query = select(i.c.id).where(bulk.among(i.c.id)).order_by(i.c.id)
    with database.session() as s:
        every = s.execute(select(i.c.id).order_by(i.c.id)).scalars().all()
        conn = s.connection()
        assert conn.execute(query, {"ids": every[1:4]}).scalars().all() == every[1:4]
        assert conn.execute(query, {"ids": [every[0]]}).scalars().all() == every[:1]
        assert conn.execute(query, {"ids": []}).scalars().all() == []
        assert conn.execute(query, {"ids": [every[-1] + 1000]}).scalars().all() == []


def test_snapshots_of_1_3_and_5_incidents_are_one_statement_text_on_postgresql(client, world, database) -> None:
    for dedup in "abcde":
        assert post_alert(client, world.keys["acme_generic"], dedup=dedup).status_code == 202
    texts: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        texts.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        with database.session() as s:
            ids = s.execute(select(Incident.id).order_by(Incident.id)).scalars().all()
            texts.clear()
            sizes = [len(incidents.snapshots(s, ids[:n])) for n in (1, 3, 5)]
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    assert sizes == [1, 3, 5] and len(texts) == 3
    if database.is_postgres:
        assert len(set(texts)) == 1 and "ANY" in texts[0]
    else:  # SQLite: an IN list, one placeholder an id
        assert [t.count("?") for t in texts] == [1, 3, 5]
