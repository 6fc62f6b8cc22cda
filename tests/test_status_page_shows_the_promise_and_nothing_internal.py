"""A client's status page: who may read it, what it shows (components derived from incidents,
the promise, public updates) and what it never shows (the internal timeline, alert text, names)."""

from __future__ import annotations

from typing import Any

from app.models import StatusPage
from tests.helpers import post_alert


def make_public(database: Any, client_id: int, now: Any, visibility: str = "public") -> None:
    with database.transaction() as s:
        s.merge(StatusPage(client_id=client_id, visibility=visibility, title="", color="#1f5fbf", created_at=now,
                           updated_at=now))


def summary(client: Any, slug: str = "acme", key: str = "") -> dict[str, Any]:
    r = client.get(f"/status/{slug}/api/v2/summary.json" + (f"?key={key}" if key else ""))
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def test_a_public_page_shows_an_open_incident_and_its_component_down(app, client, world, database, clock) -> None:
    make_public(database, world.acme, clock.now())
    assert summary(client)["status"]["indicator"] == "none"
    assert post_alert(client, world.keys["acme_generic"], summary="Disk full on db-secret-host-7").status_code == 202
    s = summary(client)
    assert s["status"]["indicator"] == "critical"
    assert [c["status"] for c in s["components"]] == ["major_outage"]
    [inc] = s["incidents"]
    assert inc["status"] == "investigating" and inc["name"] == "Major outage of Web shop"
    html = client.get("/status/acme").get_data(as_text=True)
    assert "Major outage of Web shop" in html and "Waiting for an engineer" in html
    assert "db-secret-host-7" not in html and "db-secret-host-7" not in str(s)


def test_the_promise_says_received_acknowledged_and_kept(app, client, world, database, clock, browser) -> None:
    make_public(database, world.acme, clock.now())
    post_alert(client, world.keys["acme_generic"])
    alice = browser("alice")
    iid = alice.get("/api/v1/incidents").get_json()["incidents"][0]["id"]
    clock.advance(minutes=12)
    assert alice.post(f"/api/v1/incidents/{iid}/ack", json={}).status_code == 200
    html = client.get("/status/acme").get_data(as_text=True)
    assert "An engineer is working on it" in html and "kept" in html
    assert "Alice" not in html and "alice@" not in html
    p = client.get("/status/acme/api/v2/incidents.json").get_json()["incidents"][0]
    assert p["incident_updates"] == []
    clock.advance(minutes=30)
    alice.post(f"/api/v1/incidents/{iid}/resolve", json={"summary": "rotated logs on web-2, root password in vault"})
    s = summary(client)
    assert s["incidents"] == [] and s["status"]["indicator"] == "none"
    page = client.get("/status/acme").get_data(as_text=True)
    assert "100.0%" in page and "rotated logs" not in page and "root password" not in page


def test_a_missed_deadline_is_said_missed(app, client, world, database, clock) -> None:
    make_public(database, world.acme, clock.now())
    post_alert(client, world.keys["acme_generic"])
    clock.advance(hours=4, minutes=1)  # the 4-hour contract
    assert "missed" in client.get("/status/acme").get_data(as_text=True)


def test_public_updates_show_and_the_internal_timeline_does_not(app, client, world, database, clock, browser) -> None:
    make_public(database, world.acme, clock.now())
    post_alert(client, world.keys["acme_generic"])
    alice = browser("alice")
    iid = alice.get("/api/v1/incidents").get_json()["incidents"][0]["id"]
    alice.post(f"/api/v1/incidents/{iid}/actions", json={"text": "ssh root@10.9.9.9 with password hunter2"})
    r = alice.post(f"/api/v1/incidents/{iid}/public-updates",
                   json={"status": "identified", "title": "Checkout is slow", "body": "A <script>x()</script> disk filled up."})
    assert r.status_code == 201, r.get_data(as_text=True)
    html = client.get("/status/acme").get_data(as_text=True)
    assert "Checkout is slow" in html and "Identified" in html
    assert "<script>x()" not in html and "&lt;script&gt;" in html
    assert "hunter2" not in html and "10.9.9.9" not in html
    doc = client.get("/status/acme/api/v2/incidents/unresolved.json").get_json()
    [upd] = doc["incidents"][0]["incident_updates"]
    assert upd["status"] == "identified" and "disk filled up" in upd["body"]
    assert "hunter2" not in str(doc)
    # the engineers' timeline says the client was told
    timeline = alice.get(f"/api/v1/incidents/{iid}").get_json()["timeline"]
    assert any(t["kind"] == "public_update" for t in timeline)


