"""SQLite in a gevent worker: a request that waits for the write lock must let the greenlet that
holds it run. (SQLite's own busy handler sleeps inside C, which froze the whole worker, the
holder included, until the 30 s timeout: a live page waited, then failed with "locked".)

Run in a child process, because gevent must patch the standard library before anything else."""

import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
from gevent import monkey; monkey.patch_all()
import sys, time, tempfile, gevent
sys.path.insert(0, sys.argv[1])
from sqlalchemy import text
from app.db import Database
db = Database(f"sqlite:///{tempfile.mkdtemp()}/l.db")
with db.engine.begin() as c:
    c.execute(text("CREATE TABLE t (x int)"))
order = []
def holder():
    with db.transaction() as s:
        s.execute(text("INSERT INTO t VALUES (1)"))
        gevent.sleep(0.5)  # a greenlet switch with the write lock held (e.g. a socket write)
        order.append("holder ran on")
    order.append("holder committed")
def waiter():
    order.append("waiter asks for the lock")
    with db.transaction() as s:
        s.execute(text("INSERT INTO t VALUES (2)"))
    order.append("waiter wrote")
g1 = gevent.spawn(holder); gevent.sleep(0.05); g2 = gevent.spawn(waiter)
gevent.joinall([g1, g2], timeout=20)
with db.engine.connect() as c:
    rows = c.execute(text("SELECT count(*) FROM t")).scalar()
print("|".join(order), rows)
"""


def test_a_greenlet_waiting_for_the_write_lock_lets_its_holder_finish() -> None:
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(root)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    order, rows = out.stdout.rsplit(" ", 1)
    # While the waiter waited, the holder went on and committed (a frozen worker would have run
    # nothing until SQLite's timeout, and the waiter would have failed with "locked").
    assert order.split("|") == ["waiter asks for the lock", "holder ran on", "holder committed", "waiter wrote"]
    assert rows.strip() == "2"
