"""Maintenance windows: during one, an alert for its services is recorded on the timeline but
does not page until the window ends (unless the window lets pages through); a window can start
and end early; the page and the engineers see it ahead and while it runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.models import StatusPage
from app.notify.recording import RecordingTransport
from tests.helpers import post_alert


@pytest.fixture
def public_acme(world, database, clock):
    with database.transaction() as s:
        s.merge(StatusPage(client_id=world.acme, visibility="public", title="", color="#1f5fbf",
                           created_at=clock.now(), updated_at=clock.now()))
    return world


def pages() -> list[str]:
    return [m.user_name for m in RecordingTransport.sent if m.purpose == "page"]


def plan(browser, world, clock, start_in: int = 0, minutes: int = 60, **extra):
    start = clock.now() + timedelta(minutes=start_in)
    r = browser("alice").post(f"/api/v1/clients/{world.acme}/maintenance", json={
        "title": "Database upgrade", "body": "Postgres 17", "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=minutes)).isoformat(), **extra})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def test_an_alert_during_a_window_is_recorded_not_paged_and_escalates_when_it_ends(
    client, public_acme, browser, engine, clock
) -> None:
    w = plan(browser, public_acme, clock, minutes=60)
    iid = post_alert(client, public_acme.keys["acme_generic"]).get_json()["results"][0]["incident"]
    engine.run_until_idle()
    assert pages() == []
    seen = browser("alice").get(f"/api/v1/incidents/{iid}").get_json()
    assert any("maintenance window \u201cDatabase upgrade\u201d: recorded, not paged" in t["message"]
               for t in seen["timeline"])
    assert w["state"] == "scheduled"
    clock.advance(minutes=59, seconds=59)
    engine.run_until_idle()
    assert pages() == []
    clock.advance(seconds=1)
    engine.run_until_idle()
    assert pages() == ["Alice Martin"]
    clock.advance(seconds=15)  # the engine looks at windows every 15 s; the held page did not wait for it
    engine.run_until_idle()
    assert browser("alice").get(f"/api/v1/clients/{public_acme.acme}/maintenance").get_json()[
        "maintenance"][0]["state"] == "completed"


def test_a_window_that_ends_early_lets_its_held_incidents_escalate_at_once(
    client, public_acme, browser, engine, clock
) -> None:
    w = plan(browser, public_acme, clock, minutes=120)
    post_alert(client, public_acme.keys["acme_generic"])
    clock.advance(minutes=10)
    engine.run_until_idle()
    assert pages() == []
    r = browser("alice").post(f"/api/v1/maintenance/{w['id']}/end")
    assert r.status_code == 200 and r.get_json()["state"] == "completed"
    engine.run_until_idle()
    assert pages() == ["Alice Martin"]
    assert browser("alice").post(f"/api/v1/maintenance/{w['id']}/end").status_code == 409


def test_a_window_that_lets_pages_through_pages_as_usual(client, public_acme, browser, engine, clock) -> None:
    plan(browser, public_acme, clock, hold_pages=False)
    post_alert(client, public_acme.keys["acme_generic"])
    engine.run_until_idle()
    assert pages() == ["Alice Martin"]


def test_a_window_on_another_service_holds_nothing_here(client, public_acme, browser, engine, clock) -> None:
    r = browser("maya").post(f"/api/v1/clients/{public_acme.acme}/maintenance", json={
        "title": "x", "starts_at": clock.now().isoformat(), "ends_at": (clock.now() + timedelta(hours=1)).isoformat(),
        "service_ids": [public_acme.globex_wh]})
    assert r.status_code == 400 and "this client's services" in r.get_json()["message"]
    post_alert(client, public_acme.keys["globex_generic"])  # Globex has no window
    engine.run_until_idle()
    assert pages()


def test_a_window_is_shown_ahead_then_running_and_can_start_early(client, public_acme, browser, engine, clock) -> None:
    w = plan(browser, public_acme, clock, start_in=120, minutes=60)
    doc = client.get("/status/acme/api/v2/scheduled-maintenances/upcoming.json").get_json()
    [m] = doc["scheduled_maintenances"]
    assert m["status"] == "scheduled" and m["name"] == "Database upgrade" and m["impact"] == "maintenance"
    assert "Scheduled maintenance: Database upgrade" in client.get("/status/acme").get_data(as_text=True)
    assert "Database upgrade" in browser("alice").get("/clients/acme/status").get_data(as_text=True)
    # an alert before the window pages as usual
    post_alert(client, public_acme.keys["acme_generic"], dedup="before")
    engine.run_until_idle()
    assert pages() == ["Alice Martin"]
    assert browser("alice").post(f"/api/v1/maintenance/{w['id']}/start").get_json()["state"] == "in_progress"
    summary = client.get("/status/acme/api/v2/summary.json").get_json()
    assert summary["components"][0]["status"] == "under_maintenance"
    assert client.get("/status/acme/api/v2/scheduled-maintenances/active.json").get_json()["scheduled_maintenances"]
    post_alert(client, public_acme.keys["acme_generic"], dedup="during")
    engine.run_until_idle()
    assert pages() == ["Alice Martin"]  # held


def test_the_engine_moves_windows_by_the_clock(client, public_acme, browser, engine, clock) -> None:
    plan(browser, public_acme, clock, start_in=30, minutes=30)
    clock.advance(minutes=30)
    engine.run_until_idle()
    listing = browser("alice").get(f"/api/v1/clients/{public_acme.acme}/maintenance").get_json()["maintenance"]
    assert listing[0]["state"] == "in_progress"
    clock.advance(minutes=30)
    engine.run_until_idle()
    listing = browser("alice").get(f"/api/v1/clients/{public_acme.acme}/maintenance").get_json()["maintenance"]
    assert listing[0]["state"] == "completed"
    assert client.get("/status/acme/api/v2/summary.json").get_json()["scheduled_maintenances"] == []


def test_bad_windows_are_refused_with_a_reason(public_acme, browser, clock) -> None:
    b = browser("alice")
    url = f"/api/v1/clients/{public_acme.acme}/maintenance"
    t = clock.now()
    for body, reason in [
        ({"title": "x", "starts_at": "tomorrow", "ends_at": t.isoformat()}, "ISO 8601"),
        ({"title": "x", "starts_at": t.isoformat(), "ends_at": t.isoformat()}, "after starts_at"),
        ({"title": "x", "starts_at": "2026-03-02T03:00:00", "ends_at": "2026-03-02T04:00:00"}, "offset"),
        ({"title": "", "starts_at": t.isoformat(), "ends_at": (t + timedelta(hours=1)).isoformat()}, "title"),
        ({"title": "x", "starts_at": t.isoformat(), "ends_at": (t + timedelta(days=30)).isoformat()}, "at most"),
    ]:
        r = b.post(url, json=body)
        assert r.status_code == 400 and reason in r.get_json()["message"], (body, r.get_json())
