"""Heartbeats with the injected clock: late past the grace opens exactly one incident (through
the intake path: it pages like any alert); engines restarted, crashed or racing meanwhile still
make one; pings that resume resolve it; a /fail opens one at once."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.clock import SystemClock
from app.db import Database
from app.engine.loop import Engine
from app.incidents import heartbeats as watcher
from app.intake import heartbeats
from app.models import Alert, HeartbeatMonitor, Incident, Service
from app.notify.recording import RecordingTransport
from tests.helpers import BACKEND, build_world, race, requires_postgres, start_engine, wait_until


def make_monitor(database: Database, world: Any, now: Any, **kw: Any) -> tuple[int, str]:
    spec = heartbeats.MonitorInput(**{"name": "nightly backup", "period_seconds": 3600, "grace_seconds": 600, **kw})
    with database.transaction() as s:
        m = heartbeats.create(s, s.get(Service, world.acme_web), spec, now)
        return m.id, m.token


def incidents_of(database: Database, monitor_id: int) -> list[Incident]:
    with database.session() as s:
        return list(s.execute(select(Incident).where(Incident.dedup_key == watcher.dedup_key(monitor_id))
                              .order_by(Incident.id)).scalars())


def pages() -> list[str]:
    return [m.user_name for m in RecordingTransport.sent if m.purpose == "page"]


def test_late_by_the_grace_opens_exactly_one_incident_that_pages(client, world, engine, clock, database) -> None:
    mid, token = make_monitor(database, world, clock.now())
    assert client.get(f"/hb/{token}").status_code == 200
    engine.run_until_idle()
    clock.advance(minutes=69, seconds=59)  # the period (60 min) and the grace (10 min), but one second
    engine.run_until_idle()
    assert incidents_of(database, mid) == []
    clock.advance(seconds=1)
    engine.run_until_idle()
    [inc] = incidents_of(database, mid)
    assert (inc.status, inc.source, inc.service_id, inc.alert_count) == ("triggered", "heartbeat", world.acme_web, 1)
    assert "nightly backup" in inc.summary and "no ping since" in inc.summary
    assert pages() == ["Alice Martin"]  # escalates like any alert of Acme
    for _ in range(5):  # hours later, it is still the one incident
        clock.advance(minutes=30)
        engine.run_until_idle()
    assert [i.id for i in incidents_of(database, mid)] == [inc.id]
    assert incidents_of(database, mid)[0].alert_count == 1


def test_pings_that_resume_resolve_it_and_a_later_silence_opens_a_new_one(client, world, engine, clock, database) -> None:
    mid, token = make_monitor(database, world, clock.now())
    client.get(f"/hb/{token}")
    clock.advance(minutes=70)
    engine.run_until_idle()
    [first] = incidents_of(database, mid)
    clock.advance(minutes=5)
    assert client.post(f"/hb/{token}", data="done in 3 s").status_code == 200
    engine.run_until_idle()
    [first] = incidents_of(database, mid)
    assert first.status == "resolved" and first.resolved_at == clock.now()
    clock.advance(minutes=70)
    engine.run_until_idle()
    assert [i.status for i in incidents_of(database, mid)] == ["resolved", "triggered"]


def test_an_incident_an_engineer_resolved_by_hand_stays_resolved_and_the_next_silence_opens_one(
        client, world, engine, clock, database, browser) -> None:
    mid, token = make_monitor(database, world, clock.now())
    client.get(f"/hb/{token}")
    clock.advance(minutes=70)
    engine.run_until_idle()
    [inc] = incidents_of(database, mid)
    r = browser("alice").post(f"/api/v1/incidents/{inc.id}/resolve", json={"summary": "backup host rebooted"})
    assert r.status_code == 200, r.get_json()
    clock.advance(minutes=30)  # still silent: it stays resolved (one alert per silence)
    engine.run_until_idle()
    assert [i.status for i in incidents_of(database, mid)] == ["resolved"]
    client.get(f"/hb/{token}")  # pings resume: nothing left to resolve
    engine.run_until_idle()
    clock.advance(minutes=70)
    engine.run_until_idle()
    assert [i.status for i in incidents_of(database, mid)] == ["resolved", "triggered"]


def test_pings_that_resume_and_stop_while_no_engine_looks_end_the_old_incident_and_open_a_new_one(
        client, world, engine, clock, database) -> None:
    mid, token = make_monitor(database, world, clock.now())
    client.get(f"/hb/{token}")
    clock.advance(minutes=70)
    engine.run_until_idle()
    clock.advance(minutes=5)
    client.get(f"/hb/{token}")  # resumed, with no engine running...
    clock.advance(minutes=70)  # ...and silent again past the grace
    engine.run_until_idle()
    first, second = incidents_of(database, mid)
    assert (first.status, second.status) == ("resolved", "triggered")
    assert first.resolved_at == second.created_at == clock.now()


def test_a_fail_ping_opens_one_at_once_with_what_the_job_sent(client, world, engine, clock, database) -> None:
    mid, token = make_monitor(database, world, clock.now())
    client.get(f"/hb/{token}")
    engine.run_until_idle()
    clock.advance(seconds=1)  # the engine's next look (HEARTBEAT_CHECK_SECONDS)
    r = client.post(f"/hb/{token}/fail", data="pg_dump: error: connection refused")
    assert r.status_code == 200
    engine.run_until_idle()
    [inc] = incidents_of(database, mid)
    assert "failure" in inc.summary and "pg_dump: error: connection refused" in inc.details
    assert pages() == ["Alice Martin"]
    clock.advance(seconds=1)
    client.post(f"/hb/{token}/fail", data="again")  # counted into the open incident: no new page
    engine.run_until_idle()
    assert [i.alert_count for i in incidents_of(database, mid)] == [2]
    assert pages() == ["Alice Martin"]
    clock.advance(seconds=1)
    client.get(f"/hb/{token}")
    engine.run_until_idle()
    assert [i.status for i in incidents_of(database, mid)] == ["resolved"]


def test_a_fail_then_a_success_before_the_engine_looks_opens_nothing(client, world, engine, clock, database) -> None:
    mid, token = make_monitor(database, world, clock.now())
    client.get(f"/hb/{token}/fail")
    client.get(f"/hb/{token}")  # the job's retry worked
    engine.run_until_idle()
    assert incidents_of(database, mid) == []


def test_a_start_without_an_end_within_the_grace_opens_one(client, world, engine, clock, database) -> None:
    mid, token = make_monitor(database, world, clock.now(), period_seconds=86400, grace_seconds=1800)
    client.get(f"/hb/{token}")
    clock.advance(hours=2)
    client.get(f"/hb/{token}/start")
    engine.run_until_idle()
    clock.advance(minutes=29, seconds=59)
    engine.run_until_idle()
    assert incidents_of(database, mid) == []
    clock.advance(seconds=1)
    engine.run_until_idle()
    [inc] = incidents_of(database, mid)
    assert "did not end" in inc.details


def test_a_monitor_never_pinged_never_alerts(client, world, engine, clock, database) -> None:
    mid, token = make_monitor(database, world, clock.now())
    client.get(f"/hb/{token}/start")
    clock.advance(days=3)
    engine.run_until_idle()
    assert incidents_of(database, mid) == []


def test_an_engine_restarted_meanwhile_still_opens_one(app, client, world, clock, database) -> None:
    RecordingTransport.clear()
    mid, token = make_monitor(database, world, clock.now())
    client.get(f"/hb/{token}")
    first = Engine(database, clock, app.config, name="engine-1", transports={"recording": RecordingTransport})
    first.run_until_idle()
    first.close()  # stopped before the monitor is late
    clock.advance(minutes=70)
    second = Engine(database, clock, app.config, name="engine-2", transports={"recording": RecordingTransport})
    second.run_until_idle()
    again = Engine(database, clock, app.config, name="engine-1", transports={"recording": RecordingTransport})
    again.run_until_idle()  # the first one back: it finds nothing left to do
    clock.advance(minutes=10)
    second.run_until_idle()
    again.run_until_idle()
    second.close()
    again.close()
    assert len(incidents_of(database, mid)) == 1
    assert pages() == ["Alice Martin"]


def test_an_engine_that_dies_before_its_commit_leaves_the_incident_to_the_next(client, world, clock, database) -> None:
    mid, token = make_monitor(database, world, clock.now())
    client.get(f"/hb/{token}")
    clock.advance(minutes=70)

    class Died(Exception):
        pass

    with pytest.raises(Died), database.transaction() as s:  # claimed, incident written, then killed
        assert watcher.watch(s, clock.now()) == 1
        raise Died
    assert incidents_of(database, mid) == []
    with database.transaction() as s:
        assert watcher.watch(s, clock.now()) == 1
    with database.transaction() as s:
        assert watcher.watch(s, clock.now()) == 0
    assert len(incidents_of(database, mid)) == 1


@pytest.mark.skipif(BACKEND != "postgres", reason="a race between two connections: PostgreSQL (VIGIL_TEST_DB=postgres)")
def test_two_engines_looking_at_the_same_instant_open_one(client, world, clock, database, db_url) -> None:
    monitors = [make_monitor(database, world, clock.now(), name=f"job {i}") for i in range(5)]
    for _, token in monitors:
        client.get(f"/hb/{token}")
    clock.advance(minutes=70)
    dbs = [Database(db_url) for _ in range(4)]

    def look(i: int) -> int:
        with dbs[i].transaction() as s:
            return watcher.watch(s, clock.now())

    results = race(4, look)
    for d in dbs:
        d.dispose()
    assert all(isinstance(r, int) for r in results), results
    for mid, _ in monitors:
        assert len(incidents_of(database, mid)) == 1
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Alert).where(Alert.source == "heartbeat")) == 5
        assert s.scalar(select(func.count()).select_from(HeartbeatMonitor).where(HeartbeatMonitor.alerted)) == 5


def test_a_cron_monitor_in_paris_alerts_at_the_new_hour_after_the_spring_change(client, world, engine, clock,
                                                                              database) -> None:
    """09:00 in Paris is 08:00 UTC on Saturday 28 March 2026 and 07:00 UTC on Sunday 29 (CEST):
    the ping due on Sunday is late at 07:30 UTC, not at 08:30 as a UTC schedule would have it."""
    clock.set(datetime(2026, 3, 28, 8, 0, 5, tzinfo=UTC))
    mid, token = make_monitor(database, world, clock.now(), cron="0 9 * * *", timezone="Europe/Paris",
                              grace_seconds=1800)
    client.get(f"/hb/{token}")
    engine.run_until_idle()
    clock.set(datetime(2026, 3, 29, 7, 29, 59, tzinfo=UTC))
    engine.run_until_idle()
    assert incidents_of(database, mid) == []
    clock.set(datetime(2026, 3, 29, 7, 30, tzinfo=UTC))
    engine.run_until_idle()
    [inc] = incidents_of(database, mid)
    assert '"0 9 * * *" (Europe/Paris)' in inc.details


@requires_postgres
def test_two_engine_processes_one_killed_open_one_incident_per_late_monitor(postgres, pg_url, tmp_path) -> None:
    """Real `vigil engine` processes on the system clock: monitors already past their grace, two
    engines look at them at once, one is killed (SIGKILL) as they start; one incident each."""
    now = SystemClock().now()
    world = build_world(postgres, now)
    ids = []
    with postgres.transaction() as s:
        for i in range(20):
            m = heartbeats.create(s, s.get(Service, world.acme_web), heartbeats.MonitorInput(f"job {i}", 3600, 600), now)
            ids.append(m.id)
    with postgres.transaction() as s:  # pinged two hours ago: 50 minutes past the grace
        for mid in ids:
            heartbeats.ping(s, s.get(HeartbeatMonitor, mid), "success", now - timedelta(hours=2), "http")
    procs = [start_engine(pg_url, tmp_path, f"engine{i}") for i in range(3)]
    try:
        time.sleep(0.5)
        procs[0].send_signal(signal.SIGKILL)

        def all_open() -> bool:
            with postgres.session() as s:
                return s.scalar(select(func.count()).select_from(Incident).where(Incident.source == "heartbeat")) == 20
        wait_until(all_open, what="20 heartbeat incidents")
        time.sleep(2.0)  # give a double every chance to show itself
        with postgres.session() as s:
            assert s.scalar(select(func.count()).select_from(Incident)) == 20
            assert s.scalar(select(func.count()).select_from(Alert).where(Alert.source == "heartbeat")) == 20
            assert sorted(s.execute(select(Incident.dedup_key)).scalars()) == sorted(watcher.dedup_key(m) for m in ids)
    finally:
        for p in procs[1:]:
            p.send_signal(signal.SIGTERM)
        for p in procs[1:]:
            assert p.wait(timeout=20) == 0, (tmp_path / "engine1.log").read_text()
        procs[0].wait(timeout=20)
