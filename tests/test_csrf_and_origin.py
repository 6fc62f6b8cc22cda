"""CSRF on every state-changing request made with the session cookie (forms and fetch/JSON),
and the Origin check the WebSocket handshake uses."""

from __future__ import annotations

import pytest

from tests.helpers import post_alert


@pytest.fixture
def incident(client, world) -> int:
    return int(post_alert(client, world.keys["acme_generic"]).get_json()["results"][0]["incident"])


def test_a_form_without_its_token_is_refused_and_changes_nothing(world, browser, incident) -> None:
    alice = browser("alice")
    r = alice.client.post(f"/incidents/{incident}/ack", data={})
    assert r.status_code == 400 and b"This form had expired" in r.data
    r = alice.client.post(f"/incidents/{incident}/ack", data={"csrf_token": "forged"})
    assert r.status_code == 400
    assert alice.get(f"/api/v1/incidents/{incident}").get_json()["incident"]["status"] == "triggered"
    r = alice.client.post(f"/incidents/{incident}/ack", data={"csrf_token": alice.csrf})
    assert r.status_code == 302
    assert alice.get(f"/api/v1/incidents/{incident}").get_json()["incident"]["status"] == "acknowledged"


def test_a_fetch_without_the_header_is_refused(world, browser, incident) -> None:
    alice = browser("alice")
    for method in ("post", "put", "delete"):
        r = getattr(alice.client, method)(f"/api/v1/incidents/{incident}/ack", json={})
        assert r.status_code in (400, 405)
    r = alice.client.post(f"/api/v1/incidents/{incident}/ack", json={}, headers={"X-CSRFToken": "x" * 40})
    assert r.status_code == 400 and "CSRF" in r.get_json()["message"]
    assert alice.post(f"/api/v1/incidents/{incident}/ack", json={}).status_code == 200


def test_another_sessions_token_does_not_fit(world, browser, incident) -> None:
    alice, bob = browser("alice"), browser("bob")
    r = alice.client.post(f"/api/v1/incidents/{incident}/ack", json={}, headers={"X-CSRFToken": bob.csrf})
    assert r.status_code == 400


def test_logging_in_and_out_need_the_token_too(client, world, browser) -> None:
    r = client.post("/login", data={"email": "alice@vigil.test", "password": "correct horse battery staple"})
    assert r.status_code == 400
    alice = browser("alice")
    assert alice.client.post("/logout").status_code == 400  # a forged logout is refused
    assert alice.get("/api/v1/me").status_code == 200


@pytest.mark.parametrize(("origin", "host", "ok"), [
    ("http://vigil.test", "vigil.test", True),  # VIGIL_BASE_URL's origin
    ("http://vigil.test:80", "vigil.test", True),  # default port spelled out
    ("http://10.0.0.2:8000", "10.0.0.2:8000", True),  # the request's own host (reached by address)
    ("https://evil.example", "vigil.test", False),
    ("http://vigil.test.evil.example", "vigil.test", False),
    ("https://vigil.test", "vigil.test", False),  # another scheme is another origin
    ("http://vigil.test:8080", "vigil.test", False),
    ("null", "vigil.test", False),
    (None, "vigil.test", False),
    ("javascript:alert(1)", "vigil.test", False),
])
def test_check_origin_accepts_only_this_site(app, origin, host, ok) -> None:
    from app.web import check_origin

    headers = {"Origin": origin} if origin else {}
    with app.test_request_context("/ws", headers={**headers, "Host": host}):
        from flask import request

        assert check_origin(request) is ok
