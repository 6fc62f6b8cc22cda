"""psycopg prepares a statement on a connection at its fifth run, and forgets all it prepared there
at a rollback; closing a read rolls back. The engine's looks (several a second in a storm) and
the event follower's reads end with a commit instead (Database.reading / looking), so the pooled
connections keep the statements of a storm prepared, and PostgreSQL stops planning them afresh.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import bindparam, select, text

from app.db import Database
from app.models import Incident

_DUE = select(Incident.id).where(Incident.status == "triggered", Incident.next_escalation_at <= bindparam("now"))


def prepared(conn) -> list[str]:
    return list(conn.execute(text("SELECT statement FROM pg_prepared_statements")).scalars())


def test_a_look_ends_without_forgetting_what_its_connection_prepared(postgres: Database) -> None:
    now = datetime.now(UTC)
    with postgres.looking() as conn:  # the pool's first connection
        for _ in range(6):
            conn.execute(_DUE, {"now": now})
    with postgres.looking() as conn:  # the same one, back from the pool
        assert any("next_escalation_at <=" in s for s in prepared(conn))


def test_a_read_session_ends_without_forgetting_what_its_connection_prepared(postgres: Database) -> None:
    now = datetime.now(UTC)
    with postgres.reading() as s:
        for _ in range(6):
            s.execute(_DUE, {"now": now})
    with postgres.reading() as s:
        assert any("next_escalation_at <=" in st for st in prepared(s.connection()))


def test_a_read_that_fails_still_rolls_back(postgres: Database) -> None:
    try:
        with postgres.looking() as conn:
            conn.execute(text("SELECT 1"))
            raise RuntimeError("the reader's own error")
    except RuntimeError:
        pass
    with postgres.looking() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