def test_a_private_page_without_its_secret_is_not_found(app, client, world, database, clock, browser) -> None:
    make_public(database, world.acme, clock.now(), visibility="private")
    for url in ("/status/acme", "/status/acme/api/v2/summary.json", "/status/acme/history.atom",
                "/status/acme/body", "/status/nonexistent", "/status/acme/api/v2/summary.json?key=wrong"):
        assert client.get(url).status_code == 404, url
    maya = browser("maya")
    secret_url = maya.post(f"/api/v1/clients/{world.acme}/status/secret").get_json()["url"]
    key = secret_url.split("key=")[1]
    assert client.get(f"/status/acme?key={key}").status_code == 200
    assert summary(client, key=key)["page"]["name"] == "Acme Retail"
    assert browser("victor@acme.test").get("/status/acme").status_code == 200  # its client viewer
    assert browser("victor@acme.test").get("/status/initech").status_code == 404  # another client's
    assert browser("dave").get("/status/acme").status_code == 404  # an engineer outside the pool


def test_incident_ids_on_pages_are_not_guessable(app, client, world, database, clock) -> None:
    make_public(database, world.acme, clock.now())
    make_public(database, world.globex, clock.now())
    post_alert(client, world.keys["acme_generic"], dedup="a")
    post_alert(client, world.keys["globex_generic"], dedup="b")
    a = summary(client, "acme")["incidents"][0]["id"]
    b = summary(client, "globex")["incidents"][0]["id"]
    assert len(a) == len(b) == 20 and a != b
    assert not a.isdecimal() and str(1) not in (a, b)


def test_an_engineer_sets_a_component_state_by_hand(app, client, world, database, clock, browser) -> None:
    make_public(database, world.acme, clock.now())
    r = browser("alice").put(f"/api/v1/services/{world.acme_web}/status", json={"override": "degraded_performance"})
    assert r.status_code == 200
    assert summary(client)["components"][0]["status"] == "degraded_performance"
    assert browser("alice").put(f"/api/v1/services/{world.acme_web}/status", json={"override": "on fire"}).status_code == 400
    browser("alice").put(f"/api/v1/services/{world.acme_web}/status", json={"override": None})
    assert summary(client)["components"][0]["status"] == "operational"
    assert browser("victor@acme.test").put(f"/api/v1/services/{world.acme_web}/status", json={"override": None}).status_code == 403
    assert browser("dave").put(f"/api/v1/services/{world.acme_web}/status", json={"override": None}).status_code == 404


def test_a_client_viewer_lands_on_the_status_page(app, world, browser) -> None:
    victor = browser("victor@acme.test")
    for url in ("/", "/incidents", "/clients", "/clients/acme"):
        r = victor.get(url)
        assert r.status_code == 302 and r.headers["Location"].endswith("/status/acme"), url
    page = victor.get("/status/acme").get_data(as_text=True)
    for action in ("Acknowledge", "Resolve", "Escalate", "Hand over", "/ack", "data-action"):
        assert action not in page


def test_the_page_is_cacheable_with_an_etag(app, client, world, database, clock) -> None:
    make_public(database, world.acme, clock.now())
    r = client.get("/status/acme/api/v2/status.json")
    etag = r.headers["ETag"]
    assert client.get("/status/acme/api/v2/status.json", headers={"If-None-Match": etag}).status_code == 304
    post_alert(client, world.keys["acme_generic"])
    assert client.get("/status/acme/api/v2/status.json", headers={"If-None-Match": etag}).status_code == 200


