"""Who is on call, now and at any instant, per schedule and per client; and who may ask."""

from datetime import UTC, datetime

import pytest

from app.models import User
from app.schedules import store as schedule_store
from tests.helpers import add_schedule


@pytest.fixture
def rota(world, database, clock):
    return add_schedule(database, world, clock.now())


def holders(body: dict) -> dict[str, str | None]:
    (schedule,) = body["schedules"]
    return {
        layer["name"]: None if layer["on_call"] is None else (layer["on_call"]["user"] or {}).get("name", "open")
        for layer in schedule["layers"]
    }


def test_now_each_layer_has_its_holder_and_the_shift_it_is_in(rota, browser) -> None:
    body = browser("maya").get("/api/v1/oncall").get_json()
    assert body["at"] == "2026-03-02T03:00:00+00:00"
    assert holders(body) == {"Primary": "Alice Martin", "Secondary": "Bob Durand"}
    primary = body["schedules"][0]["layers"][0]["on_call"]
    assert (primary["start"], primary["end"], primary["source"]) == (
        "2026-02-23T08:00:00+00:00", "2026-03-02T08:00:00+00:00", "rotation")


def test_per_client_the_people_on_call_through_its_pool(rota, browser) -> None:
    clients = {c["slug"]: c for c in browser("maya").get("/api/v1/oncall").get_json()["clients"]}
    assert [p["user"]["name"] for p in clients["globex"]["on_call"]] == ["Alice Martin", "Bob Durand"]
    assert clients["globex"]["covered"] is True
    assert clients["initech"]["on_call"] == [] and clients["initech"]["pool"] is None


def test_at_any_instant_including_after_the_hand_off(rota, browser) -> None:
    body = browser("maya").get("/api/v1/oncall?at=2026-03-02T08:00:00Z").get_json()
    assert holders(body) == {"Primary": "Bob Durand", "Secondary": "Carol Petit"}
    assert browser("maya").get("/api/v1/oncall?at=2026-03-02T09:00:00%2B01:00").get_json()["at"] == \
        "2026-03-02T09:00:00+01:00"


def test_before_the_layers_began_nobody_is_on_call(rota, browser) -> None:
    body = browser("maya").get("/api/v1/oncall?at=2026-02-23T07:59:59Z").get_json()
    assert holders(body) == {"Primary": None, "Secondary": None}


def night_rotation(database, w, now, handoff: str, start_date: str) -> int:
    with database.transaction() as s:
        admin = s.get(User, w.admin)
        sched = schedule_store.save_schedule(s, admin, None, name="Nights", pool_id=1, timezone="Europe/Paris",
                                             coverage=None, now=now)
        spec = schedule_store.RotationSpec.parse({
            "members": [w.carol, w.theo], "length": "daily", "handoff_time": handoff, "start_date": start_date,
            "timezone": "Europe/Paris"})
        schedule_store.save_layer(s, admin, sched.id, None, name="Night", rotation=spec, now=now)
        return sched.id


def night_holder(browser, at: str, schedule_id: int) -> dict:
    body = browser("maya").get(f"/api/v1/oncall?at={at}").get_json()
    (sched,) = [x for x in body["schedules"] if x["id"] == schedule_id]
    return sched["layers"][0]["on_call"]


def test_a_night_hand_off_at_2_30_happens_at_3_00_when_paris_springs_forward(world, database, clock, browser) -> None:
    sid = night_rotation(database, world, clock.now(), "02:30", "2026-03-27")
    # 29 March 2026: 02:00 -> 03:00 in Paris; 02:30 does not exist, so Carol hands over at 03:00.
    before = night_holder(browser, "2026-03-29T00:59:59Z", sid)
    after = night_holder(browser, "2026-03-29T01:00:00Z", sid)
    assert before["user"]["name"] == "Theo Lead" and after["user"]["name"] == "Carol Petit"
    assert before["end"] == after["start"] == "2026-03-29T01:00:00+00:00"  # 03:00 CEST
    assert after["end"] == "2026-03-30T00:30:00+00:00"  # back to 02:30 (CEST) the next night: 23.5 h


def test_a_hand_off_at_midnight_changes_the_person_exactly_at_midnight(world, database, clock, browser) -> None:
    sid = night_rotation(database, world, clock.now(), "00:00", "2026-03-02")
    assert night_holder(browser, "2026-03-02T22:59:59Z", sid)["user"]["name"] == "Carol Petit"
    assert night_holder(browser, "2026-03-02T23:00:00Z", sid)["user"]["name"] == "Theo Lead"  # 00:00 in Paris


def test_engineers_see_their_pools_and_client_viewers_see_nothing(rota, browser) -> None:
    assert len(browser("alice").get("/api/v1/oncall").get_json()["schedules"]) == 1
    outsider = browser("dave").get("/api/v1/oncall").get_json()
    assert outsider["schedules"] == [] and outsider["clients"] == []
    r = browser("victor@acme.test").get("/api/v1/oncall")
    assert r.status_code == 403 and "cannot see schedules" in r.get_json()["message"]
    assert browser("victor@acme.test").get("/schedules").status_code == 403
    assert browser("dave").get(f"/schedules/{rota.schedule}").status_code == 404


def test_a_bad_instant_is_refused_with_a_reason(rota, browser, client) -> None:
    maya = browser("maya")
    assert "offset" in maya.get("/api/v1/oncall?at=2026-03-02T03:00:00").get_json()["message"]
    assert maya.get("/api/v1/oncall?at=tomorrow").status_code == 400
    assert client.get("/api/v1/oncall").status_code == 401


def test_the_schedules_page_shows_who_is_on_call_now(rota, browser) -> None:
    page = browser("alice").get("/schedules").get_data(as_text=True)
    assert "Pool A on-call" in page and "Alice Martin" in page and "Bob Durand" in page
    assert "Gaps in the next" not in page  # managers only
    assert datetime(2026, 3, 2, 3, tzinfo=UTC)  # the world's instant, for the reader
