"""Daily use in the browser (issue 17): the manager's overview and the side navigation on a
desktop, the incident's countdown and next page, masked secrets with show and copy, a Resolve
that takes two taps and toasts that cover no button, times on the viewer's own clock (set from
the browser's zone), the profile, and styled error pages. Phone (390×844) and desktop (1280×800)
screenshots go to test-artifacts/screens/."""

from __future__ import annotations

import time
from typing import Any

import requests

from tests.e2e.conftest import PHONE, login, screenshot

DESKTOP = {"viewport": {"width": 1280, "height": 800}}


def context(chromium: Any, server: Any, size: dict[str, Any], **extra: Any) -> Any:
    ctx = chromium.new_context(base_url=server.url, **size, **extra)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    return ctx


def both_sizes(chromium: Any, server: Any, who: str, path: str, name: str, **extra: Any) -> None:
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        ctx = context(chromium, server, size, **extra)
        try:
            page = ctx.new_page()
            login(page, who)
            resp = page.goto(path)
            assert resp is not None and resp.status < 500
            page.wait_for_load_state("load")
            screenshot(page, f"{name}-{label}")
        finally:
            ctx.close()


def add_connection(server: Any, client_slug: str = "globex") -> None:
    """Connection info with a password, added by the manager through the API."""
    s = requests.Session()
    html = s.get(f"{server.url}/login").text
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    s.post(f"{server.url}/login", data={"email": "maya@vigil.test", "password": "correct horse battery staple",
                                         "csrf_token": token})
    csrf = s.get(f"{server.url}/api/v1/me").json()["csrf_token"]
    cid = server.world.ids[client_slug]
    r = s.post(f"{server.url}/api/v1/clients/{cid}/connections", headers={"X-CSRFToken": csrf},
               json={"kind": "ssh", "label": f"wms-1 {time.time()}", "host": "10.40.0.10", "user": "oncall",
                     "password": "globex-wms-Night-2026"})
    assert r.status_code == 201, r.text


def test_the_managers_overview_and_the_side_navigation_on_a_desktop(chromium, server) -> None:
    iid = server.post_alert("Warehouse API not answering", f"overview-{time.time()}")
    ctx = context(chromium, server, DESKTOP)
    page = ctx.new_page()
    login(page, "maya")
    page.goto("/")
    assert page.inner_text("h1") == "Overview"
    row = page.locator(f"#open-incidents tr:has(a[href='/incidents/{iid}'])")
    assert "min left" in row.inner_text()
    # The navigation stands at the left, full height; the content uses the width.
    nav = page.locator("nav.tabs").bounding_box()
    assert nav["x"] == 0 and nav["height"] >= 790 and nav["width"] < 260
    assert page.locator("nav.tabs a", has_text="Manage").is_visible()
    assert page.locator("#open-incidents").bounding_box()["width"] > 900
    screenshot(page, "manager-overview-desktop")
    ctx.close()
    both_sizes(chromium, server, "maya", "/", "manager-overview")
    both_sizes(chromium, server, "maya", "/admin", "manager-admin")
    both_sizes(chromium, server, "maya", "/admin/policies/1", "manager-policy")
    both_sizes(chromium, server, "maya", f"/admin/people/{server.world.bob}", "manager-person")
    both_sizes(chromium, server, "maya", "/reports/allowances", "manager-allowances")


def test_the_phone_keeps_its_bottom_tab_bar(new_phone, server) -> None:
    page = new_phone().new_page()
    login(page, "maya")
    nav = page.locator("nav.tabs").bounding_box()
    assert nav["y"] > 700 and nav["width"] == 390
    assert not page.locator("nav.tabs a", has_text="Manage").is_visible()  # in "Me" on a phone


def test_the_incident_counts_down_says_who_is_next_and_masks_the_password(chromium, server) -> None:
    add_connection(server)
    iid = server.post_alert("Tracking queue backlog", f"incident-{time.time()}")
    ctx = context(chromium, server, PHONE, timezone_id="Europe/Paris", locale="en-GB")
    page = ctx.new_page()
    login(page, "alice")
    page.goto(f"/incidents/{iid}")
    assert page.locator("#deadline-countdown").inner_text().endswith("min left")
    page.wait_for_function("() => /M\\+\\d+: .* will be paged at/.test(document.getElementById('next-step').textContent)",
                           timeout=15_000)
    assert page.locator(".slots").is_visible()  # Globex: dual on-call
    form = page.locator("form[data-reveal]").last
    form.locator("button.big").click()
    secret = form.locator(".field.secret")
    secret.wait_for()
    assert "globex-wms-Night-2026" not in secret.inner_text()  # masked
    assert secret.locator(".masked").is_visible()
    secret.locator("button.show").click()
    assert "globex-wms-Night-2026" in secret.inner_text()
    assert secret.locator("button.show").get_attribute("aria-pressed") == "true"
    secret.locator("button.copy:not(.show)").click()
    assert page.evaluate("navigator.clipboard.readText()") == "globex-wms-Night-2026"
    screenshot(page, "engineer-incident-revealed-phone")
    ctx.close()
    both_sizes(chromium, server, "alice", f"/incidents/{iid}", "engineer-incident")


