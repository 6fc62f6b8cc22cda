"""SQLite queues no writer: a process that writes back to back (the engine in a storm) would take
the lock again the moment it let go. A writer refused the lock says so on a board beside the
database (db.WaitBoard); the holder sees it, and its own refusals do not count."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from app.db import Database, WaitBoard

ROOT = Path(__file__).resolve().parents[1]


def test_a_writer_refused_in_another_process_is_seen_and_forgotten_soon_after(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'board.db'}"
    db = Database(url)
    if db.waiters is None:
        pytest.skip("no board: the database file's directory is not writable")
    with db.transaction() as s:
        s.execute(text("CREATE TABLE t (x INTEGER)"))
    assert not db.waiters.someone_else_waiting()

    writer = f"""
import sys
from sqlalchemy import text
from app.db import Database, WaitBoard
db = Database({url!r})
with db.transaction() as s:
    s.execute(text("INSERT INTO t VALUES (2)"))
print("written", flush=True)
"""
    with db.transaction() as s:
        s.execute(text("INSERT INTO t VALUES (1)"))  # this transaction holds the write lock
        child = subprocess.Popen([sys.executable, "-c", writer], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not db.waiters.someone_else_waiting():
            assert time.monotonic() < deadline, "the other process never said it was waiting"
            assert child.poll() is None, "the other process wrote while we held the lock"
            time.sleep(0.001)
    out, _ = child.communicate(timeout=30)
    assert out.strip() == "written"
    time.sleep(2 * WaitBoard.RECENT_NS / 1e9)
    assert not db.waiters.someone_else_waiting()  # nobody waits any more

    db.waiters.mark()  # our own refusal: not someone else's
    assert not db.waiters.someone_else_waiting()
    with db.session() as s:
        assert sorted(s.execute(text("SELECT x FROM t")).scalars()) == [1, 2]
    db.dispose()
