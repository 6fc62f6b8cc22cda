"""An alert outside its client's coverage hours is recorded, shown, and handled by the client's
choice: held and escalated when coverage starts, or paged at once at low urgency."""

from datetime import UTC, datetime

import pytest

from app.notify.recording import RecordingTransport
from tests.helpers import add_schedule, post_alert

AFTER_HOURS = {"kind": "after_hours", "day_start": "08:00", "day_end": "18:00", "workdays": [0, 1, 2, 3, 4],
               "holidays": "FR"}
MONDAY_10_IN_PARIS = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def rota(world, database, clock):
    return add_schedule(database, world, clock.now())


def set_coverage(browser, client_id: int, coverage: dict, choice: str = "hold", who: str = "maya"):
    return browser(who).put(f"/api/v1/clients/{client_id}/coverage",
                            json={"coverage": coverage, "out_of_coverage": choice, "timezone": "Europe/Paris"})


def pages() -> list[tuple[str, str]]:
    return [(m.user_name, m.urgency) for m in RecordingTransport.sent if m.purpose == "page"]


def test_a_held_alert_is_recorded_and_shown_then_escalated_when_coverage_starts(
    client, rota, browser, engine, clock
) -> None:
    assert set_coverage(browser, rota.acme, AFTER_HOURS).status_code == 200
    clock.set(MONDAY_10_IN_PARIS)  # Acme's own team is at work until 18:00
    r = post_alert(client, rota.keys["acme_generic"])
    assert r.status_code == 202
    iid = r.get_json()["results"][0]["incident"]
    engine.run_until_idle()
    assert pages() == []

    seen = browser("alice").get(f"/api/v1/incidents/{iid}").get_json()
    assert seen["incident"]["status"] == "triggered"
    assert seen["held_until"] == "2026-03-02T17:00:00+00:00"  # 18:00 in Paris
    assert seen["incident"]["response_deadline"] == "2026-03-02T21:00:00+00:00"  # 4 h from then
    assert any("Outside Acme Retail's coverage hours: held" in t["message"] for t in seen["timeline"])
    assert "coverage hours: held" in browser("alice").get(f"/incidents/{iid}").get_data(as_text=True)

    clock.set(datetime(2026, 3, 2, 16, 59, 59, tzinfo=UTC))
    engine.run_until_idle()
    assert pages() == []
    clock.set(datetime(2026, 3, 2, 17, 0, tzinfo=UTC))
    engine.run_until_idle()
    # Resolved at 18:00 Paris, after the 09:00 hand-off: this week's Primary is Bob.
    assert pages() == [("Bob Durand", "high")]


def test_an_alert_outside_coverage_can_be_paged_at_once_at_low_urgency(client, rota, browser, engine, clock) -> None:
    assert set_coverage(browser, rota.acme, AFTER_HOURS, "low_urgency").status_code == 200
    clock.set(MONDAY_10_IN_PARIS)
    iid = post_alert(client, rota.keys["acme_generic"]).get_json()["results"][0]["incident"]
    engine.run_until_idle()
    assert pages() == [("Bob Durand", "low")]
    seen = browser("bob").get(f"/api/v1/incidents/{iid}").get_json()
    assert seen["incident"]["urgency"] == "low" and seen["held_until"] is None
    assert any("notifying at low urgency" in t["message"] for t in seen["timeline"])


def test_an_overnight_window_holds_a_late_alert_until_the_morning(client, world, browser, engine, clock) -> None:
    assert set_coverage(browser, world.globex, {"kind": "window", "start": "07:00", "end": "22:00"}).status_code == 200
    clock.set(datetime(2026, 3, 2, 22, 30, tzinfo=UTC))  # 23:30 in Paris
    post_alert(client, world.keys["globex_generic"])
    engine.run_until_idle()
    assert pages() == []
    clock.set(datetime(2026, 3, 3, 6, 0, tzinfo=UTC))  # 07:00 in Paris
    engine.run_until_idle()
    assert pages() == [("Alice Martin", "high")]


def test_inside_coverage_nothing_changes(client, world, browser, engine, clock) -> None:
    assert set_coverage(browser, world.acme, AFTER_HOURS).status_code == 200
    post_alert(client, world.keys["acme_generic"])  # Monday 04:00 in Paris: a covered night
    engine.run_until_idle()
    assert pages() == [("Alice Martin", "high")]


def test_only_managers_change_coverage_and_bad_hours_are_refused_with_a_reason(world, browser) -> None:
    assert set_coverage(browser, world.acme, AFTER_HOURS, who="alice").status_code == 403
    assert set_coverage(browser, world.acme, AFTER_HOURS, who="victor@acme.test").status_code == 403
    r = set_coverage(browser, world.acme, {"kind": "after_hours", "day_start": "18:00", "day_end": "08:00"})
    assert r.status_code == 400 and "day_start must be before" in r.get_json()["message"]
    r = set_coverage(browser, world.acme, {"kind": "window", "start": "7h", "end": "22:00"})
    assert r.status_code == 400 and "HH:MM" in r.get_json()["message"]
    assert set_coverage(browser, world.acme, AFTER_HOURS, choice="drop").status_code == 400
    assert set_coverage(browser, 999, AFTER_HOURS).status_code == 404


def test_coverage_given_as_the_wrong_json_type_is_refused_with_a_reason_not_a_500(world, browser) -> None:
    maya = browser("maya")
    url = f"/api/v1/clients/{world.acme}/coverage"
    bodies = [
        {"coverage": AFTER_HOURS, "out_of_coverage": {}},
        {"coverage": AFTER_HOURS, "out_of_coverage": []},
        {"coverage": AFTER_HOURS, "out_of_coverage": "hold", "timezone": ["Europe/Paris"]},
        {"coverage": AFTER_HOURS, "out_of_coverage": "hold", "timezone": {"tz": "Europe/Paris"}},
        {"coverage": {**AFTER_HOURS, "tz": ["Europe/Paris"]}, "out_of_coverage": "hold"},
        {"coverage": {**AFTER_HOURS, "holidays": []}, "out_of_coverage": "hold"},
        {"coverage": {"kind": {}}, "out_of_coverage": "hold"},
        {"coverage": [], "out_of_coverage": "hold"},
    ]
    for body in bodies:
        r = maya.put(url, json=body)
        assert r.status_code == 400, (body, r.status_code, r.get_data(as_text=True))
        assert r.is_json and r.get_json()["message"], body


def test_a_manager_sets_coverage_with_the_form(world, browser) -> None:
    maya = browser("maya")
    form = {"timezone": "Europe/Paris", "kind": "window", "start": "07:00", "end": "22:00",
            "days": ["0", "1", "2", "3", "4", "5", "6"], "out_of_coverage": "low_urgency"}
    r = maya.form(f"/clients/{world.acme}/coverage", form)
    assert r.status_code == 302
    page = maya.get("/schedules").get_data(as_text=True)
    assert "07:00-22:00 on Mon, Tue, Wed, Thu, Fri, Sat, Sun (Europe/Paris)" in page
    form["end"] = "nope"
    r = maya.form(f"/clients/{world.acme}/coverage", form)
    assert r.status_code == 400 and "coverage.end must be HH:MM" in r.get_data(as_text=True)
