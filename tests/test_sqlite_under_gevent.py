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
def holder():
    with db.transaction() as s:
        s.execute(text("INSERT INTO t VALUES (1)"))
        gevent.sleep(0.5)  # a greenlet switch with the write lock held (e.g. a socket write)
waited = []
def waiter():
    t0 = time.monotonic()
    with db.transaction() as s:
        s.execute(text("INSERT INTO t VALUES (2)"))
    waited.append(time.monotonic() - t0)
g1 = gevent.spawn(holder); gevent.sleep(0.05); g2 = gevent.spawn(waiter)
gevent.joinall([g1, g2], timeout=20)
with db.engine.connect() as c:
    rows = c.execute(text("SELECT count(*) FROM t")).scalar()
print(f"{waited[0]:.3f} {rows}" if waited else "stuck")
"""


def test_a_greenlet_waiting_for_the_write_lock_lets_its_holder_finish() -> None:
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(root)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    waited, rows = out.stdout.split()
    assert 0.3 < float(waited) < 5.0 and rows == "2"