def test_resolve_takes_two_taps_and_toasts_never_cover_it(new_phone, server) -> None:
    iid = server.post_alert("Disk 92% full on web-2", f"resolve-{time.time()}")
    page = new_phone().new_page()
    login(page, "alice")
    page.goto(f"/incidents/{iid}")
    page.click("form[data-slot='1'] button")
    toast = page.locator(".toast").first
    toast.wait_for()
    assert toast.inner_text() == f"You are responder #1 on incident #{iid}."
    page.fill("#resolve-form textarea", "logs rotated")
    button = page.locator("#resolve-button")
    button.scroll_into_view_if_needed()
    # The toast sits at the top and lets taps through: it never covers Resolve.
    t, b = toast.bounding_box(), button.bounding_box()
    assert t["y"] + t["height"] <= b["y"] or t["y"] >= b["y"] + b["height"]
    assert page.evaluate("getComputedStyle(document.getElementById('toasts')).pointerEvents") == "none"
    button.click()
    assert button.inner_text() == f"Tap again to resolve #{iid}"
    assert page.inner_text("#status") != "resolved"
    button.click()
    page.wait_for_function("() => document.getElementById('status').textContent === 'resolved'", timeout=10_000)


def test_slots_are_not_shown_on_a_single_engineer_incident(new_phone, server) -> None:
    iid = server.post_alert("Checkout slow", f"single-{time.time()}", key="acme_generic")
    page = new_phone().new_page()
    login(page, "alice")
    page.goto(f"/incidents/{iid}")
    assert page.locator(".slots").count() == 0
    assert page.locator("#ack-button").is_visible()


def test_times_are_on_the_browsers_clock_until_the_person_chooses(chromium, server) -> None:
    ctx = context(chromium, server, PHONE, timezone_id="America/New_York", locale="en-US")
    page = ctx.new_page()
    login(page, "bob")
    # The first page reported the browser's zone: from now on the server draws on it too.
    page.wait_for_function("() => document.body.dataset.tz === 'America/New_York'", timeout=10_000)
    iid = server.post_alert("Payments timeouts", f"tz-{time.time()}")
    page.goto(f"/incidents/{iid}")
    deadline = page.locator(".deadline time[data-zone]")
    assert deadline.inner_text().endswith(("EST", "EDT"))
    assert deadline.inner_text()[:-4].strip().endswith(("AM", "PM"))  # the locale's 12-hour clock
    # Across a daylight-saving change, the browser's formatting and the server's agree.
    js = page.evaluate("""async () => { const t = await import('/static/js/time.js');
        return [t.formatTime('2026-03-08T06:30:00Z', 'time', {zone: true}), t.formatTime('2026-03-08T07:30:00Z', 'time', {zone: true})]; }""")
    assert [s.replace("\u202f", " ") for s in js] == ["1:30 AM EST", "3:30 AM EDT"]
    page.goto("/settings/profile")
    page.check("input[name=auto][value='0']")
    page.select_option("#tz-select", "Europe/Paris")
    page.click("#tz-form button")
    assert page.locator(".flash.ok").inner_text() == "Your times are now shown in Europe/Paris."
    assert page.evaluate("document.body.dataset.tzAuto") == "0"
    screenshot(page, "engineer-profile-phone")
    ctx.close()


def test_a_wrong_page_is_a_styled_page_with_a_viewport(new_phone, server) -> None:
    page = new_phone().new_page()
    resp = page.goto("/this/does/not/exist")
    assert resp.status == 404
    assert page.inner_text("h1") == "Page not found"
    assert page.evaluate("document.querySelector('meta[name=viewport]') !== null")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    screenshot(page, "error-404-phone")


def test_a_wrong_login_keeps_the_email(new_phone, server) -> None:
    page = new_phone().new_page()
    page.goto("/login")
    page.fill("input[name=email]", "alice@vigil.test")
    page.fill("input[name=password]", "not the password")
    page.click("button.primary")
    assert page.input_value("input[name=email]") == "alice@vigil.test"
    assert page.evaluate("document.activeElement.name") == "password"
    assert "Check both and try again" in page.inner_text("p.error")


