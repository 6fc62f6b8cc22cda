"""Group commit: in a storm, intake's alerts from concurrent requests share one transaction.

Each test holds the writer inside its first batch (a step that waits on a gate) so that the
callers arriving meanwhile queue up; releasing the gate lets the next batch take them all.
Real threads, a real database (SQLite, or PostgreSQL in the PostgreSQL pass).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app import incidents
from app.batching import Busy, GroupCommit
from app.db import Database
from app.intake.base import IntakeEvent
from app.intake.keys import lookup
from app.models import Alert, Incident
from tests.helpers import BACKEND


class Callers:
    """Callers of one GroupCommit, each in its own thread."""

    def __init__(self, writer: GroupCommit) -> None:
        self.writer = writer
        self.threads: list[threading.Thread] = []
        self.results: dict[str, Any] = {}

    def call(self, name: str, steps: list[Any], *, queued: int | None = None) -> None:
        def run() -> None:
            try:
                self.results[name] = self.writer.run(steps)
            except Exception as e:  # noqa: BLE001 - the test inspects it
                self.results[name] = e

        t = threading.Thread(target=run)
        self.threads.append(t)
        t.start()
        if queued is not None:  # wait until this caller is in the queue, so arrival order is known
            deadline = time.monotonic() + 10
            while self.writer.waiting() < queued:
                assert time.monotonic() < deadline, "the caller never queued"
                time.sleep(0.005)

    def join(self) -> dict[str, Any]:
        for t in self.threads:
            t.join(30)
        return self.results


def gated(step: Callable[[Session], Any], gate: threading.Event, entered: threading.Event) -> Callable[[Session], Any]:
    def run(session: Session) -> Any:
        out = step(session)
        entered.set()
        assert gate.wait(20)
        return out

    return run


def alert(target: Any, dedup: str, now: Any, action: str = "trigger") -> list[Any]:
    return incidents.ingest_steps(target, [IntakeEvent(action, f"Disk full ({dedup})", dedup)], {"dedup": dedup}, now)


def hold_the_writer(callers: Callers, target: Any, now: Any, dedup: str = "first") -> threading.Event:
    """The first caller writes an alert and then waits inside its transaction until the gate opens."""
    gate, entered = threading.Event(), threading.Event()
    (key, step), = alert(target, dedup, now)
    callers.call("first", [(key, gated(step, gate, entered))])
    assert entered.wait(10)
    return gate


def count_commits(database: Database) -> list[int]:
    commits = [0]

    @event.listens_for(database.engine, "commit")
    def on_commit(conn: Any) -> None:
        commits[0] += 1

    return commits


def test_alerts_that_arrive_while_a_batch_commits_are_all_written_in_the_next_transaction(world, database, clock) -> None:
    with database.session() as s:
        target = lookup(s, world.keys["acme_generic"])
    writer = GroupCommit(database.session)
    commits = count_commits(database)
    callers = Callers(writer)
    gate = hold_the_writer(callers, target, clock.now())
    for i in range(5):
        callers.call(f"c{i}", alert(target, f"disk-{i}", clock.now()), queued=i + 1)
    gate.set()
    results = callers.join()

    assert commits[0] == 2  # the first caller's batch, then one for the five that queued behind it
    assert [r.outcome for name in ("first", "c0", "c1", "c2", "c3", "c4") for r in results[name]] == ["created"] * 6
    assert len({results[f"c{i}"][0].incident_id for i in range(5)}) == 5
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 6
        assert s.scalar(select(func.count()).select_from(Alert)) == 6


def test_a_write_that_fails_fails_only_its_own_caller_and_all_of_its_steps(world, database, clock, caplog) -> None:
    with database.session() as s:
        target = lookup(s, world.keys["acme_generic"])
    writer = GroupCommit(database.session)
    callers = Callers(writer)
    gate = hold_the_writer(callers, target, clock.now())

    def broken(session: Session) -> None:
        raise ValueError("this write cannot be done")

    callers.call("before", alert(target, "disk-a", clock.now()), queued=1)
    callers.call("bad", [*alert(target, "doomed", clock.now()), ((0, "zz"), broken)], queued=2)
    callers.call("after", alert(target, "disk-b", clock.now()), queued=3)
    with caplog.at_level(logging.WARNING, logger="vigil.intake"):
        gate.set()
        results = callers.join()

    assert isinstance(results["bad"], ValueError)
    assert results["before"][0].outcome == results["after"][0].outcome == "created"
    assert "writing each alone" in caplog.text
    with database.session() as s:
        keys = set(s.scalars(select(Incident.dedup_key)))
    assert keys == {"first", "disk-a", "disk-b"}  # nothing of the failed caller, not even its good step


def test_a_new_alert_queued_behind_the_resolve_of_its_key_opens_a_new_incident(world, database, clock) -> None:
    """The resolve changes the incident through the ORM; the trigger after it, in the same
    transaction, must see it resolved, not attach to it."""
    with database.session() as s:
        target = lookup(s, world.keys["acme_generic"])
    writer = GroupCommit(database.session)
    (old,) = writer.run(alert(target, "disk", clock.now()))
    callers = Callers(writer)
    gate = hold_the_writer(callers, target, clock.now())
    callers.call("resolve", alert(target, "disk", clock.now(), "resolve"), queued=1)
    callers.call("trigger", alert(target, "disk", clock.now()), queued=2)
    gate.set()
    results = callers.join()

    assert results["resolve"][0].outcome == "resolved"
    assert results["trigger"][0].outcome == "created"
    assert results["trigger"][0].incident_id != old.incident_id
    with database.session() as s:
        assert s.get(Incident, old.incident_id).status == "resolved"
        assert s.get(Incident, results["trigger"][0].incident_id).status == "triggered"


def test_a_caller_that_waits_too_long_gives_up_and_nothing_of_it_is_written(world, database, clock) -> None:
    with database.session() as s:
        target = lookup(s, world.keys["acme_generic"])
    writer = GroupCommit(database.session, wait_seconds=0.3)
    callers = Callers(writer)
    gate = hold_the_writer(callers, target, clock.now())
    ran: list[str] = []
    callers.call("late", [((0, "x"), lambda s: ran.append("late"))], queued=1)
    callers.threads[-1].join(10)
    assert isinstance(callers.results["late"], Busy)
    gate.set()
    callers.join()
    assert ran == [] and writer.waiting() == 0


@pytest.mark.skipif(BACKEND != "postgres", reason="row locks that could deadlock are PostgreSQL's (VIGIL_TEST_DB=postgres); SQLite has one writer")
def test_two_processes_writing_the_same_keys_in_opposite_orders_do_not_deadlock(world, database, db_url, clock, caplog) -> None:
    """Two web processes, each with its own writer and connections. Their batches repeat the
    same open incidents' alerts, queued in opposite orders: each batch locks the incidents in
    lock-key order, so neither waits for the other in a cycle (PostgreSQL would abort one after a
    second and the batch would fall back to one transaction per caller)."""
    keys = [f"disk-{i}" for i in range(8)]
    with database.session() as s:
        target = lookup(s, world.keys["acme_generic"])
    setup = GroupCommit(database.session)
    for k in keys:
        setup.run(alert(target, k, clock.now()))
    dbs = [Database(db_url) for _ in range(2)]
    writers = [GroupCommit(d.session) for d in dbs]
    sides = [Callers(w) for w in writers]
    gates = [hold_the_writer(side, target, clock.now(), f"first-{n}") for n, side in enumerate(sides)]
    for n, (k, r) in enumerate(zip(keys, reversed(keys), strict=True)):
        sides[0].call(f"a-{k}", alert(target, k, clock.now()), queued=n + 1)
        sides[1].call(f"b-{r}", alert(target, r, clock.now()), queued=n + 1)
    with caplog.at_level(logging.WARNING, logger="vigil.intake"):
        for g in gates:
            g.set()
        results = [side.join() for side in sides]
    for d in dbs:
        d.dispose()

    assert "writing each alone" not in caplog.text
    assert all(r[0].outcome == "attached" for side in results for name, r in side.items() if name != "first")
    with database.session() as s:
        counts = dict(s.execute(select(Incident.dedup_key, Incident.alert_count).where(Incident.dedup_key.in_(keys))).all())
    assert counts == {k: 3 for k in keys}


def test_each_step_sees_the_orm_changes_of_the_steps_before_it(world, database, clock) -> None:
    """Intake's own SQL bypasses the ORM's autoflush; the writer flushes after every step."""
    with database.session() as s:
        target = lookup(s, world.keys["acme_generic"])
    writer = GroupCommit(database.session)
    (old,) = writer.run(alert(target, "disk", clock.now()))

    def close_it(session: Session) -> None:  # an ORM change, left for the flush
        session.get(Incident, old.incident_id).status = "resolved"

    results = writer.run([((target.service_id, "disk"), close_it), *alert(target, "disk", clock.now())])
    assert results[1].outcome == "created" and results[1].incident_id != old.incident_id


@pytest.mark.skipif(BACKEND != "postgres", reason="PostgreSQL's pass (VIGIL_TEST_DB=postgres): on SQLite, a request's "
                    "read of its key waits for the writer's lock, so it never queues while holding a connection")
def test_an_intake_request_waiting_for_its_turn_holds_no_pooled_connection(app, world, database, clock) -> None:
    """Else a storm's waiting requests could hold every connection of the pool, the one the
    writer needs for its next batch included (found by bench/ingest.py: it stalled)."""
    from app.intake.keys import forget_cached_keys

    writer = app.extensions["vigil"].intake
    with database.session() as s:
        target = lookup(s, world.keys["acme_generic"])
    forget_cached_keys()  # so each request reads its key from the database
    callers = Callers(writer)
    gate = hold_the_writer(callers, target, clock.now())
    held_by_writer = database.engine.pool.checkedout()
    answers: list[int] = []

    def post(i: int) -> None:
        r = app.test_client().post(f"/api/v1/intake/generic/{world.keys['acme_generic']}",
                                   json={"summary": f"Disk full on web-{i}", "dedup_key": f"web-{i}"})
        answers.append(r.status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while writer.waiting() < 3:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert database.engine.pool.checkedout() == held_by_writer
    gate.set()
    for t in threads:
        t.join(30)
    callers.join()
    assert answers == [202, 202, 202]


def test_an_alert_that_gets_no_turn_to_write_is_answered_503_with_its_reason_and_not_stored(app, world, database, clock) -> None:
    writer = app.extensions["vigil"].intake = GroupCommit(database.session, wait_seconds=0.2)
    url = f"/api/v1/intake/generic/{world.keys['acme_generic']}"
    assert app.test_client().post(url, json={"summary": "Disk full", "dedup_key": "early"}).status_code == 202
    with database.session() as s:  # the key, cached and marked used: the next request only queues
        target = lookup(s, world.keys["acme_generic"])
    callers = Callers(writer)
    gate = hold_the_writer(callers, target, clock.now())
    r = app.test_client().post(url, json={"summary": "Disk full", "dedup_key": "late"})
    gate.set()
    callers.join()
    assert r.status_code == 503
    assert r.get_json()["error"] == "service_unavailable" and "send the alert again" in r.get_json()["message"]
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Incident).where(Incident.dedup_key == "late")) == 0


def test_a_groups_repeats_of_one_alert_are_one_timeline_line_with_a_count_and_every_payload_is_kept(
        world, database, clock) -> None:
    from app.models import TimelineEntry

    with database.session() as s:
        target = lookup(s, world.keys["acme_generic"])
    writer = GroupCommit(database.session)
    assert writer.run(alert(target, "disk", clock.now()))[0].outcome == "created"
    callers = Callers(writer)
    gate = hold_the_writer(callers, target, clock.now(), dedup="other")
    for i in range(5):  # a storm's repeats of the open "disk", and a new key's first four alerts
        callers.call(f"disk{i}", alert(target, "disk", clock.now()), queued=2 * i + 1)
        callers.call(f"new{i}", alert(target, "queue", clock.now()) if i < 4 else [], queued=2 * i + 2)
    gate.set()
    results = callers.join()

    assert [results[f"disk{i}"][0].outcome for i in range(5)] == ["attached"] * 5
    assert [results[f"new{i}"][0].outcome for i in range(4)] == ["created"] + ["attached"] * 3
    with database.session() as s:
        disk, queue = (s.execute(select(Incident).where(Incident.dedup_key == k)).scalar_one() for k in ("disk", "queue"))
        assert (disk.alert_count, queue.alert_count) == (6, 4)
        lines = {i.id: [t.message for t in s.execute(select(TimelineEntry).where(TimelineEntry.incident_id == i.id)
                                                     .order_by(TimelineEntry.id)).scalars()] for i in (disk, queue)}
        assert lines[disk.id][1:] == ["The alert fired again 5 times (6 alerts); no new page."]
        assert lines[queue.id][-1] == "The alert fired again 3 times (4 alerts); no new page."
        assert sum(m.startswith("The alert fired again") for m in lines[queue.id]) == 1
        payloads = s.execute(select(Alert.payload, Alert.outcome).where(Alert.incident_id == disk.id)).all()
        assert len(payloads) == 6 and all(p == {"dedup": "disk"} for p, _ in payloads)


def test_a_groups_alerts_of_many_keys_are_attached_or_opened_in_one_statement_and_numbers_skip_nothing(
        world, database, clock) -> None:
    import re

    with database.session() as s:
        target = lookup(s, world.keys["acme_generic"])
    writer = GroupCommit(database.session)
    for k in ("open-0", "open-1", "open-2"):
        assert writer.run(alert(target, k, clock.now()))[0].outcome == "created"
    callers = Callers(writer)
    gate = hold_the_writer(callers, target, clock.now(), dedup="held")
    arrivals = ["new-b", "open-1", "new-a", "open-0", "new-b", "open-1", "new-c"]
    for n, k in enumerate(arrivals):
        callers.call(f"{n}-{k}", alert(target, k, clock.now()), queued=n + 1)
    writes: list[str] = []

    @event.listens_for(database.engine, "before_cursor_execute")
    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if re.search(r"\b(INSERT INTO|UPDATE) incidents\b", statement):
            writes.append(statement)

    gate.set()
    results = callers.join()
    event.remove(database.engine, "before_cursor_execute", seen)

    assert len(writes) == 1, writes  # the whole group: one statement, whatever the number of keys
    outcomes = [results[f"{n}-{k}"][0].outcome for n, k in enumerate(arrivals)]
    assert outcomes == ["created", "attached", "created", "attached", "attached", "attached", "created"]
    with database.session() as s:
        rows = s.execute(select(Incident.id, Incident.dedup_key, Incident.alert_count).order_by(Incident.id)).all()
        timeline = s.execute(select(func.count()).select_from(Alert)).scalar()
    # Opened in lock-key order, numbered one after another: repeats and attachments use up no number.
    assert [(k, c) for _, k, c in rows] == [("open-0", 2), ("open-1", 3), ("open-2", 1), ("held", 1),
                                           ("new-a", 1), ("new-b", 2), ("new-c", 1)]
    assert [i for i, _, _ in rows] == list(range(rows[0][0], rows[0][0] + 7))
    assert timeline == 3 + 1 + len(arrivals)  # every alert's payload kept


@pytest.mark.skipif(BACKEND != "postgres", reason="two writers at once are PostgreSQL's (VIGIL_TEST_DB=postgres); SQLite has one writer")
def test_a_group_that_meets_a_key_another_process_is_opening_attaches_to_it_once_that_commits(
        world, database, db_url, clock, caplog) -> None:
    with database.session() as s:
        target = lookup(s, world.keys["acme_generic"])
    dbs = [Database(db_url) for _ in range(2)]
    first, second = (Callers(GroupCommit(d.session)) for d in dbs)
    gate = hold_the_writer(first, target, clock.now(), dedup="disk")  # opened, not committed yet
    second.call("held", [(("z",), lambda s: time.sleep(0.3))])  # so that the next two queue together
    second.call("disk", alert(target, "disk", clock.now()), queued=1)
    second.call("queue", alert(target, "queue", clock.now()), queued=2)
    with caplog.at_level(logging.WARNING, logger="vigil.intake"):
        time.sleep(0.8)  # the second group now waits on the first's uncommitted incident
        gate.set()
        a, b = first.join(), second.join()
    for d in dbs:
        d.dispose()

    assert "writing each alone" not in caplog.text
    assert (a["first"][0].outcome, b["disk"][0].outcome, b["queue"][0].outcome) == ("created", "attached", "created")
    with database.session() as s:
        counts = dict(s.execute(select(Incident.dedup_key, Incident.alert_count)).all())
    assert counts == {"disk": 2, "queue": 1}
    assert a["first"][0].incident_id == b["disk"][0].incident_id
