"""Contention through the whole web stack: many requests at once on one incident, the way phones
send them (the offline outbox always carries an operation id), and acknowledgements racing the
engine's dispatch. Every answer is a 200 or a 409 that says why, never a 500; every race leaves
the incident in one consistent state.

Threads call the real Flask app (each request with its own session and connection), so on
PostgreSQL the row locks really meet.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from sqlalchemy import func, select

from app import incidents
from app.accounts import tokens
from app.accounts.users import create_user
from app.db import Database, retry_transient
from app.engine.loop import Engine
from app.intake.base import IntakeEvent
from app.intake.keys import lookup
from app.models import ContactMethod, Incident, Notification, PoolMember, TimelineEntry, User
from app.notify.recording import RecordingTransport
from tests.helpers import PASSWORD, build_world, race, requires_postgres

TRIALS = 8


def engineers(database: Database, world: Any, clock: Any, n: int) -> list[tuple[int, str, str]]:
    """n engineers of Pool A, each with an API token: (user id, name, token)."""
    out = []
    with database.transaction() as s:
        pool_id = s.execute(select(PoolMember.pool_id).where(PoolMember.user_id == world.alice)).scalar_one()
        for i in range(n):
            u = create_user(s, email=f"eng{i}@vigil.test", name=f"Engineer {i:02d}", role="engineer",
                            password=PASSWORD, now=clock.now())
            s.flush()
            s.add(PoolMember(pool_id=pool_id, user_id=u.id))
            _, token = tokens.create(s, u, "phone", ["read", "write"], clock.now())
            out.append((u.id, u.name, token))
    return out


def open_incident(database: Database, world: Any, clock: Any, key: str = "globex_generic") -> int:
    with database.transaction() as s:
        target = lookup(s, world.keys[key])
        dedup = uuid.uuid4().hex
        iid, _ = incidents.trigger(s, target, IntakeEvent("trigger", "CPU on fire", dedup), dedup, clock.now())
        return iid


def post_all(app: Any, requests: list[tuple[str, str, dict[str, Any]]]) -> list[Any]:
    """POST each (token, path, body) at the same instant, each from its own thread and client."""

    def send(i: int) -> tuple[int, dict[str, Any]]:
        token, path, body = requests[i]
        r = app.test_client().post(path, json=body, headers={"Authorization": f"Bearer {token}"})
        return r.status_code, r.get_json()

    return race(len(requests), send)


def no_retries(caplog: Any) -> None:
    """The lock order alone settles these races: the retry of db.retry_transient is a backstop."""
    assert not [r for r in caplog.records if "lost a race" in r.getMessage()]


def test_ten_engineers_claiming_one_slot_with_operation_ids_leave_one_holder_and_nine_409s_naming_them(
    app, database, world, clock, caplog
) -> None:
    people = engineers(database, world, clock, 10)
    names = {uid: name for uid, name, _ in people}
    for _trial in range(TRIALS):
        iid = open_incident(database, world, clock)
        for slot in (1, 2):
            results = post_all(app, [(token, f"/api/v1/incidents/{iid}/claim",
                                      {"slot": slot, "op_id": uuid.uuid4().hex}) for _, _, token in people])
            statuses = sorted(r[0] for r in results)
            assert statuses.count(200) == 1, results
            # Whoever already holds the other slot is told so; everyone else learns who won.
            assert statuses.count(409) == 9, results
            with database.transaction() as s:
                inc = s.get(Incident, iid)
                holder = inc.slot1_user_id if slot == 1 else inc.slot2_user_id
            assert holder is not None, f"slot #{slot} left empty by the race"
            for status, body in results:
                if status == 409 and body["outcome"] == "slot_taken":
                    assert names[holder] in body["message"]
        with database.transaction() as s:
            inc = s.get(Incident, iid)
            assert inc.slot1_user_id != inc.slot2_user_id
            claimed = s.execute(select(func.count()).select_from(TimelineEntry).where(
                TimelineEntry.incident_id == iid, TimelineEntry.kind == "claimed")).scalar_one()
            assert claimed == 2
    no_retries(caplog)


def test_the_same_queued_ack_replayed_five_times_at_once_acknowledges_once_and_answers_each_replay(
    app, database, world, clock, caplog
) -> None:
    [(_, _, token)] = engineers(database, world, clock, 1)
    for _trial in range(TRIALS):
        iid = open_incident(database, world, clock)
        op = uuid.uuid4().hex
        results = post_all(app, [(token, f"/api/v1/incidents/{iid}/ack", {"op_id": op})] * 5)
        assert [r[0] for r in results] == [200] * 5, results
        assert sum(1 for _, body in results if not body.get("replayed")) == 1
        with database.transaction() as s:
            acks = s.execute(select(func.count()).select_from(TimelineEntry).where(
                TimelineEntry.incident_id == iid, TimelineEntry.kind == "acknowledged")).scalar_one()
            assert acks == 1
    no_retries(caplog)


def tick_when_released(engine: Engine, go: threading.Barrier, errors: list[BaseException]) -> None:
    go.wait()
    try:
        engine.tick()
    except BaseException as e:  # noqa: BLE001 - the test reports it
        errors.append(e)


def test_acknowledgements_racing_the_engines_dispatch_never_fail(app, database, db_url, world, clock, caplog) -> None:
    """The engine claims and composes pages (writing their ack links) while phones acknowledge:
    the two sides must take their locks in one order (incident, then its notifications)."""
    with database.transaction() as s:
        for key in ("alice", "bob", "maya"):  # several channels each: more notification rows
            u = s.get(User, world.ids[key])
            for n in range(4):
                u.contact_methods.append(ContactMethod(kind="recording", address=f"{key}+{n}@vigil.test",
                                                       created_at=clock.now()))
    tokens_by_user = {}
    with database.transaction() as s:
        for key in ("alice", "bob"):
            _, tokens_by_user[key] = tokens.create(s, s.get(User, world.ids[key]), "phone", ["read", "write"],
                                                   clock.now())
    RecordingTransport.clear()
    engine_db = Database(db_url)
    engine = Engine(engine_db, clock, app.config, name="racer", transports={"recording": RecordingTransport})
    try:
        for _trial in range(TRIALS):
            ids = [open_incident(database, world, clock) for _ in range(6)]
            with database.transaction() as s:  # every step fires now: many pages to claim at once
                for iid in ids:
                    incidents.fire_step(s, s.get(Incident, iid), clock.now())
            go = threading.Barrier(2)
            errors: list[BaseException] = []
            t = threading.Thread(target=tick_when_released, args=(engine, go, errors))
            t.start()
            go.wait()
            results = post_all(app, [(tokens_by_user["alice" if i % 2 else "bob"], f"/api/v1/incidents/{iid}/ack",
                                      {"op_id": uuid.uuid4().hex}) for i, iid in enumerate(ids)])
            t.join(30)
            engine.drain()
            assert not errors, errors
            assert all(status == 200 for status, _ in results), results
            with database.transaction() as s:
                left = s.execute(select(func.count()).select_from(Notification).where(
                    Notification.incident_id.in_(ids), Notification.status.in_(("pending", "sending")))).scalar_one()
                assert left == 0
                assert all(s.get(Incident, iid).status == "acknowledged" for iid in ids)
    finally:
        engine.close()
        engine_db.dispose()
    no_retries(caplog)


@requires_postgres
def test_two_transactions_that_deadlock_both_complete_when_run_through_the_retry(postgres, clock) -> None:
    """A real deadlock (two rows locked in opposite orders): PostgreSQL aborts one transaction,
    db.retry_transient runs it again, and both finish."""
    world = build_world(postgres, clock.now())
    a, b = open_incident(postgres, world, clock), open_incident(postgres, world, clock)
    dbs = [Database(postgres.url.render_as_string(hide_password=False)) for _ in range(2)]
    both_hold_one = threading.Barrier(2)
    attempts = [0, 0]

    def work(i: int) -> str:
        def once() -> str:
            attempts[i] += 1
            first, second = (a, b) if i == 0 else (b, a)
            with dbs[i].transaction() as s:
                s.execute(select(Incident.id).where(Incident.id == first).with_for_update())
                if attempts[i] == 1:
                    both_hold_one.wait(10)
                s.execute(select(Incident.id).where(Incident.id == second).with_for_update())
                s.get(Incident, first).summary = f"touched by {i}"
            return "done"

        return retry_transient(once)

    results = race(2, work)
    for d in dbs:
        d.dispose()
    assert results == ["done", "done"]
    assert sorted(attempts) == [1, 2]  # exactly one lost the deadlock, and ran again
