"""Escalation runs by the clock, from the database: tests travel in time."""

from typing import Any

from sqlalchemy import func, select

from app.models import Incident, Notification, StepFiring, TimelineEntry
from app.notify.recording import RecordingTransport
from tests.helpers import post_alert


def paged(database: Any) -> list[tuple[int, str]]:
    """(minute after the first page, user name) for every recorded page, in order."""
    return [(m.incident["id"], m.user_name) for m in RecordingTransport.sent if m.purpose == "page"]


def names() -> list[str]:
    return [m.user_name for m in RecordingTransport.sent if m.purpose == "page"]


def open_incident(client: Any, key: str, dedup: str = "disk-web-2") -> int:
    r = post_alert(client, key, dedup=dedup)
    assert r.status_code == 202, r.get_json()
    return r.get_json()["results"][0]["incident"]


def test_it_notifies_the_on_call_engineer_at_once(client, world, engine) -> None:
    open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()
    assert names() == ["Alice Martin"]


def test_the_4h_tier_notifies_the_same_engineer_at_m30_and_the_lead_at_m60(client, world, engine, clock) -> None:
    open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()
    clock.advance(minutes=29, seconds=59)
    engine.run_until_idle()
    assert names() == ["Alice Martin"]
    clock.advance(seconds=1)
    engine.run_until_idle()
    assert names() == ["Alice Martin", "Alice Martin"]
    clock.advance(minutes=30)
    engine.run_until_idle()
    assert names() == ["Alice Martin", "Alice Martin", "Theo Lead"]


def test_the_1h_tier_adds_engineer_two_at_m30_and_the_manager_at_m60(client, world, engine, clock) -> None:
    open_incident(client, world.keys["globex_generic"])
    engine.run_until_idle()
    assert names() == ["Alice Martin"]
    clock.advance(minutes=30)
    engine.run_until_idle()
    assert names() == ["Alice Martin", "Bob Durand"]
    clock.advance(minutes=30)
    engine.run_until_idle()
    assert names() == ["Alice Martin", "Bob Durand", "Maya Manager"]


def test_an_acknowledgement_stops_escalation(client, world, engine, clock, browser) -> None:
    iid = open_incident(client, world.keys["globex_generic"])
    engine.run_until_idle()
    clock.advance(minutes=5)
    assert browser("alice").post(f"/api/v1/incidents/{iid}/ack").status_code == 200
    for _ in range(6):
        clock.advance(minutes=30)
        engine.run_until_idle()
    assert names() == ["Alice Martin"]


def test_a_step_that_fell_due_while_the_engine_was_down_fires_at_start_with_its_lateness(
    client, world, engine, clock, database
) -> None:
    iid = open_incident(client, world.keys["acme_generic"])
    clock.advance(minutes=45)  # nobody ran the engine for 45 minutes
    engine.run_until_idle()
    assert names() == ["Alice Martin", "Alice Martin"]  # M+0 and M+30, late; M+60 not yet due
    with database.transaction() as s:
        firings = s.execute(select(StepFiring).where(StepFiring.incident_id == iid).order_by(StepFiring.seq)).scalars().all()
        assert [f.lateness_ms for f in firings] == [45 * 60_000, 15 * 60_000]
        late_note = s.execute(select(TimelineEntry.message).where(TimelineEntry.kind == "escalated")).scalars().first()
        assert "2700 s late" in late_note
    clock.advance(minutes=15)  # M+60 falls at its contractual minute, not 45 minutes later
    engine.run_until_idle()
    assert names()[-1] == "Theo Lead"


def test_the_whole_policy_repeats_and_then_says_it_is_exhausted(client, world, engine, clock, database) -> None:
    iid = open_incident(client, world.keys["acme_generic"])
    for _ in range(12):
        engine.run_until_idle()
        clock.advance(minutes=30)
    assert names() == ["Alice Martin", "Alice Martin", "Theo Lead"] * 3
    with database.transaction() as s:
        kinds = s.execute(select(TimelineEntry.kind).where(TimelineEntry.incident_id == iid)).scalars().all()
        inc = s.get(Incident, iid)
        assert "exhausted" in kinds and inc.next_escalation_at is None
        assert "sla_breached" in kinds and inc.sla_breached_at is not None


