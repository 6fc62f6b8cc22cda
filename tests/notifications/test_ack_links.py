"""One-time acknowledgement links: a tap acknowledges on a device where nobody is logged in;
a GET never changes anything; a used, expired or altered link is refused with a clear page;
a double tap or a replay never acknowledges twice."""

from __future__ import annotations

import re

import requests

from app.models import Incident
from app.notify.recording import RecordingTransport
from tests.notifications.reach import open_incident, timeline


def page_link(client, world, engine, who: str = "Alice Martin") -> tuple[int, str]:
    iid = open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()
    [msg] = [m for m in RecordingTransport.sent if m.user_name == who]
    assert msg.ack_url.endswith("/a/" + msg.ack_token)
    return iid, msg.ack_token


def form_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'name="(csrf_token|op_id)" value="([^"]+)"', html))


def status(database, iid: int) -> str:
    with database.transaction() as s:
        return s.get(Incident, iid).status


def test_opening_the_link_shows_the_incident_and_changes_nothing(client, world, engine, database, app) -> None:
    iid, token = page_link(client, world, engine)
    for _ in range(3):  # a mail scanner, a link preview, the person
        r = requests.get(f"{app.config['BASE_URL']}/a/{token}", timeout=5)
        assert r.status_code == 200
    assert "Acme Retail / Web shop" in r.text and "Disk full on web-2" in r.text
    assert "Acknowledge as Alice Martin" in r.text
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "same-origin"
    assert status(database, iid) == "triggered"


def test_one_tap_acknowledges_as_the_links_user_without_a_login(client, world, engine, database, app) -> None:
    iid, token = page_link(client, world, engine)
    phone = app.test_client()  # nobody logged in on this device
    fields = form_fields(phone.get(f"/a/{token}").get_data(as_text=True))
    r = phone.post(f"/a/{token}", data=fields)
    assert r.status_code == 200 and f"#{iid} acknowledged." in r.get_data(as_text=True)
    assert status(database, iid) == "acknowledged"
    assert timeline(database, iid, "acknowledged") == ["Acknowledged by Alice Martin (via link)."]


def test_a_double_tap_shows_the_same_outcome_and_acknowledges_once(client, world, engine, database, app) -> None:
    iid, token = page_link(client, world, engine)
    phone = app.test_client()
    fields = form_fields(phone.get(f"/a/{token}").get_data(as_text=True))
    first = phone.post(f"/a/{token}", data=fields)
    second = phone.post(f"/a/{token}", data=fields)
    assert first.status_code == second.status_code == 200
    assert f"#{iid} acknowledged." in second.get_data(as_text=True)
    assert len(timeline(database, iid, "acknowledged")) == 1


def test_a_used_link_is_refused_with_a_clear_page(client, world, engine, app) -> None:
    iid, token = page_link(client, world, engine)
    phone, laptop = app.test_client(), app.test_client()
    stale = form_fields(laptop.get(f"/a/{token}").get_data(as_text=True))  # the mail, opened earlier
    phone.post(f"/a/{token}", data=form_fields(phone.get(f"/a/{token}").get_data(as_text=True)))
    page = app.test_client().get(f"/a/{token}")
    assert page.status_code == 410 and "already used" in page.get_data(as_text=True)
    assert "Acknowledge as" not in page.get_data(as_text=True)
    r = laptop.post(f"/a/{token}", data=stale)
    assert r.status_code == 410 and "already used" in r.get_data(as_text=True)


def test_an_expired_link_is_refused(client, world, engine, clock, database, app) -> None:
    iid, token = page_link(client, world, engine)
    clock.advance(hours=23, minutes=59)
    assert app.test_client().get(f"/a/{token}").status_code == 200  # a night on a lock screen is fine
    clock.advance(minutes=1)
    page = app.test_client().get(f"/a/{token}")
    assert page.status_code == 410 and "expired" in page.get_data(as_text=True)
    r = requests.post(f"{app.config['BASE_URL']}/api/v1/ack-links/{token}", json={"op_id": "sw-1"}, timeout=5)
    assert r.status_code == 410 and r.json()["reason"] == "expired"
    assert status(database, iid) == "triggered"


def test_a_tampered_link_is_refused(client, world, engine, database, app) -> None:
    iid, token = page_link(client, world, engine)
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (altered, "short", "x" * 40 + "!"):
        page = app.test_client().get(f"/a/{bad}")
        assert page.status_code == 404 and "not valid" in page.get_data(as_text=True)
    r = requests.post(f"{app.config['BASE_URL']}/api/v1/ack-links/{altered}", json={}, timeout=5)
    assert r.status_code == 404 and r.json()["reason"] == "unknown"
    assert status(database, iid) == "triggered"


def test_the_page_form_needs_its_csrf_token(client, world, engine, database, app) -> None:
    iid, token = page_link(client, world, engine)
    phone = app.test_client()
    fields = form_fields(phone.get(f"/a/{token}").get_data(as_text=True))
    r = phone.post(f"/a/{token}", data={"op_id": fields["op_id"]})
    assert r.status_code == 400
    assert status(database, iid) == "triggered"


def test_the_service_worker_acknowledges_with_the_token_and_a_replay_gets_the_same_answer(
    client, world, engine, database, app
) -> None:
    iid, token = page_link(client, world, engine)
    url = f"{app.config['BASE_URL']}/api/v1/ack-links/{token}"
    first = requests.post(url, json={"op_id": "sw-7f3a"}, timeout=5)
    assert first.status_code == 200
    assert first.json()["outcome"] == "acknowledged" and first.json()["incident"]["status"] == "acknowledged"
    replay = requests.post(url, json={"op_id": "sw-7f3a"}, timeout=5)
    assert replay.status_code == 200 and replay.json()["outcome"] == "acknowledged" and replay.json()["replayed"]
    other = requests.post(url, json={"op_id": "sw-other"}, timeout=5)
    assert other.status_code == 410 and other.json()["reason"] == "used"
    assert len(timeline(database, iid, "acknowledged")) == 1


def test_a_link_tapped_after_someone_else_acknowledged_says_who(client, world, engine, browser, app) -> None:
    iid, token = page_link(client, world, engine)
    browser("bob").post(f"/api/v1/incidents/{iid}/ack")
    page = app.test_client().get(f"/a/{token}")
    assert page.status_code == 200 and "acknowledged</strong> by Bob Durand" in page.get_data(as_text=True)
    assert "Acknowledge as" not in page.get_data(as_text=True)
    r = requests.post(f"{app.config['BASE_URL']}/api/v1/ack-links/{token}", json={"op_id": "late"}, timeout=5)
    assert r.status_code == 409 and r.json()["outcome"] == "acknowledged_by_other"
    assert "Bob Durand" in r.json()["message"]
