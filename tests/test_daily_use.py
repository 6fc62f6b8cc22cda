"""Daily use (issue 17): my time zone and my password, the manager's overview, the incident's next
page and deadline, policies and people that can be opened and changed, the notification channels
the server really has, device names, error pages and messages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.accounts.devices import describe
from app.models import EscalationPolicy, Incident, User
from app.web import timefmt
from tests.helpers import PASSWORD, ROOT, add_schedule, post_alert

CHROME_ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/131.0.0.0 Mobile Safari/537.36")
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/18.1 Mobile/15E148 Safari/604.1")


def _set_user(database, uid: int, **values) -> None:
    with database.transaction() as s:
        u = s.get(User, uid)
        for k, v in values.items():
            setattr(u, k, v)


# --- time -------------------------------------------------------------------------------------


def test_times_follow_the_zone_across_a_daylight_saving_change() -> None:
    # Paris moves from CET (UTC+1) to CEST (UTC+2) at 01:00 UTC on 29 March 2026.
    before = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    after = before + timedelta(hours=1)
    assert timefmt.format_instant(before, "time", tz="Europe/Paris", loc="en-GB", name_zone=True) == "01:30 CET"
    assert timefmt.format_instant(after, "time", tz="Europe/Paris", loc="en-GB", name_zone=True) == "03:30 CEST"
    # New York changes on 8 March: a week later it is EDT, five hours behind Paris' CET.
    ny = timefmt.format_instant(datetime(2026, 3, 20, 13, 0, tzinfo=UTC), "time", tz="America/New_York", loc="en-US",
                                name_zone=True)
    assert ny.replace("\u202f", " ") == "9:00 AM EDT"
    # The locale's own words and clock.
    fr = timefmt.format_instant(datetime(2026, 12, 7, 7, 0, tzinfo=UTC), "datetime", tz="Europe/Paris", loc="fr-FR")
    assert fr == "lun. 7 déc. 08:00"
    assert timefmt.zone_label(datetime(2026, 6, 1, tzinfo=UTC), timefmt.zone("Asia/Dubai")) == "GMT+4"


def test_the_countdown_says_how_long_is_left_or_how_late_it_is() -> None:
    now = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    assert timefmt.countdown(now + timedelta(minutes=42, seconds=10), now) == "43 min left"
    assert timefmt.countdown(now + timedelta(hours=1, minutes=5), now) == "1 h 05 min left"
    assert timefmt.countdown(now - timedelta(minutes=3), now) == "overdue by 3 min"


def test_the_incident_page_shows_the_deadline_on_my_clock_with_the_zone(world, browser, client, database) -> None:
    iid = post_alert(client, world.keys["acme_generic"]).get_json()["results"][0]["incident"]
    alice = browser("alice")
    page = alice.get(f"/incidents/{iid}", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    # Created at 03:00 UTC on 2 March, 4-hour SLA: 07:00 UTC is 08:00 in Paris (CET).
    assert re.search(r"respond by <time datetime=\"2026-03-02T07:00:00\+00:00\" data-t=\"time\" data-zone=\"1\">08:00 CET</time>", page)
    assert "4 h 00 min left" in page
    _set_user(database, world.alice, timezone="America/New_York", timezone_auto=False)
    page = alice.get(f"/incidents/{iid}", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert re.search(r">2:00\s?AM EST</time>", page)
    assert 'data-tz="America/New_York" data-tz-auto="0"' in page


def test_the_browser_sets_my_zone_until_i_choose_one(world, browser, database) -> None:
    alice = browser("alice")
    r = alice.post("/settings/profile/timezone", json={"timezone": "Asia/Tokyo", "auto": True})
    assert r.status_code == 200 and r.get_json() == {"timezone": "Asia/Tokyo", "auto": True, "changed": True}
    assert alice.post("/settings/profile/timezone", json={"timezone": "Mars/Olympus", "auto": True}).status_code == 400
    # I choose one on my profile: the browser's report no longer changes it.
    r = alice.form("/settings/profile/timezone", {"timezone": "Europe/Lisbon", "auto": "0"})
    assert r.status_code == 302
    r = alice.post("/settings/profile/timezone", json={"timezone": "Asia/Tokyo", "auto": True})
    assert r.get_json()["changed"] is False
    with database.transaction() as s:
        u = s.get(User, world.alice)
        assert (u.timezone, u.timezone_auto) == ("Europe/Lisbon", False)
    page = alice.get("/settings/profile").get_data(as_text=True)
    assert '<option value="Europe/Lisbon" selected>' in page and "WET" in page


# --- my password ---------------------------------------------------------------------------------


def test_i_change_my_own_password_and_my_other_devices_are_logged_out(world, browser, app) -> None:
    phone, laptop = browser("alice"), browser("alice")
    r = phone.form("/settings/password", {"current": "wrong one", "new": "a brand new secret", "confirm": "a brand new secret"})
    assert r.status_code == 302
    assert "the current password is not right" in phone.get("/settings/profile").get_data(as_text=True)
    phone.form("/settings/password", {"current": PASSWORD, "new": "a brand new secret", "confirm": "a brand new secreT"})
    assert "the two new passwords differ" in phone.get("/settings/profile").get_data(as_text=True)
    phone.form("/settings/password", {"current": PASSWORD, "new": "short", "confirm": "short"})
    assert "at least 10 characters" in phone.get("/settings/profile").get_data(as_text=True)

    r = phone.form("/settings/password", {"current": PASSWORD, "new": "a brand new secret", "confirm": "a brand new secret"})
    assert r.status_code == 302
    assert "Password changed" in phone.get("/settings/profile").get_data(as_text=True)  # this device stays in
    assert laptop.get("/api/v1/me").status_code == 401  # the other one is out
    from tests.helpers import Browser

    fresh = Browser(app.test_client())
    fresh.login("alice", "a brand new secret")
    old = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', old.get("/login").get_data(as_text=True)).group(1)
    assert old.post("/login", data={"email": "alice@vigil.test", "password": PASSWORD, "csrf_token": token}).status_code == 401


# --- the manager's overview ----------------------------------------------------------------------


def test_a_managers_first_screen_is_the_overview_with_the_riskiest_incident_first(world, browser, client, database, clock) -> None:
    add_schedule(database, world, clock.now())
    acme = post_alert(client, world.keys["acme_generic"], summary="Checkout slow", dedup="a").get_json()["results"][0]["incident"]
    clock.advance(minutes=50)
    globex = post_alert(client, world.keys["globex_generic"], summary="Tracking down", dedup="b").get_json()["results"][0]["incident"]
    page = browser("maya").get("/").get_data(as_text=True)
    assert "<h1>Overview</h1>" in page
    # Globex (1 h) is due in 60 min, Acme (4 h) in 3 h 10: Globex first.
    assert page.index("Tracking down") < page.index("Checkout slow")
    assert "1 h 00 min left" in page and "3 h 10 min left" in page
    assert "M+0: Alice Martin will be paged" in page  # the step the engine fires next
    assert "On call now" in page and "Pool A" in page and "Engine" in page and "Today" in page
    assert f"/incidents/{acme}" in page and f"/incidents/{globex}" in page
    # An engineer's first screen is still their own on-call screen; a manager has it at /on-call.
    assert "You are on call" in browser("alice").get("/").get_data(as_text=True)
    assert "You are not on call" in browser("maya").get("/on-call").get_data(as_text=True)


def test_the_overview_names_the_client_a_coverage_gap_leaves_without_a_secondary(world, browser, database, clock) -> None:
    from app.schedules import overrides

    add_schedule(database, world, clock.now())
    with database.transaction() as s:
        start = clock.now() + timedelta(days=3)
        overrides.create(s, s.get(User, world.maya), world.secondary, None, start, start + timedelta(hours=12), clock.now())
    page = browser("maya").get("/").get_data(as_text=True)
    gaps = page[page.index("Coverage gaps"):page.index("On call now")]
    assert "Globex Logistics: no Secondary" in gaps and "Acme" not in gaps


# --- the incident screen -------------------------------------------------------------------------


def test_responder_slots_show_on_dual_on_call_incidents_only(world, browser, client) -> None:
    single = post_alert(client, world.keys["acme_generic"], dedup="a").get_json()["results"][0]["incident"]
    dual = post_alert(client, world.keys["globex_generic"], dedup="b").get_json()["results"][0]["incident"]
    alice = browser("alice")
    assert "Responder #1" not in alice.get(f"/incidents/{single}").get_data(as_text=True)
    page = alice.get(f"/incidents/{dual}").get_data(as_text=True)
    assert "Responder #1" in page and "Responder #2" in page
    alice.form(f"/incidents/{dual}/claim", {"slot": "1"})
    assert f"You are responder #1 on incident #{dual}." in alice.get(f"/incidents/{dual}").get_data(as_text=True)


def test_the_incident_says_who_is_paged_next_and_when(world, browser, client, engine, clock) -> None:
    iid = post_alert(client, world.keys["globex_generic"], dedup="b").get_json()["results"][0]["incident"]
    engine.run_until_idle()  # M+0 fired (Alice): next is M+30, Bob as well
    page = browser("maya").get(f"/incidents/{iid}", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert re.search(r"M\+30: Bob Durand will be paged at <time[^>]*>04:30 CET</time>", page)
    browser("alice").post(f"/api/v1/incidents/{iid}/ack", json={})
    page = browser("maya").get(f"/incidents/{iid}").get_data(as_text=True)
    assert 'id="next-step" role="status" hidden' in page


# --- policies and people -------------------------------------------------------------------------


def test_a_manager_opens_and_changes_a_policy_and_cannot_delete_one_in_use(world, browser, database) -> None:
    maya = browser("maya")
    index = maya.get("/admin").get_data(as_text=True)
    assert f'href="/admin/policies/{world.policy_4h}"' in index and f'href="/admin/people/{world.bob}"' in index
    page = maya.get(f"/admin/policies/{world.policy_4h}").get_data(as_text=True)
    assert "used by Acme Retail, Initech" in page
    r = maya.form(f"/admin/policies/{world.policy_4h}", {
        "name": "Acme 4h v2", "step0_targets": f"user:{world.bob}", "step0_delay": "10",
        "step1_targets": f"user:{world.theo}", "step1_delay": "20", "repeat": "1", "response_minutes": "240"})
    assert r.status_code == 302
    with database.transaction() as s:
        p = s.get(EscalationPolicy, world.policy_4h)
        assert p.name == "Acme 4h v2" and [st.delay_minutes for st in p.steps] == [10, 20]
        assert [t.user_id for t in p.steps[0].targets] == [world.bob]
    r = maya.form(f"/admin/policies/{world.policy_4h}", {"name": "", "repeat": "0", "response_minutes": "240"})
    assert r.status_code == 400 and "A policy needs a name" in r.get_data(as_text=True)
    maya.form(f"/admin/policies/{world.policy_4h}/delete", {})
    assert "in use by Acme Retail, Initech" in maya.get(f"/admin/policies/{world.policy_4h}").get_data(as_text=True)
    assert browser("alice").get(f"/admin/policies/{world.policy_4h}").status_code == 403


def test_a_manager_edits_and_deactivates_a_person_who_then_cannot_log_in(world, browser, app, database) -> None:
    maya = browser("maya")
    r = maya.form(f"/admin/people/{world.carol}", {"name": "Carol Petit-Martin", "email": "carol@vigil.test",
                                                    "role": "engineer", "phone": "+33 6 12 34 56 78"})
    assert r.status_code == 302
    carol_phone = browser("carol")
    r = maya.form(f"/admin/people/{world.carol}/active", {"active": "0"})
    assert r.status_code == 302
    with database.transaction() as s:
        u = s.get(User, world.carol)
        assert (u.name, u.phone, u.active) == ("Carol Petit-Martin", "+33612345678", False)
    assert carol_phone.get("/api/v1/me").status_code == 401  # her sessions ended
    c = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
    assert c.post("/login", data={"email": "carol@vigil.test", "password": PASSWORD, "csrf_token": token}).status_code != 302
    # A manager cannot make an admin, nor change one.
    r = maya.form(f"/admin/people/{world.bob}", {"name": "Bob", "email": "bob@vigil.test", "role": "admin"})
    assert r.status_code == 400 and "Only an admin can make someone an admin" in r.get_data(as_text=True)
    assert "Only an admin can change an admin" in maya.get(f"/admin/people/{world.admin}").get_data(as_text=True)


# --- notifications, devices ----------------------------------------------------------------------


def test_the_notification_screen_promises_only_the_channels_this_server_has(world, browser) -> None:
    page = browser("alice").get("/settings/notifications").get_data(as_text=True)
    assert "SMS</strong>: not set up on this server" in page and "E-mail</strong>: not set up" in page
    assert "a voice call" not in page


def test_the_notification_screen_lists_sms_and_voice_when_configured(database, clock, tmp_path) -> None:
    from tests.helpers import Browser, build_world, make_app

    app = make_app(database, clock, tmp_path, TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_AUTH_TOKEN="t",
                   TWILIO_FROM="+15005550006")
    build_world(database, clock.now())
    page = Browser(app.test_client()).login("alice").get("/settings/notifications").get_data(as_text=True)
    assert "SMS</strong>: available" in page and "Voice call</strong>: available" in page
    assert "this server has, at once: this phone&#39;s lock screen, SMS and a voice call." in page


def test_devices_are_named_as_people_say_them_with_the_raw_string_behind() -> None:
    assert describe(CHROME_ANDROID) == "Chrome on Android"
    assert describe(SAFARI_IPHONE) == "Safari on iPhone"
    assert describe("curl/8.5.0") == "curl"
    assert describe(None) == "unknown device"


def test_the_security_page_names_my_devices(world, app) -> None:
    from tests.helpers import Browser

    b = Browser(app.test_client())
    b.client.environ_base["HTTP_USER_AGENT"] = CHROME_ANDROID
    b.login("alice")
    page = b.get("/settings/security").get_data(as_text=True)
    assert "<strong>Chrome on Android</strong> · this device" in page and CHROME_ANDROID in page
    assert "<table" not in page  # no table to overflow a phone


# --- errors and messages -------------------------------------------------------------------------


def test_unknown_pages_and_refusals_are_styled_pages_that_say_what_to_do(world, browser, client) -> None:
    r = client.get("/no/such/page")
    html = r.get_data(as_text=True)
    assert r.status_code == 404 and 'name="viewport"' in html and "Page not found" in html
    assert "Go to the first screen" in html and "app.css" in html
    r = browser("alice").get("/reports/allowances")
    html = r.get_data(as_text=True)
    assert r.status_code == 403 and "The allowance report is for managers and admins" in html
    assert "change schedules" not in html


def test_a_crash_is_a_styled_500_page(app, client) -> None:
    @app.get("/__boom")
    def boom():  # pragma: no cover - raises
        raise RuntimeError("boom")

    r = client.get("/__boom")
    html = r.get_data(as_text=True)
    assert r.status_code == 500 and "Something went wrong" in html and 'name="viewport"' in html and "boom" not in html


def test_a_wrong_login_keeps_the_email_and_says_what_to_do(world, client) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    r = client.post("/login", data={"email": "alice@vigil.test", "password": "nope", "csrf_token": token})
    html = r.get_data(as_text=True)
    assert r.status_code == 401 and 'value="alice@vigil.test"' in html and "Check both and try again" in html


def test_flashes_start_with_a_capital(world, browser) -> None:
    maya = browser("maya")
    maya.form(f"/admin/clients/{world.acme}/services", {"name": ""})
    page = maya.get(f"/admin/clients/{world.acme}").get_data(as_text=True)
    assert re.search(r'class="flash error" role="alert">[^<]*\.</div>', page)  # a sentence, with its full stop
    # …that starts with a capital on screen, whatever the service layer's wording.
    css = (ROOT / "static/css/app.css").read_text()
    assert ".flash::first-letter" in css and "text-transform:uppercase" in css


def test_demo_history_is_written_once(database, clock, tmp_path) -> None:
    from app import demo

    config = {"SECRET_KEY": "k", "INSTANCE_PATH": str(tmp_path / "instance"), "BASE_URL": "http://vigil.test"}
    first = demo.load(database, config, clock.now())
    demo.load(database, config, clock.now())
    with database.transaction() as s:
        incidents = s.execute(select(Incident)).scalars().all()
    assert 15 <= len(incidents) <= 45 and all(i.status == "resolved" and i.resolution_summary for i in incidents)
    assert any(i.sla_breached_at for i in incidents) and any(i.handed_over_at for i in incidents)
    assert len({i.acknowledged_by_id for i in incidents}) >= 3  # whoever was on call then
    assert [o["layer"] for o in first["oncall"]] == ["Primary", "Secondary"] and all(o["name"] for o in first["oncall"])
    assert first["incident_url"] == "http://vigil.test/incidents/by-key/disk-web-2"