def test_a_missed_response_deadline_is_recorded_once(client, world, engine, clock, database) -> None:
    iid = open_incident(client, world.keys["globex_generic"])
    engine.run_until_idle()
    clock.advance(minutes=60)
    engine.run_until_idle()
    clock.advance(minutes=10)
    engine.run_until_idle()
    with database.transaction() as s:
        breaches = s.execute(select(func.count()).select_from(TimelineEntry).where(
            TimelineEntry.incident_id == iid, TimelineEntry.kind == "sla_breached")).scalar()
        assert breaches == 1
        assert s.get(Incident, iid).sla_kept is False


def test_an_acknowledgement_that_times_out_starts_escalation_again(client, world, engine, clock, database, browser) -> None:
    with database.transaction() as s:
        from app.models import EscalationPolicy
        s.get(EscalationPolicy, world.policy_4h).ack_timeout_minutes = 20
    iid = open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()
    browser("alice").post(f"/api/v1/incidents/{iid}/ack")
    clock.advance(minutes=19)
    engine.run_until_idle()
    assert names() == ["Alice Martin"]
    clock.advance(minutes=1)
    engine.run_until_idle()
    assert names() == ["Alice Martin", "Alice Martin"]
    with database.transaction() as s:
        assert s.get(Incident, iid).status == "triggered"
        assert "retriggered" in s.execute(select(TimelineEntry.kind)).scalars().all()


def test_a_page_planned_before_an_ack_is_cancelled_not_sent(client, world, engine, clock, database, browser) -> None:
    iid = open_incident(client, world.keys["acme_generic"])
    # the step fires (notifications planned) but nothing is sent before the ack arrives
    with database.transaction() as s:
        from app import incidents
        assert incidents.fire_due(s, [iid], clock.now(), "test") == 1
    browser("alice").post(f"/api/v1/incidents/{iid}/ack")
    engine.run_until_idle()
    assert names() == []
    with database.transaction() as s:
        statuses = s.execute(select(Notification.status)).scalars().all()
        assert statuses == ["cancelled"]


def test_a_service_without_a_policy_pages_every_manager_and_admin(client, world, engine, database) -> None:
    from app.models import Client
    with database.transaction() as s:
        s.get(Client, world.initech).policy_id = None
    open_incident(client, world.keys["initech_generic"])
    engine.run_until_idle()
    assert sorted(names()) == ["Ada Admin", "Maya Manager"]


def test_a_running_engine_pages_a_new_incident_at_once_not_at_its_next_poll(app, client, world, db_url, clock) -> None:
    """The engine as its own process (its own connections and event bus), polling only every
    30 s: the new incident's event (LISTEN on PostgreSQL, the commit watch on SQLite) makes it
    tick at once."""
    import threading
    import time

    from app.db import Database
    from app.engine.loop import Engine
    from app.live.bus import EventBus
    from app.models import EngineHeartbeat

    RecordingTransport.clear()
    other = Database(db_url)
    bus = EventBus(other, poll=30.0)
    engine = Engine(other, clock, {**app.config, "ENGINE_POLL_SECONDS": 30.0}, name="engine-nudged",
                    transports={"recording": RecordingTransport}, bus=bus)
    stop = threading.Event()
    runner = threading.Thread(target=engine.run, args=(stop,))
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # its first tick (at start) is done, and it listens
            with other.session() as s:
                if s.get(EngineHeartbeat, "engine-nudged") is not None and bus.listening.is_set():
                    break
            time.sleep(0.05)
        time.sleep(0.2)
        open_incident(client, world.keys["acme_generic"])
        t0 = time.monotonic()
        while names() != ["Alice Martin"] and time.monotonic() - t0 < 5:
            time.sleep(0.02)
        assert names() == ["Alice Martin"], "not paged within 5 s: the engine waited for its 30 s poll"
    finally:
        stop.set()
        runner.join(30)
        bus.stop()
        other.dispose()