def test_an_engineer_adds_an_address_tests_it_sets_night_rules_and_removes_it_on_the_phone(new_phone, server) -> None:
    page = new_phone().new_page()
    login(page, "alice")
    page.goto("/settings/contact")
    address = f"alice.{int(time.time() * 1000)}@example.com"
    page.select_option("#add-method select[name=kind]", "email")
    page.fill("#add-method input[name=address]", address)
    page.fill("#add-method input[name=label]", "personal")
    page.click("#add-method button")
    assert page.locator(".flash.ok").inner_text() == f"Added {address}: send it a test to check it works."
    method = page.locator("#contact-methods li.method", has_text=address)
    assert "Never reached yet." in method.inner_text()

    # The test goes through the engine; this server has no SMTP relay, so the page must say the
    # test did not arrive, and why, instead of leaving the engineer to believe it did.
    page.click(f"button[aria-label='Send a test to {address}']")
    assert page.locator(".flash").first.inner_text().startswith(("Test queued", "E-mail"))
    deadline = time.monotonic() + 20
    # Wait for the test's final state: "waiting to be sent" and "sending" come first.
    final = ("FAILED", "not sent", "delivered")
    while "Last test" not in method.inner_text() or not any(s in method.inner_text() for s in final):
        assert time.monotonic() < deadline, method.inner_text()
        page.wait_for_timeout(300)
        page.reload()
    assert "FAILED" in method.inner_text() or "not sent" in method.inner_text(), method.inner_text()

    # At night, high urgency pages by push only, then a call after 5 minutes.
    blank = page.locator("fieldset.window", has_text="Add a time window").first  # high urgency's
    assert blank.locator("input[name$=_start]").get_attribute("name").startswith("high_")
    blank.locator("input[name$=_start]").fill("22:00")
    blank.locator("input[name$=_end]").fill("08:00")
    for kind in ("push", "voice"):
        blank.locator(f"input[name$=_{kind}]").check()
    blank.locator("select[name$=_voice_delay]").select_option("5")
    page.click("#rules button.primary")
    assert page.locator(".flash.ok").inner_text() == "Notification rules saved."
    night = page.locator("fieldset.window", has_text="From 22:00 to 08:00")
    assert night.locator("input[name$=_push]").is_checked() and night.locator("input[name$=_voice]").is_checked()
    assert not night.locator("input[name$=_sms]").is_checked()
    assert night.locator("select[name$=_voice_delay]").input_value() == "5"
    screenshot(page, "engineer-contact-methods-phone")

    page.click(f"button[aria-label='Remove {address}']")
    assert page.locator(".flash.ok").inner_text() == f"Removed {address}."
    assert page.locator("#contact-methods li.method", has_text=address).count() == 0


def test_the_hand_over_card_follows_the_clients_team_live_until_someone_takes_it(new_phone, server) -> None:
    from datetime import UTC, datetime

    from app.models import ClientContact
    from app.notify import onetime

    acme = server.world.acme
    with server.db.transaction() as s:
        s.add(ClientContact(client_id=acme, position=0, created_at=datetime.now(UTC), hours={"kind": "always"},
                            name="Acme hotline", role="technical hotline", email="hotline@acme.example",
                            channels=["email"], delay_minutes=15))
    try:
        iid = server.post_alert("Checkout answers 500", f"handover-{time.time()}", key="acme_generic")
        page = new_phone().new_page()
        login(page, "alice")
        page.goto(f"/incidents/{iid}")
        page.fill("form[data-action=handover] input[name=reason]", "application bug in checkout")
        page.click("form[data-action=handover] button")
        card = page.locator("#handover .big-line")
        card.wait_for(timeout=10_000)
        assert card.inner_text().startswith("Waiting on Acme")
        # The engine tells the hotline: the card counts the attempt, with no reload.
        page.wait_for_function("() => /1 attempt/.test(document.querySelector('#handover .big-line').textContent)",
                               timeout=15_000)

        # Someone at Acme takes it through their "we have it" link: the open page says so at once.
        with server.db.transaction() as s:
            from app.models import Handover

            h = s.query(Handover).filter_by(incident_id=iid).one()
            link = onetime.mint(s, "handover", now=datetime.now(UTC), hours=1, base_url=server.url,
                                contact="hotline@acme.example", handover_id=h.id, incident_id=iid)
        import re

        browser = requests.Session()  # the hotline's own browser, with no login
        form = browser.get(link.url, timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        r = browser.post(link.url, data={"name": "Hugo at the hotline", "csrf_token": token}, timeout=10)
        assert r.status_code == 200, r.text
        page.wait_for_function(
            "() => document.querySelector('#handover .big-line').textContent.startsWith('Hugo at the hotline of Acme')",
            timeout=10_000)
        screenshot(page, "engineer-handover-taken-phone")
    finally:
        with server.db.transaction() as s:
            s.query(ClientContact).filter_by(client_id=acme).delete()
