"""A client's status page in Chromium at phone size: opened before an incident exists, it shows
the incident within a second, then its public update, then its resolution, without a reload; the
client viewer lands on it and sees no action button anywhere. Screenshots go to
test-artifacts/screens/ (not committed)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from app.models import StatusPage
from tests.e2e.conftest import PHONE, screenshot
from tests.helpers import PASSWORD

COUNT = "() => document.querySelectorAll('#current article.incident').length"


@pytest.fixture(scope="module")
def public_acme(server: Any) -> Any:
    now = datetime.now(UTC)
    with server.db.transaction() as s:
        s.merge(StatusPage(client_id=server.world.acme, visibility="public", title="", color="#1f5fbf",
                           created_at=now, updated_at=now))
    return server


def engineer(server: Any) -> requests.Session:
    s = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(f"{server.url}/login").text).group(1)  # type: ignore[union-attr]
    s.post(f"{server.url}/login", data={"email": "alice@vigil.test", "password": PASSWORD, "csrf_token": token})
    s.headers["X-CSRFToken"] = s.get(f"{server.url}/api/v1/me").json()["csrf_token"]
    return s


def test_the_page_shows_an_incident_its_update_and_its_resolution_live(chromium, public_acme) -> None:
    server = public_acme
    ctx = chromium.new_context(base_url=server.url, **PHONE)
    try:
        page = ctx.new_page()
        page.goto("/status/acme")
        page.wait_for_function("() => document.getElementById('live-state').textContent === 'live'", timeout=10000)
        page.evaluate("() => { window.__sameDocument = true; }")
        before = page.evaluate(COUNT)
        screenshot(page, "status-page-calm-phone")

        r = requests.post(f"{server.url}/api/v1/intake/generic/{server.world.keys['acme_generic']}",
                          json={"summary": "internal: pg-3 replica lag", "dedup_key": f"e2e-status-{time.time()}",
                                "severity": "critical"}, timeout=5)
        iid = r.json()["results"][0]["incident"]
        start = time.monotonic()
        page.wait_for_function(f"() => ({COUNT})() > {before}", timeout=1000)
        shown_in = time.monotonic() - start
        assert shown_in < 1.0
        assert "pg-3" not in page.content()
        screenshot(page, "status-page-incident-phone")

        alice = engineer(server)
        body = f"Payments are slow; a fix is being deployed ({time.time():.0f})."
        assert alice.post(f"{server.url}/api/v1/incidents/{iid}/public-updates",
                          json={"status": "identified", "body": body}).status_code == 201
        page.get_by_text(body).wait_for(timeout=2000)
        assert alice.post(f"{server.url}/api/v1/incidents/{iid}/resolve", json={"summary": "internal"}).ok
        page.wait_for_function(f"() => ({COUNT})() === {before}", timeout=2000)
        assert page.locator(".history article.incident").filter(has_text=body).count() == 1
        assert page.evaluate("() => window.__sameDocument === true")  # never reloaded
        screenshot(page, "status-page-resolved-phone")
    finally:
        ctx.close()


def test_the_client_viewer_lands_on_the_page_and_sees_no_action_button(chromium, public_acme) -> None:
    server = public_acme
    server.post_alert("internal: checkout 500s", f"viewer-{time.time()}", key="acme_generic")
    ctx = chromium.new_context(base_url=server.url, **PHONE)
    try:
        page = ctx.new_page()
        page.goto("/login")
        page.fill("input[name=email]", "victor@acme.test")
        page.fill("input[name=password]", PASSWORD)
        page.click("button.primary")
        page.wait_for_url(re.compile(r".*/status/acme$"))
        page.wait_for_selector("#current article.incident")
        for path in ("/", "/incidents", "/clients/acme"):
            page.goto(path)
            assert page.url.endswith("/status/acme"), path
            buttons = sorted(set(page.locator("button").all_inner_texts()))
            assert buttons == ["Log out", "Subscribe"], buttons
            assert page.locator("[data-action], form[action*='/ack'], form[action*='/resolve']").count() == 0
        screenshot(page, "status-page-client-viewer-phone")
    finally:
        ctx.close()


def test_the_page_falls_back_to_polling_when_websockets_are_blocked(chromium, public_acme) -> None:
    server = public_acme
    ctx = chromium.new_context(base_url=server.url, **PHONE)
    ctx.route(re.compile(r".*/status/acme/ws.*"), lambda route: route.abort())
    ctx.add_init_script("window.WebSocket = function () { throw new Error('blocked by a proxy'); };")
    try:
        page = ctx.new_page()
        page.goto("/status/acme")
        page.wait_for_function("() => document.getElementById('live-state').textContent.startsWith('updated every')",
                               timeout=5000)
    finally:
        ctx.close()
