"""Every shift starts ready: at each shift start the incoming engineer gets a hand-off
notification once (across restarts and with two engines), with the open incidents of their pool,
the last shift's notes and an "I'm ready" link; without a confirmation in time the managers (and
the outgoing engineer) are told; a phone that could not be reached is flagged before the shift.

Pool A's schedule (tests/helpers.add_schedule): Primary passes from Alice to Bob, Secondary from
Bob to Carol, on Monday 2 March 2026 at 09:00 in Paris (08:00 UTC)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.db import Database
from app.engine.loop import Engine
from app.models import ContactMethod, Incident, Notification, ShiftStart
from app.notify.recording import RecordingTransport
from tests.helpers import add_schedule, post_alert, race

HANDOFF = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
EVERY_TICK = {"SHIFT_CHECK_SECONDS": 0, "HANDOVER_CHECK_SECONDS": 0}


@pytest.fixture
def schedule(world, database, clock) -> Any:
    return add_schedule(database, world, clock.now())


def make_engine(app: Any, database: Database, clock: Any, name: str, **config: Any) -> Engine:
    return Engine(database, clock, {**app.config, **EVERY_TICK, **config}, name=name,
                  transports={"recording": RecordingTransport})


@pytest.fixture
def engine(app, database, clock) -> Iterator[Engine]:
    RecordingTransport.clear()
    e = make_engine(app, database, clock, "engine-1")
    yield e
    e.close()


def told(database: Database, user_id: int, purpose: str) -> list[str]:
    with database.transaction() as s:
        return list(s.execute(select(Notification.message).where(
            Notification.user_id == user_id, Notification.purpose == purpose).order_by(Notification.id)).scalars())


def sent(purpose: str, user_name: str) -> list[Any]:
    return [m for m in RecordingTransport.sent if m.purpose == purpose and m.user_name == user_name]


def test_a_shift_start_sends_the_hand_off_notification_once_with_an_im_ready_link(
        app, client, world, schedule, engine, database, clock) -> None:
    post_alert(client, world.keys["acme_generic"], summary="Checkout slow")
    clock.set(HANDOFF - timedelta(seconds=1))
    engine.run_until_idle()
    assert told(database, world.bob, "handoff") == []
    clock.set(HANDOFF)
    engine.run_until_idle()
    [text] = told(database, world.bob, "handoff")
    assert text.startswith("Your shift starts: Primary (Pool A on-call), Mon 09:00")
    assert "Open incidents in your pool: 1." in text and "Checkout slow" in text
    assert "No note from the last shift." in text
    assert len(told(database, world.carol, "handoff")) == 1  # Secondary passes from Bob to Carol
    [msg] = sent("handoff", "Bob Durand")
    assert msg.ack_url and "/r/" in msg.ack_url and f"I'm ready: {msg.ack_url}" in msg.body

    # A restarted engine, and later ticks of the same shift: nothing more.
    engine.close()
    again = make_engine(app, database, clock, "engine-2")
    try:
        for minutes in (0, 1, 5):
            clock.advance(minutes=minutes)
            again.run_until_idle()
    finally:
        again.close()
    assert len(told(database, world.bob, "handoff")) == 1


def test_two_engines_at_the_shift_start_send_one_hand_off_notification(app, world, schedule, database, clock) -> None:
    RecordingTransport.clear()
    url = database.url.render_as_string(hide_password=False)
    engines = [make_engine(app, Database(url), clock, f"engine-{i}") for i in range(2)]
    clock.set(HANDOFF + timedelta(seconds=5))
    try:
        race(2, lambda i: engines[i].run_until_idle())
        race(2, lambda i: engines[i].run_until_idle())
    finally:
        for e in engines:
            e.close()
    assert len(told(database, world.bob, "handoff")) == 1
    assert len(sent("handoff", "Bob Durand")) == 1
    with database.transaction() as s:
        rows = s.execute(select(ShiftStart).where(ShiftStart.starts_at == HANDOFF)).scalars().all()
    assert sorted(r.user_id for r in rows) == sorted([world.bob, world.carol])


def test_the_outgoing_engineers_note_reaches_the_incoming_one(app, world, schedule, engine, database, clock,
                                                               browser) -> None:
    clock.set(HANDOFF - timedelta(minutes=30))
    alice = browser("alice")
    page = alice.get("/").get_data(as_text=True)
    assert "Hand-off note for whoever takes Primary (Pool A on-call)" in page
    r = alice.form("/handoff-notes", {"layer_id": str(world.primary), "body": "db-2's disk is at 85%: watch it"})
    assert r.status_code == 302
    assert alice.form("/handoff-notes", {"layer_id": str(world.secondary), "body": "x"}).status_code == 409
    clock.set(HANDOFF)
    engine.run_until_idle()
    [text] = told(database, world.bob, "handoff")
    assert "Note from Alice Martin: db-2's disk is at 85%: watch it" in text
    assert "db-2&#39;s disk is at 85%" in browser("bob").get("/").get_data(as_text=True)


def test_without_im_ready_in_time_the_managers_and_the_outgoing_engineer_are_told(
        app, world, schedule, engine, database, clock, browser) -> None:
    clock.set(HANDOFF)
    engine.run_until_idle()
    clock.advance(minutes=14, seconds=59)
    engine.run_until_idle()
    assert told(database, world.maya, "notice") == []
    bob_home = browser("bob").get("/").get_data(as_text=True)
    assert "Your shift has started: Primary (Pool A on-call)" in bob_home and "I'm ready" in bob_home
    clock.advance(seconds=1)
    engine.run_until_idle()
    [to_maya] = [t for t in told(database, world.maya, "notice") if t.startswith("Bob Durand")]
    assert to_maya.startswith("Bob Durand has not confirmed the start of their shift (Primary (Pool A on-call)")
    assert "Alice Martin stays responsible until they do, and is paged with them." in to_maya
    assert any("Bob Durand has not confirmed" in t for t in told(database, world.alice, "notice"))
    overview = browser("maya").get("/").get_data(as_text=True)
    assert "Bob Durand has not confirmed Primary (Pool A on-call)" in overview
    clock.advance(minutes=30)
    engine.run_until_idle()
    assert len([t for t in told(database, world.maya, "notice") if "Bob Durand has not" in t]) == 1

    # Bob confirms from his home screen, late: the managers hear that too.
    with database.transaction() as s:
        row = s.execute(select(ShiftStart).where(ShiftStart.user_id == world.bob)).scalar_one()
    assert browser("bob").form(f"/shifts/{row.id}/ready", {}).status_code == 302
    assert any("Bob Durand is ready for Primary" in t for t in told(database, world.maya, "notice"))
    assert "Bob Durand has not confirmed" not in browser("maya").get("/").get_data(as_text=True)


def test_the_team_may_choose_not_to_tell_the_outgoing_engineer(app, world, schedule, database, clock) -> None:
    engine = make_engine(app, database, clock, "quiet", HANDOFF_TELL_OUTGOING=False)
    try:
        clock.set(HANDOFF)
        engine.run_until_idle()
        clock.advance(minutes=15)
        engine.run_until_idle()
    finally:
        engine.close()
    assert any("Bob Durand has not confirmed" in t for t in told(database, world.maya, "notice"))
    assert not any("Bob Durand" in t for t in told(database, world.alice, "notice"))


def test_im_ready_from_the_link_confirms_without_a_login_and_nobody_is_told(
        app, client, world, schedule, engine, database, clock) -> None:
    clock.set(HANDOFF)
    engine.run_until_idle()
    [msg] = sent("handoff", "Bob Durand")
    token = msg.ack_url.rsplit("/", 1)[1]
    anonymous = app.test_client()
    assert anonymous.get(f"/r/{token}").status_code == 200  # a GET changes nothing
    r = anonymous.post(f"/api/v1/ready-links/{token}", json={})
    assert r.status_code == 200 and r.get_json()["outcome"] == "ready"
    assert anonymous.post(f"/api/v1/ready-links/{token}", json={}).status_code == 200  # a replay: the same answer
    assert anonymous.post(f"/api/v1/ack-links/{token}", json={}).status_code == 404  # not an ack link
    clock.advance(minutes=20)
    engine.run_until_idle()
    assert not any("Bob Durand has not" in t for t in told(database, world.maya, "notice"))
    with database.transaction() as s:
        row = s.execute(select(ShiftStart).where(ShiftStart.user_id == world.bob)).scalar_one()
        assert (row.ready_at, row.ready_via) == (HANDOFF, "link")


def test_a_phone_that_could_not_be_reached_is_flagged_to_its_owner_and_the_managers_before_the_shift(
        app, world, schedule, engine, database, clock, browser) -> None:
    with database.transaction() as s:  # Bob's only phone: SMS, whose every attempt failed lately
        for m in s.execute(select(ContactMethod).where(ContactMethod.user_id == world.bob)).scalars():
            s.delete(m)
        s.add(ContactMethod(user_id=world.bob, kind="sms", address="+33600000005", created_at=clock.now(),
                            last_failure_at=clock.now() - timedelta(days=2)))
    clock.set(HANDOFF - timedelta(hours=5))
    engine.run_until_idle()
    [mine] = told(database, world.bob, "notice")
    assert mine.startswith("Vigil could not reach your phone: nothing reached your phone in the last 7 days")
    assert any("Bob Durand's phone may not wake them" in t for t in told(database, world.maya, "notice"))
    engine.run_until_idle()
    clock.advance(hours=1)
    engine.run_until_idle()
    assert len(told(database, world.bob, "notice")) == 1  # once per shift
    assert "Vigil may not be able to wake you" in browser("bob").get("/").get_data(as_text=True)
    overview = browser("maya").get("/").get_data(as_text=True)
    assert "Bob Durand's phone may not wake them" in overview and "Send Bob Durand a test" in overview
    with database.transaction() as s:
        row = s.execute(select(ShiftStart).where(ShiftStart.user_id == world.bob)).scalar_one()
    assert browser("maya").form(f"/people/{world.bob}/test-phones", {}).status_code == 302
    with database.transaction() as s:
        tests = s.execute(select(Notification).where(Notification.user_id == world.bob,
                                                     Notification.purpose == "test")).scalars().all()
    assert len(tests) == 1 and row.unreachable_warned_at is not None


def test_until_the_late_engineer_confirms_the_outgoing_one_is_paged_with_them(
        app, client, world, schedule, engine, database, clock, browser) -> None:
    clock.set(HANDOFF)
    engine.run_until_idle()
    clock.advance(minutes=15)
    engine.run_until_idle()  # Bob has not confirmed: Alice stays responsible
    iid = post_alert(client, world.keys["acme_generic"]).get_json()["results"][0]["incident"]
    engine.run_until_idle()
    assert {m.user_name for m in RecordingTransport.sent if m.purpose == "page"} == {"Bob Durand", "Alice Martin"}
    with database.transaction() as s:
        [line] = [e.message for e in s.get(Incident, iid).timeline if e.kind == "escalated"]
    assert "Alice Martin until Bob Durand confirms the shift" in line, line

    # Bob confirms: the 4-hour policy's M+30 step (the same engineer again) pages Bob alone.
    with database.transaction() as s:
        row = s.execute(select(ShiftStart).where(ShiftStart.user_id == world.bob)).scalar_one()
    assert browser("bob").form(f"/shifts/{row.id}/ready", {}).status_code == 302
    RecordingTransport.clear()
    clock.advance(minutes=30)
    engine.run_until_idle()
    assert {m.user_name for m in RecordingTransport.sent if m.purpose == "page"} == {"Bob Durand"}


def test_a_team_that_does_not_tell_the_outgoing_engineer_does_not_page_them_either(
        app, client, world, schedule, database, clock) -> None:
    RecordingTransport.clear()
    engine = make_engine(app, database, clock, "quiet", HANDOFF_TELL_OUTGOING=False)
    try:
        clock.set(HANDOFF + timedelta(minutes=15))
        engine.run_until_idle()
        post_alert(client, world.keys["acme_generic"], summary="Disk full on web-2")
        engine.run_until_idle()
    finally:
        engine.close()
    assert {m.user_name for m in RecordingTransport.sent if m.purpose == "page"} == {"Bob Durand"}
