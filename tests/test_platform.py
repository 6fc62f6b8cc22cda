"""The platform around incidents: health, the engine banner, login and roles, the event feed,
the OpenAPI document."""

import re
from datetime import timedelta

from app.models import EngineHeartbeat


def beat(database, clock, ago: timedelta) -> None:
    with database.transaction() as s:
        s.merge(EngineHeartbeat(name="e1", started_at=clock.now() - ago, beat_at=clock.now() - ago, pid=1, host="h"))


def test_healthz_fails_when_no_engine_has_beaten_recently(client, database, clock) -> None:
    r = client.get("/healthz")
    assert r.status_code == 503 and r.get_json()["engine"]["ok"] is False
    beat(database, clock, timedelta(seconds=5))
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {
        "status": "ok", "database": "ok",
        "engine": {"ok": True, "last_heartbeat": (clock.now() - timedelta(seconds=5)).isoformat()}}
    clock.advance(minutes=1)
    assert client.get("/healthz").status_code == 503


def test_every_screen_says_when_the_engine_is_down(world, browser, database, clock) -> None:
    alice = browser("alice")
    page = alice.get("/incidents").data
    assert b"engine-down" in page and b'id="engine-down" hidden' not in page
    beat(database, clock, timedelta(0))
    assert b'id="engine-down" hidden' in alice.get("/incidents").data


def test_the_engine_beats_its_heartbeat(engine, client) -> None:
    engine.tick()
    assert client.get("/healthz").status_code == 200


def test_the_api_needs_a_login(client, world) -> None:
    r = client.get("/api/v1/incidents")
    assert r.status_code == 401 and r.get_json()["error"] == "unauthorized"
    assert client.get("/incidents").status_code == 302


def test_a_wrong_password_is_refused_with_a_message(client, world) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"email": "alice@vigil.test", "password": "nope", "csrf_token": token})
    assert r.status_code == 401 and b"Wrong e-mail or password" in r.data


def test_a_client_viewer_sees_only_its_client_and_cannot_act(client, world, browser) -> None:
    from tests.helpers import post_alert

    acme = post_alert(client, world.keys["acme_generic"]).get_json()["results"][0]["incident"]
    globex = post_alert(client, world.keys["globex_generic"]).get_json()["results"][0]["incident"]
    victor = browser("victor@acme.test")
    seen = [i["id"] for i in victor.get("/api/v1/incidents").get_json()["incidents"]]
    assert seen == [acme]
    assert victor.get(f"/api/v1/incidents/{globex}").status_code == 404
    assert victor.get(f"/api/v1/incidents/{acme}").status_code == 200
    r = victor.post(f"/api/v1/incidents/{acme}/ack")
    assert r.status_code == 403
    assert victor.post(f"/api/v1/incidents/{globex}/ack").status_code == 404


def test_an_engineer_outside_the_pool_cannot_see_its_clients(client, world, browser) -> None:
    from tests.helpers import post_alert

    iid = post_alert(client, world.keys["acme_generic"]).get_json()["results"][0]["incident"]
    dave = browser("dave")
    assert dave.get("/api/v1/incidents").get_json()["incidents"] == []
    assert dave.post(f"/api/v1/incidents/{iid}/ack").status_code == 404
    assert browser("maya").post(f"/api/v1/incidents/{iid}/ack").status_code == 200


def test_a_session_request_without_the_csrf_token_is_refused(client, world, browser) -> None:
    from tests.helpers import post_alert

    iid = post_alert(client, world.keys["acme_generic"]).get_json()["results"][0]["incident"]
    alice = browser("alice")
    r = alice.client.post(f"/api/v1/incidents/{iid}/ack", json={})
    assert r.status_code == 400 and "CSRF" in r.get_json()["message"]


def test_the_incident_list_pages_by_before_id_and_an_id_beyond_any_integer_is_no_500(client, world, browser) -> None:
    from tests.helpers import post_alert

    ids = [post_alert(client, world.keys["acme_generic"], dedup=f"k{n}").get_json()["results"][0]["incident"]
           for n in range(3)]
    maya = browser("maya")

    def listed(before: object) -> list[int]:
        r = maya.get(f"/api/v1/incidents?before_id={before}")
        assert r.status_code == 200, (before, r.get_data(as_text=True))
        return [i["id"] for i in r.get_json()["incidents"]]

    assert listed(ids[2]) == ids[1::-1]
    assert listed(2**31) == listed(2**63) == listed(10**30) == ids[::-1]
    for before in (0, -1, -(2**31) - 1, -(2**63) - 1, -(10**30)):
        assert listed(before) == []


def test_the_event_feed_replays_what_a_client_missed_filtered_by_visibility(client, world, browser) -> None:
    from tests.helpers import post_alert

    post_alert(client, world.keys["acme_generic"])
    post_alert(client, world.keys["globex_generic"])
    everything = browser("maya").get("/api/v1/events?since=0").get_json()["events"]
    assert [e["kind"] for e in everything] == ["incident.triggered", "incident.triggered"]
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids)
    after_first = browser("maya").get(f"/api/v1/events?since={ids[0]}").get_json()["events"]
    assert [e["id"] for e in after_first] == ids[1:]
    victor = browser("victor@acme.test").get("/api/v1/events?since=0").get_json()["events"]
    assert [e["data"]["incident"]["client"]["slug"] for e in victor] == ["acme"]
    assert browser("maya").get("/api/v1/events?since=x").status_code == 400


def test_the_openapi_document_describes_every_api_route(client, app) -> None:
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    described = {re.sub(r"\{(\w+)\}", r"<\1>", p) for p in doc["paths"]}
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", r.rule) for r in app.url_map.iter_rules()
              if r.rule.startswith(("/api/v1", "/v2", "/healthz"))}
    assert routes <= described, routes - described
