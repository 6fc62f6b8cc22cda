"""Managers create and edit schedules and layers with the PWA's forms; a rotation change applies
from now on and never rewrites who was on call before."""

import re
from datetime import UTC, datetime

import pytest

from tests.helpers import add_schedule


def new_layer(name: str, *turns: object, **extra: str) -> dict:
    form = {"name": name, "length": "weekly", "handoff_day": "0", "handoff_time": "09:00",
            "start_date": "2026-02-23", "timezone": "Europe/Paris", **extra}
    for i, t in enumerate(turns):
        form[f"turn_{i}"] = str(t)
    return form


def holders_at(browser, at: str) -> dict[str, str | None]:
    body = browser("maya").get(f"/api/v1/oncall?at={at}").get_json()
    out = {}
    for sched in body["schedules"]:
        for layer in sched["layers"]:
            oc = layer["on_call"]
            out[f"{sched['name']}/{layer['name']}"] = None if oc is None else (oc["user"] or {"name": "open"})["name"]
    return out


def test_a_manager_builds_a_dual_on_call_schedule_with_the_forms(world, browser) -> None:
    maya = browser("maya")
    assert maya.get("/schedules/new").status_code == 200
    r = maya.form("/schedules/new", {"name": "Pool A nights", "pool_id": "1", "timezone": "Europe/Paris",
                                      "kind": "after_hours", "day_start": "08:00", "day_end": "18:00",
                                      "workdays": ["0", "1", "2", "3", "4"], "holidays": "FR"})
    assert r.status_code == 302
    sid = int(r.location.rstrip("/").split("/")[-1])
    assert maya.form(f"/schedules/{sid}/layers/new", new_layer("Primary", world.alice, world.bob)).status_code == 302
    assert maya.form(f"/schedules/{sid}/layers/new", new_layer("Secondary", world.carol, "open")).status_code == 302
    # Monday 2 March, 23:00 in Paris: a covered night; week of 23 Feb is turn 1, of 2 March turn 2.
    assert holders_at(browser, "2026-03-02T22:00:00Z") == {"Pool A nights/Primary": "Bob Durand",
                                                            "Pool A nights/Secondary": "open"}
    assert holders_at(browser, "2026-03-03T10:00:00Z") == {"Pool A nights/Primary": None,
                                                            "Pool A nights/Secondary": None}  # Acme's day
    page = maya.get(f"/schedules/{sid}").get_data(as_text=True)
    assert "weekly, Mondays at 09:00 (Europe/Paris)" in page and "Alice Martin → Bob Durand" in page
    assert "18:00–24:00" in page and "Open slot" in page


def test_bad_input_is_a_message_on_the_form_not_an_error_page(world, browser) -> None:
    maya = browser("maya")
    r = maya.form("/schedules/new", {"name": "", "pool_id": "1", "timezone": "Europe/Paris", "kind": "always"})
    assert r.status_code == 400 and "needs a name" in r.get_data(as_text=True)
    r = maya.form("/schedules/new", {"name": "X", "pool_id": "1", "timezone": "Mars/Olympus", "kind": "always"})
    assert r.status_code == 400 and "unknown time zone" in r.get_data(as_text=True)
    sid = int(maya.form("/schedules/new", {"name": "X", "pool_id": "1", "timezone": "UTC", "kind": "always"})
              .location.split("/")[-1])
    r = maya.form(f"/schedules/{sid}/layers/new", new_layer("Primary", world.dave))
    assert r.status_code == 400 and "active engineer of Pool A" in r.get_data(as_text=True)
    r = maya.form(f"/schedules/{sid}/layers/new", new_layer("Primary"))
    assert r.status_code == 400 and "between 1 and 20 turns" in r.get_data(as_text=True)
    r = maya.form(f"/schedules/{sid}/layers/new", new_layer("Primary", world.alice, handoff_time="9am"))
    assert r.status_code == 400 and "hand-off time must be HH:MM" in r.get_data(as_text=True)


def test_numbers_written_with_other_digits_are_refused_or_ignored_never_a_500(world, browser) -> None:
    """str.isdigit() holds for "\u00b2" (superscript two), which int() refuses: every number from
    a form or a query is checked with isdecimal()."""
    maya = browser("maya")
    assert maya.get("/schedules?weeks=\u00b2").status_code == 200
    for pool in ("\u00b2", str(10**30)):
        r = maya.form("/schedules/new", {"name": "X", "pool_id": pool, "timezone": "UTC", "kind": "always"})
        assert r.status_code == 400, pool
    r = maya.form(f"/clients/{world.acme}/coverage", {"kind": "window", "start": "07:00", "end": "22:00",
                                                     "days": ["\u00b2", "1"], "timezone": "Europe/Paris",
                                                     "out_of_coverage": "hold"})
    assert r.status_code in (200, 302)
    assert browser("admin").get("/admin/audit?before=\u00b2").status_code == 200
    assert browser("admin").get(f"/admin/audit?before={10**30}").status_code == 200
    r = maya.post(f"/api/v1/clients/{world.acme}/connections", json={"kind": "ssh", "label": "x", "port": "\u00b2"})
    assert r.status_code == 400 and "port" in r.get_json()["message"]