def test_a_handed_over_incident_says_it_waits_on_the_clients_team(app, client, world, database, clock, browser) -> None:
    make_public(database, world.acme, clock.now())
    post_alert(client, world.keys["acme_generic"])
    alice = browser("alice")
    iid = alice.get("/api/v1/incidents").get_json()["incidents"][0]["id"]
    assert alice.post(f"/api/v1/incidents/{iid}/handover", json={"reason": "a bug in their checkout"}).status_code == 200
    html = client.get("/status/acme").get_data(as_text=True)
    assert "Waiting on your team since" in html and "checkout" not in html
    p = summary(client)  # the JSON shape has no such field; the snapshot does
    assert p["incidents"][0]["status"] == "investigating"


def test_one_clients_page_never_shows_anothers_incidents(app, client, world, database, clock) -> None:
    make_public(database, world.acme, clock.now())
    make_public(database, world.globex, clock.now())
    post_alert(client, world.keys["globex_generic"])
    assert summary(client, "acme")["incidents"] == []
    assert [c["name"] for c in summary(client, "acme")["components"]] == ["Web shop"]
    assert len(summary(client, "globex")["incidents"]) == 1


def test_the_look_is_validated_and_escaped(app, client, world, database, clock, browser) -> None:
    maya = browser("maya")
    url = f"/api/v1/clients/{world.acme}/status"
    for body, reason in [({"color": "red;}</style><script>"}, "#rrggbb"), ({"logo_url": "javascript:alert(1)"}, "https"),
                         ({"logo_url": 'https://x.test/"onerror="x'}, "https"), ({"visibility": "secret"}, "visibility")]:
        r = maya.put(url, json=body)
        assert r.status_code == 400 and reason in r.get_json()["message"], body
    r = maya.put(url, json={"visibility": "public", "title": "<img src=x onerror=alert(1)>", "color": "#AA0000",
                            "logo_url": "https://cdn.acme.test/logo.png"})
    assert r.status_code == 200
    page = client.get("/status/acme")
    html = page.get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'data-color="#aa0000"' in html and 'src="https://cdn.acme.test/logo.png"' in html
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "img-src 'self' data: https:" in csp and "'unsafe-inline'" not in csp and "style-src 'self';" in csp
    assert browser("alice").put(url, json={"visibility": "public"}).status_code == 403


def test_uptime_bars_count_a_major_outage_fully_and_a_partial_one_at_30_percent() -> None:
    from datetime import UTC, date, datetime
    from zoneinfo import ZoneInfo

    from app.status.uptime import Outage, days, overall

    utc = ZoneInfo("UTC")
    bars = days([Outage(datetime(2026, 3, 1, 12, tzinfo=UTC), datetime(2026, 3, 2, 0, tzinfo=UTC), "major_outage"),
                 Outage(datetime(2026, 3, 2, 0, tzinfo=UTC), datetime(2026, 3, 2, 12, tzinfo=UTC), "partial_outage")],
                date(2026, 3, 2), 3, utc)
    assert [(b.day.day, b.state, b.uptime) for b in bars] == [
        (28, "operational", 100.0), (1, "major_outage", 50.0), (2, "partial_outage", 85.0)]
    assert overall(bars) == 78.33


def test_a_public_resolved_on_an_open_incident_shows_it_monitored_until_it_is_resolved(
    app, client, world, database, clock, browser
) -> None:
    make_public(database, world.acme, clock.now())
    post_alert(client, world.keys["acme_generic"])
    alice = browser("alice")
    iid = alice.get("/api/v1/incidents").get_json()["incidents"][0]["id"]
    alice.post(f"/api/v1/incidents/{iid}/public-updates", json={"status": "resolved", "body": "Fixed, we think."})
    [inc] = summary(client)["incidents"]
    assert inc["status"] == "monitoring"
    assert summary(client)["components"][0]["status"] == "degraded_performance"
    alice.post(f"/api/v1/incidents/{iid}/resolve", json={"summary": "x"})
    doc = client.get("/status/acme/api/v2/incidents.json").get_json()["incidents"][0]
    assert doc["status"] == "resolved" and [u["status"] for u in doc["incident_updates"]] == ["resolved"]
