"""Overrides (someone covers a night or a weekend) and swaps win over the rotation, the later
override over the earlier, and show in the timeline; removing one restores what was."""

from datetime import UTC, datetime

import pytest

from tests.helpers import add_schedule


@pytest.fixture
def rota(world, database, clock):
    return add_schedule(database, world, clock.now())


def primary_at(browser, at: str) -> tuple[str, str]:
    oc = browser("maya").get(f"/api/v1/oncall?at={at}").get_json()["schedules"][0]["layers"][0]["on_call"]
    return (oc["user"] or {"name": "open"})["name"], oc["source"]


def cover(browser, rota, who: int | str, start: str, end: str, note: str = ""):
    maya = browser("maya")
    r = maya.form(f"/schedules/{rota.schedule}/overrides",
                  {"layer_id": rota.primary, "user_id": str(who), "start": start, "end": end, "note": note})
    assert r.status_code == 302
    return maya, maya.get(r.location).get_data(as_text=True)


def test_someone_covers_a_night_and_it_shows_highlighted_in_the_timeline(rota, browser) -> None:
    # Local times on the schedule's clock: Tuesday 3 March, 20:00 to 08:00 in Paris.
    _, page = cover(browser, rota, rota.carol, "2026-03-03T20:00", "2026-03-04T08:00", "Bob's evening off")
    assert "Override saved." in page
    assert primary_at(browser, "2026-03-03T19:00:00Z") == ("Carol Petit", "override")
    assert primary_at(browser, "2026-03-04T07:00:00Z") == ("Bob Durand", "rotation")
    assert 'class="piece override"' in page and "20:00–24:00" in page
    assert "instead of Bob Durand" in page and "Bob&#39;s evening off" in page


def test_overlapping_overrides_the_later_wins_and_leaves_no_hole(rota, browser) -> None:
    cover(browser, rota, rota.carol, "2026-03-06T18:00", "2026-03-09T09:00")  # the weekend: Carol
    cover(browser, rota, rota.theo, "2026-03-07T08:00", "2026-03-07T20:00")  # Saturday daytime: Theo
    assert primary_at(browser, "2026-03-07T06:00:00Z") == ("Carol Petit", "override")
    assert primary_at(browser, "2026-03-07T12:00:00Z") == ("Theo Lead", "override")
    assert primary_at(browser, "2026-03-07T19:00:00Z") == ("Carol Petit", "override")  # Carol again after
    assert primary_at(browser, "2026-03-09T08:00:00Z") == ("Carol Petit", "rotation")  # her own week next


def test_two_shifts_are_swapped_and_removing_the_overrides_restores_the_rotation(rota, browser, database) -> None:
    maya = browser("maya")
    r = maya.form(f"/schedules/{rota.schedule}/swap", {"layer_id": rota.primary, "a": "2026-03-02T08:00:00+00:00",
                                                        "b": "2026-03-09T08:00:00+00:00"})
    assert "Shifts swapped." in maya.get(r.location).get_data(as_text=True)
    assert primary_at(browser, "2026-03-04T12:00:00Z") == ("Carol Petit", "override")
    assert primary_at(browser, "2026-03-11T12:00:00Z") == ("Bob Durand", "override")
    from app.models import ScheduleOverride

    with database.transaction() as s:
        ids = [o.id for o in s.query(ScheduleOverride).all()]
    for oid in ids:
        assert maya.form(f"/schedules/{rota.schedule}/overrides/{oid}/delete", {}).status_code == 302
    assert primary_at(browser, "2026-03-04T12:00:00Z") == ("Bob Durand", "rotation")


def test_a_swap_needs_two_shifts_of_the_layer(rota, browser) -> None:
    maya = browser("maya")
    r = maya.form(f"/schedules/{rota.schedule}/swap", {"layer_id": rota.primary, "a": "2026-03-02T08:00:00+00:00",
                                                        "b": "2026-03-02T08:00:00+00:00"})
    assert "choose two different shifts" in maya.get(r.location).get_data(as_text=True)
    r = maya.form(f"/schedules/{rota.schedule}/swap", {"layer_id": rota.primary, "a": "2026-03-02T08:00:00",
                                                        "b": "next week"})
    assert "choose the two shifts to swap" in maya.get(r.location).get_data(as_text=True)


def test_an_override_must_be_a_pool_engineer_over_a_real_stretch(rota, browser) -> None:
    maya = browser("maya")
    for who, start, end, reason in [
        (rota.dave, "2026-03-03T20:00", "2026-03-04T08:00", "active engineer of Pool A"),
        (rota.carol, "2026-03-04T08:00", "2026-03-03T20:00", "the end must be after the start"),
        (rota.carol, "2026-03-03T20:00", "2026-07-04T08:00", "at most 92 days"),
        (rota.carol, "tonight", "2026-03-04T08:00", "must be a date and time"),
    ]:
        r = maya.form(f"/schedules/{rota.schedule}/overrides",
                      {"layer_id": rota.primary, "user_id": str(who), "start": start, "end": end})
        assert reason in maya.get(r.location).get_data(as_text=True), reason


def test_leaving_a_stretch_open_offers_it_to_the_pool(rota, browser) -> None:
    cover(browser, rota, "", "2026-03-05T20:00", "2026-03-06T08:00")
    assert primary_at(browser, "2026-03-05T20:00:00Z") == ("open", "override")
    slots = browser("theo").get("/api/v1/open-slots").get_json()["open_slots"]  # Carol is Secondary then
    assert [(s["layer"]["name"], s["start"]) for s in slots] == [("Primary", "2026-03-05T19:00:00+00:00")]
    assert datetime(2026, 3, 5, 19, tzinfo=UTC)  # 20:00 in Paris is 19:00 UTC