def test_changing_a_rotation_applies_from_now_and_keeps_the_past(world, database, clock, browser) -> None:
    w = add_schedule(database, world, clock.now())
    clock.set(datetime(2026, 3, 4, 12, 0, tzinfo=UTC))  # Wednesday: Bob's week on Primary
    r = browser("maya").form(f"/schedules/{w.schedule}/layers/{w.primary}/edit",
                             new_layer("Primary", w.carol, w.theo))
    assert r.status_code == 302
    assert holders_at(browser, "2026-03-01T12:00:00Z")["Pool A on-call/Primary"] == "Alice Martin"  # the past
    assert holders_at(browser, "2026-03-04T11:59:59Z")["Pool A on-call/Primary"] == "Bob Durand"
    # From now on, the new rotation: week 2 since 23 Feb is turn 2 of (Carol, Theo).
    assert holders_at(browser, "2026-03-04T12:00:00Z")["Pool A on-call/Primary"] == "Theo Lead"


def test_a_rotation_planned_for_later_starts_at_its_first_hand_off(world, database, clock, browser) -> None:
    w = add_schedule(database, world, clock.now())
    r = browser("maya").form(f"/schedules/{w.schedule}/layers/{w.primary}/edit",
                             new_layer("Primary", w.theo, start_date="2026-03-16"))
    assert r.status_code == 302
    assert holders_at(browser, "2026-03-10T12:00:00Z")["Pool A on-call/Primary"] == "Carol Petit"  # unchanged
    assert holders_at(browser, "2026-03-16T08:00:00Z")["Pool A on-call/Primary"] == "Theo Lead"
    page = browser("maya").get(f"/schedules/{w.schedule}").get_data(as_text=True)
    assert "(from <time" in page  # the planned rotation is shown with when it applies


def test_a_layer_paged_by_a_policy_cannot_be_deleted(world, database, clock, browser) -> None:
    w = add_schedule(database, world, clock.now())
    maya = browser("maya")
    r = maya.form(f"/schedules/{w.schedule}/layers/{w.secondary}/delete", {})
    assert "is paged by Globex 1h by layer" in maya.get(r.location).get_data(as_text=True)
    r = maya.form(f"/schedules/{w.schedule}/delete", {})
    assert "is paged by" in maya.get(r.location).get_data(as_text=True)


# Alice sees her pool's schedule but may not change it (403); a client viewer sees no schedule at
# all, so one named by its id is not found (404), like another pool's for an engineer.
@pytest.mark.parametrize("who, status, on_schedule", [("alice", 403, 403), ("victor@acme.test", 403, 404)])
def test_only_managers_change_schedules(world, database, clock, browser, who: str, status: int, on_schedule: int) -> None:
    w = add_schedule(database, world, clock.now())
    b = browser(who)
    assert b.get("/schedules/new").status_code == status
    assert b.form(f"/schedules/{w.schedule}/layers/{w.primary}/edit", new_layer("P", w.alice)).status_code == on_schedule
    assert b.form(f"/schedules/{w.schedule}/overrides", {"layer_id": w.primary}).status_code == on_schedule


def test_forms_without_the_csrf_token_are_refused(world, database, clock, browser) -> None:
    w = add_schedule(database, world, clock.now())
    r = browser("maya").client.post(f"/schedules/{w.schedule}/delete", data={})
    assert r.status_code == 400 and b"CSRF" in r.data


def test_a_layer_or_override_is_removed_only_through_its_own_schedule(world, database, clock, browser) -> None:
    w = add_schedule(database, world, clock.now())
    maya = browser("maya")
    other = int(maya.form("/schedules/new", {"name": "Other", "pool_id": "1", "timezone": "UTC", "kind": "always"})
                .location.split("/")[-1])
    r = maya.form(f"/schedules/{w.schedule}/overrides", {"layer_id": w.primary, "user_id": str(w.carol),
                                                        "start": "2026-03-03T20:00", "end": "2026-03-04T08:00"})
    assert r.status_code == 302
    page = maya.get(f"/schedules/{w.schedule}").get_data(as_text=True)
    override = int(re.search(r"/overrides/(\d+)/delete", page).group(1))
    # Another schedule's address does not reach them: 404, and both are still there.
    assert maya.form(f"/schedules/{other}/layers/{w.primary}/delete", {}).status_code == 404
    assert maya.form(f"/schedules/{other}/overrides/{override}/delete", {}).status_code == 404
    page = maya.get(f"/schedules/{w.schedule}").get_data(as_text=True)
    assert f"/overrides/{override}/delete" in page and f"/layers/{w.primary}/edit" in page
