"""Open slots are offered to the pool's engineers and claimed with one tap; the first claim wins."""

from datetime import UTC, datetime

import pytest

from app.models import User
from app.schedules import overrides
from tests.helpers import add_schedule

NIGHT = (datetime(2026, 3, 3, 17, 0, tzinfo=UTC), datetime(2026, 3, 4, 7, 0, tzinfo=UTC))  # Tue 18:00-Wed 08:00 Paris


@pytest.fixture
def rota(world, database, clock):
    """Pool A's schedule, with Tuesday night of Secondary left open (Carol is away)."""
    w = add_schedule(database, world, clock.now())
    with database.transaction() as s:
        overrides.create(s, s.get(User, w.maya), w.secondary, None, *NIGHT, clock.now(), "Carol is away")
    return w


def offered(browser, who: str) -> list[dict]:
    return browser(who).get("/api/v1/open-slots?weeks=2").get_json()["open_slots"]


def claim(browser, who: str, layer_id: int, start: str = "2026-03-03T17:00:00+00:00"):
    return browser(who).post("/api/v1/open-slots/claim", json={"layer_id": layer_id, "start": start})


def test_the_slot_is_offered_to_the_pool_except_to_whoever_holds_the_other_layer_then(rota, browser) -> None:
    (slot,) = offered(browser, "alice")
    assert (slot["layer"]["name"], slot["start"], slot["end"]) == (
        "Secondary", "2026-03-03T17:00:00+00:00", "2026-03-04T07:00:00+00:00")
    assert slot["eligible"] is True and slot["claim"] == {"layer_id": rota.secondary, "start": slot["start"]}
    assert offered(browser, "bob") == []  # Bob is this week's Primary: he cannot be both engineers
    assert offered(browser, "dave") == []  # not in the pool
    (seen,) = offered(browser, "maya")  # managers see every slot ahead of time
    assert seen["eligible"] is False
    assert browser("victor@acme.test").get("/api/v1/open-slots").status_code == 403


def test_a_claim_makes_the_slot_the_claimers_shift_everywhere(rota, browser) -> None:
    r = claim(browser, "carol", rota.secondary)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["shift"]["user"]["name"] == "Carol Petit"
    at_night = browser("maya").get("/api/v1/oncall?at=2026-03-03T23:00:00Z").get_json()
    secondary = at_night["schedules"][0]["layers"][1]["on_call"]
    assert (secondary["user"]["name"], secondary["source"]) == ("Carol Petit", "override")
    mine = browser("carol").get("/api/v1/me/shifts?weeks=1").get_json()["shifts"]
    assert ("2026-03-03T17:00:00+00:00", "2026-03-04T07:00:00+00:00", "override") in [
        (x["start"], x["end"], x["source"]) for x in mine]
    assert offered(browser, "alice") == []


def test_a_second_claim_is_told_who_took_the_slot(rota, browser) -> None:
    assert claim(browser, "carol", rota.secondary).status_code == 200
    r = claim(browser, "alice", rota.secondary)
    assert r.status_code == 409
    body = r.get_json()
    assert "already taken by Carol Petit" in body["message"]
    assert body["holder"] == {"id": rota.carol, "name": "Carol Petit"}


def test_claims_are_refused_to_the_other_layer_holder_outsiders_and_managers_outside_the_pool(rota, browser) -> None:
    r = claim(browser, "bob", rota.secondary)
    assert r.status_code == 409 and "already on call on Primary" in r.get_json()["message"]
    assert claim(browser, "dave", rota.secondary).status_code == 404
    assert claim(browser, "maya", rota.secondary).status_code == 403
    assert claim(browser, "alice", 999).status_code == 404
    assert claim(browser, "alice", rota.secondary, "2026-03-05T17:00:00+00:00").status_code == 409  # not a slot
    assert claim(browser, "alice", rota.secondary, "soon").status_code == 400
    assert browser("alice").post("/api/v1/open-slots/claim", json={"layer_id": rota.secondary}).status_code == 400


def test_a_slot_already_begun_is_claimed_from_now_on(rota, browser, clock) -> None:
    clock.set(datetime(2026, 3, 3, 20, 0, tzinfo=UTC))
    (slot,) = offered(browser, "theo")
    assert slot["in_progress"] is True
    r = claim(browser, "theo", rota.secondary, slot["start"])
    assert r.status_code == 200 and r.get_json()["shift"]["start"] == "2026-03-03T20:00:00+00:00"
    # What went before stays an open slot: nobody is paid for it.
    early = browser("maya").get("/api/v1/oncall?at=2026-03-03T19:00:00Z").get_json()
    assert early["schedules"][0]["layers"][1]["on_call"]["open_slot"] is True


def test_the_open_slots_page_claims_with_one_tap(rota, browser) -> None:
    alice = browser("alice")
    page = alice.get("/open-slots").get_data(as_text=True)
    assert "Secondary" in page and "Claim" in page
    r = alice.form("/open-slots/claim", {"layer_id": rota.secondary, "start": "2026-03-03T17:00:00+00:00"})
    assert r.status_code == 302
    assert "You hold Secondary" in alice.get("/open-slots").get_data(as_text=True)
    carol = browser("carol")
    r = carol.form("/open-slots/claim", {"layer_id": rota.secondary, "start": "2026-03-03T17:00:00+00:00"})
    assert "already taken by Alice Martin" in carol.get(r.location).get_data(as_text=True)
