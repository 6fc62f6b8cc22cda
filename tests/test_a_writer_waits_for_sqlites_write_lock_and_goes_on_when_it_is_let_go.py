"""On SQLite a writer takes the write lock at BEGIN (BEGIN IMMEDIATE), waiting for it in Python
while another process holds it (db._configure_sqlite): it goes on as soon as the lock is let go,
and when the lock is held past the wait it fails with the database's own error, as SQLAlchemy
reports it."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app import db as dbmod
from app.db import Database
from app.models import Setting


@pytest.fixture
def sqlite_db(sqlite_template, tmp_path):
    path = tmp_path / "lock.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database, str(path)
    database.dispose()


def write(database: Database, key: str) -> None:
    from datetime import UTC, datetime

    with database.transaction() as s:
        s.add(Setting(key=key, value="v", created_at=datetime.now(UTC)))


def test_a_writer_waits_while_another_holds_the_lock_and_writes_once_it_is_let_go(sqlite_db) -> None:
    database, path = sqlite_db
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    done = threading.Event()
    writer = threading.Thread(target=lambda: (write(database, "waited"), done.set()))
    writer.start()
    try:
        assert not done.wait(0.3)  # still waiting for the lock
    finally:
        holder.execute("COMMIT")
        holder.close()
    writer.join(10)
    assert done.is_set()
    with database.session() as s:
        assert s.execute(select(Setting.key)).scalars().all() == ["waited"]


def test_a_writer_held_off_past_the_wait_fails_with_the_databases_error(sqlite_db, monkeypatch) -> None:
    database, path = sqlite_db
    monkeypatch.setattr(dbmod, "LOCK_WAIT_SECONDS", 0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="locked"):
            write(database, "refused")
        assert time.monotonic() - started >= 0.2  # it waited before giving up
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    write(database, "later")  # the lock let go, the next write goes through
    with database.session() as s:
        assert s.execute(select(Setting.key)).scalars().all() == ["later"]
