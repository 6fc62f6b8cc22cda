"""A look takes at most a batch of due steps. When a look prompted by a commit (or by the next step
falling due) found a full batch, more are waiting: a storm's M+30 for 1,000 incidents. The engine
looks again at once, as it does after a tick that found a full batch, instead of waiting for the
next poll (or, in a storm, for STORM_GAP): the second batch of a 1,000-step burst went out 0.2 s
after the first."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from app import incidents
from app.engine.loop import BATCH
from app.intake.base import IntakeEvent
from app.intake.keys import lookup
from app.models import StepFiring


def fired(database) -> int:
    with database.session() as s:
        return s.execute(select(func.count()).select_from(StepFiring)).scalar_one()


def test_a_look_that_found_a_full_batch_is_followed_by_the_next_without_waiting_for_a_poll(
        world, engine, clock, database) -> None:
    engine.poll = 120.0  # no tick comes to the rescue while the test lasts
    stop = threading.Event()
    runner = threading.Thread(target=engine.run, args=(stop,), daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while engine._looked_at is None and time.monotonic() < deadline:  # its first tick: nothing due
            time.sleep(0.01)
        n = 2 * BATCH + 50
        with database.transaction() as s:
            target = lookup(s, world.keys["acme_generic"])
            for i in range(n):
                incidents.trigger(s, target, IntakeEvent("trigger", f"Disk full on web-{i}", f"web-{i}"), f"web-{i}",
                                  clock.now())
        engine._nudge()  # what the commit's NOTIFY does: one look, which finds a full batch
        while fired(database) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fired(database) == n  # all three batches, long before the next poll
    finally:
        stop.set()
        engine.wake.set()
        runner.join(30)
