"""Between two looks the engine sleeps until the next look or, sooner, until the next escalation
step falls due (as known at its last look): a storm's M+30 is fired when it falls due, not up to
a poll later. The wait is computed from the injected clock, so the test travels in time."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select

from app.models import Incident
from tests.helpers import post_alert


def next_step(database) -> object:
    with database.session() as s:
        return s.execute(select(Incident.next_escalation_at)).scalar_one()


def test_the_engine_sleeps_until_the_next_step_is_due_when_that_comes_before_its_next_poll(
        client, world, engine, clock, database) -> None:
    assert post_alert(client, world.keys["acme_generic"]).status_code == 202
    engine.tick()  # M+0 fires; the next step is at M+30
    due = next_step(database)
    assert due == clock.now() + timedelta(minutes=30)

    clock.set(due - timedelta(milliseconds=50))
    engine.tick()  # nothing due yet: the engine learns when the next step is
    assert abs(engine._until_next_look(time.monotonic()) - 0.05) < 0.001
    assert not engine._step_fell_due()
    clock.set(due)  # it wakes then, and the step has fallen due: it fires it without a tick
    assert engine._step_fell_due()
    assert engine._fire(clock.now())[0] == 1
    assert not engine._step_fell_due() and next_step(database) == due + timedelta(minutes=30)

    clock.set(due + timedelta(minutes=30) - timedelta(seconds=5))  # further than a poll: the poll's wait
    engine.tick()
    wait = engine._until_next_look(time.monotonic())
    assert engine.poll - 0.05 < wait <= engine.poll


def test_a_step_already_due_that_was_not_fired_does_not_make_the_engine_spin(client, world, engine, clock, database) -> None:
    assert post_alert(client, world.keys["acme_generic"]).status_code == 202
    engine.tick()
    due = next_step(database)
    clock.set(due - timedelta(seconds=1))
    engine.tick()  # the engine last looked a second before the step
    clock.set(due + timedelta(seconds=1))  # its due time has passed, and nobody looked since
    wait = engine._until_next_look(time.monotonic())
    assert engine.poll - 0.05 < wait <= engine.poll
    assert engine._step_fell_due()  # so it is fired at once...
    with database.transaction() as s:  # ...but say that firing fails: the step stays due
        s.execute(select(Incident)).scalar_one().next_escalation_at = due
    engine._next_due, engine._looked_at = due, clock.now()  # what that failed look would leave
    assert not engine._step_fell_due()  # no spinning on it: the next tick tries again
