"""Alerts come in over HTTP: each source, authenticated by integration key, with real payloads."""

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.models import Alert, Incident, TimelineEntry

PAYLOADS = Path(__file__).parent / "payloads"


def payload(name: str, **changes: Any) -> dict[str, Any]:
    body = json.loads((PAYLOADS / name).read_text())
    body.update(changes)
    return body


def count(database: Any, model: Any) -> int:
    with database.transaction() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def test_an_alertmanager_group_opens_one_incident_and_its_resolution_resolves_it(client, world, database) -> None:
    key = world.keys["acme_am"]
    r = client.post(f"/api/v1/intake/alertmanager/{key}", json=payload("alertmanager_firing.json"))
    assert r.status_code == 202, r.get_json()
    first = r.get_json()["results"][0]
    assert first["outcome"] == "created"
    r = client.post(f"/api/v1/intake/alertmanager/{key}", json=payload("alertmanager_resolved.json"))
    assert r.status_code == 202
    assert r.get_json()["results"][0] == {**first, "outcome": "resolved"}
    with database.transaction() as s:
        inc = s.get(Incident, first["incident"])
        assert inc.status == "resolved" and inc.source == "alertmanager"
        assert "alertmanager" in inc.resolution_summary
        stored = s.execute(select(Alert).order_by(Alert.id)).scalars().all()
        assert [a.outcome for a in stored] == ["created", "resolved"]
        assert stored[0].payload == payload("alertmanager_firing.json")  # the raw body, kept for audit


def test_the_key_may_also_come_as_a_bearer_token_or_basic_auth_password(client, world) -> None:
    body = payload("alertmanager_firing.json")
    r = client.post("/api/v1/intake/alertmanager", json=body, headers={"Authorization": f"Bearer {world.keys['acme_am']}"})
    assert r.status_code == 202
    import base64
    basic = base64.b64encode(f"alertmanager:{world.keys['globex_am']}".encode()).decode()
    r = client.post("/api/v1/intake/alertmanager", json=body, headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 202


def test_a_grafana_alert_opens_an_incident(client, world, database) -> None:
    r = client.post(f"/api/v1/intake/grafana/{world.keys['acme_grafana']}", json=payload("grafana_unified_firing.json"))
    assert r.status_code == 202, r.get_json()
    assert r.get_json()["results"][0]["outcome"] == "created"
    r = client.post(f"/api/v1/intake/grafana/{world.keys['acme_grafana']}", json=payload("grafana_legacy_alerting.json"))
    assert r.get_json()["results"][0]["outcome"] == "created"
    assert count(database, Incident) == 2


def test_the_events_v2_endpoint_answers_like_pagerduty(client, world, database) -> None:
    key = world.keys["globex_v2"]
    r = client.post("/v2/enqueue", json=payload("pagerduty_v2_trigger.json", routing_key=key))
    assert r.status_code == 202
    assert r.get_json() == {"status": "success", "message": "Event processed", "dedup_key": "samplekeyhere"}
    r = client.post("/v2/enqueue", json=payload("pagerduty_v2_acknowledge.json", routing_key=key, dedup_key="samplekeyhere"))
    assert r.status_code == 202
    r = client.post("/v2/enqueue", json=payload("pagerduty_v2_resolve.json", routing_key=key, dedup_key="samplekeyhere"))
    assert r.status_code == 202 and r.get_json()["dedup_key"] == "samplekeyhere"
    with database.transaction() as s:
        inc = s.execute(select(Incident)).scalar_one()
        kinds = s.execute(select(TimelineEntry.kind).where(TimelineEntry.incident_id == inc.id)).scalars().all()
        assert inc.status == "resolved"
        assert kinds[0] == "triggered" and "acknowledged" in kinds and kinds[-1] == "resolved"
        assert inc.urgency == "low"  # the documented example says severity "info"


def test_an_events_v2_trigger_without_a_dedup_key_gets_one_back(client, world) -> None:
    body = payload("pagerduty_v2_trigger.json", routing_key=world.keys["globex_v2"])
    del body["dedup_key"]
    r = client.post("/v2/enqueue", json=body)
    assert r.status_code == 202
    key = r.get_json()["dedup_key"]
    assert len(key) >= 16
    body["dedup_key"] = key
    assert client.post("/v2/enqueue", json=body).get_json()["dedup_key"] == key


def test_an_invalid_events_v2_event_lists_every_problem(client, world) -> None:
    r = client.post("/v2/enqueue", json={"routing_key": world.keys["globex_v2"], "event_action": "trigger",
                                          "payload": {"summary": 3}})
    assert r.status_code == 400
    body = r.get_json()
    assert body["status"] == "invalid event" and body["message"] == "Event object is invalid"
    assert len(body["errors"]) >= 2


def test_a_generic_alert_with_the_same_key_attaches_instead_of_paging_again(client, world, database, engine) -> None:
    from app.notify.recording import RecordingTransport
    from tests.helpers import post_alert

    first = post_alert(client, world.keys["acme_generic"]).get_json()["results"][0]
    engine.run_until_idle()
    again = post_alert(client, world.keys["acme_generic"]).get_json()["results"][0]
    engine.run_until_idle()
    assert again == {**first, "outcome": "attached"}
    assert len(RecordingTransport.sent) == 1
    with database.transaction() as s:
        inc = s.get(Incident, first["incident"])
        assert inc.alert_count == 2
        assert s.execute(select(func.count()).select_from(TimelineEntry).where(
            TimelineEntry.kind == "alert_repeated")).scalar_one() == 1


def test_repeated_alerts_do_not_use_up_incident_numbers(client, world) -> None:
    """The number is what an engineer texts back ("ACK 1042"): a storm of repeats must not
    make the next incident's number jump (an INSERT that meets a conflict would draw one from
    PostgreSQL's sequence each time)."""
    from tests.helpers import post_alert

    first = post_alert(client, world.keys["acme_generic"], dedup="cpu").get_json()["results"][0]["incident"]
    for _ in range(5):
        assert post_alert(client, world.keys["acme_generic"], dedup="cpu").get_json()["results"][0]["outcome"] == "attached"
    second = post_alert(client, world.keys["acme_generic"], dedup="disk").get_json()["results"][0]["incident"]
    assert second == first + 1


def test_after_resolution_the_same_key_opens_a_new_incident(client, world) -> None:
    from tests.helpers import post_alert

    first = post_alert(client, world.keys["acme_generic"]).get_json()["results"][0]
    post_alert(client, world.keys["acme_generic"], action="resolve")
    second = post_alert(client, world.keys["acme_generic"]).get_json()["results"][0]
    assert second["outcome"] == "created" and second["incident"] != first["incident"]


def test_a_resolve_for_nothing_open_is_accepted_and_kept(client, world, database) -> None:
    from tests.helpers import post_alert

    r = post_alert(client, world.keys["acme_generic"], action="resolve", dedup="never-seen")
    assert r.status_code == 202 and r.get_json()["results"][0]["outcome"] == "no_open_incident"
    assert count(database, Alert) == 1 and count(database, Incident) == 0


def test_bad_input_gets_a_clear_4xx_never_a_500(client, world, app) -> None:
    key = world.keys["acme_generic"]
    url = f"/api/v1/intake/generic/{key}"
    cases = [
        (client.post(url, data="{not json", content_type="application/json"), 400, "malformed JSON"),
        (client.post(url, data="summary=x", content_type="application/x-www-form-urlencoded"), 415, "Content-Type"),
        (client.post(url, json={"severity": "critical"}), 400, "summary"),
        (client.post(url, json={"summary": ["a list"]}), 400, "summary"),
        (client.post(url, json=["not", "an", "object"]), 400, ""),
        (client.post("/api/v1/intake/generic/0123456789abcdef0123456789abcdef", json={"summary": "x"}), 401, "unknown"),
        (client.post("/api/v1/intake/generic", json={"summary": "x"}), 401, "key is required"),
        (client.post(f"/api/v1/intake/alertmanager/{key}", json={"summary": "x"}), 403, "for generic"),
        (client.post(f"/api/v1/intake/nagios/{key}", json={"summary": "x"}), 404, "unknown source"),
        (client.post(url, data=b"{" + b" " * (app.config["MAX_CONTENT_LENGTH"] + 1) + b"}",
                     content_type="application/json"), 413, "larger than"),
        (client.get(url), 405, ""),
        (client.post("/v2/enqueue", data="nope", content_type="application/json"), 400, ""),
        (client.post("/v2/enqueue", data="nope", content_type="text/plain"), 415, ""),
        (client.post("/v2/enqueue", json={"routing_key": "x" * 32, "event_action": "trigger"}), 401, ""),
    ]
    for r, status, words in cases:
        assert r.status_code == status, (status, r.get_data(as_text=True))
        assert r.is_json, r.get_data(as_text=True)
        assert words in json.dumps(r.get_json()), r.get_json()


def test_unstorable_characters_are_replaced_and_the_alert_is_kept(client, world, database) -> None:
    raw = '{"summary": "disk \\ud800 full \\u0000 now", "dedup_key": "nul"}'
    r = client.post(f"/api/v1/intake/generic/{world.keys['acme_generic']}", data=raw, content_type="application/json")
    assert r.status_code == 202, r.get_json()
    with database.transaction() as s:
        assert s.execute(select(Incident.summary)).scalar_one() == "disk \ufffd full \ufffd now"


def test_a_revoked_key_is_refused(client, world, database, clock) -> None:
    from app.intake.keys import find_key, revoke

    assert client.post(f"/api/v1/intake/generic/{world.keys['acme_generic']}", json={"summary": "x"}).status_code == 202
    with database.transaction() as s:
        revoke(s, find_key(s, world.keys["acme_generic"]), clock.now())
    r = client.post(f"/api/v1/intake/generic/{world.keys['acme_generic']}", json={"summary": "x"})
    assert r.status_code == 401


# --- odd JSON (issue 11): whatever a sender's JSON library writes, an alert is never a 500 ----------

# Python's json.dumps writes NaN, Infinity and -Infinity, and 1e999 reads back as infinity:
# PostgreSQL's json type refuses them all. They are kept as the text the sender wrote.
ODD_NUMBERS = '{"nan": NaN, "inf": Infinity, "ninf": -Infinity, "big": 1e999, "fine": 0.75}'
ODD_KEPT = {"nan": "NaN", "inf": "Infinity", "ninf": "-Infinity", "big": "1e999", "fine": 0.75}


def odd_bodies(world: Any) -> dict[str, tuple[str, str]]:
    """(url, raw JSON body) for every intake source, the odd numbers under "extra" (and elsewhere)."""
    def raw(name: str, **changes: Any) -> str:
        return json.dumps(payload(name, **changes))[:-1] + f', "extra": {ODD_NUMBERS}}}'

    return {
        "generic": (f"/api/v1/intake/generic/{world.keys['acme_generic']}",
                    f'{{"summary": "load odd", "dedup_key": "odd", "details": {ODD_NUMBERS}, "extra": {ODD_NUMBERS}}}'),
        "alertmanager": (f"/api/v1/intake/alertmanager/{world.keys['acme_am']}",
                         raw("alertmanager_firing.json")),
        "grafana": (f"/api/v1/intake/grafana/{world.keys['acme_grafana']}",
                    raw("grafana_unified_firing.json").replace('"status": "firing", "labels"',
                                                               f'"status": "firing", "values": {ODD_NUMBERS}, "labels"', 1)),
        "grafana legacy": (f"/api/v1/intake/grafana/{world.keys['acme_grafana']}",
                           raw("grafana_legacy_alerting.json").replace('"value": 1', '"value": NaN')),
        "events_v2": ("/v2/enqueue",
                      raw("pagerduty_v2_trigger.json", routing_key=world.keys["globex_v2"]).replace(
                          '"load avg": 0.75', f'"load avg": 0.75, "odd": {ODD_NUMBERS}')),
    }


def test_nan_infinity_and_1e999_in_an_alert_of_any_source_are_kept_as_text_and_the_alert_is_stored(
    client, world, database
) -> None:
    for source, (url, raw) in odd_bodies(world).items():
        r = client.post(url, data=raw, content_type="application/json")
        assert r.status_code == 202, (source, r.get_data(as_text=True))
    with database.transaction() as s:
        stored = s.execute(select(Alert).order_by(Alert.id)).scalars().all()
        assert len(stored) == 5 and all(a.incident_id for a in stored)
        assert all(a.payload["extra"] == ODD_KEPT for a in stored)
        details = s.execute(select(Incident.details).order_by(Incident.id)).scalars().all()
        assert '"nan": "NaN"' in details[0] and '"big": "1e999"' in details[0]


def test_nan_in_an_alert_sent_with_an_api_token_is_kept_too(client, world, database, browser) -> None:
    from tests.test_api_tokens import bearer, create

    token = create(browser("alice"), "i", ("ingest",))
    r = client.post(f"/api/v1/services/{world.acme_web}/intake/generic", headers=bearer(token),
                    data=f'{{"summary": "odd", "extra": {ODD_NUMBERS}}}', content_type="application/json")
    assert r.status_code == 202, r.get_data(as_text=True)
    with database.transaction() as s:
        assert s.execute(select(Alert.payload)).scalar_one()["extra"] == ODD_KEPT


def test_a_severity_longer_than_its_column_is_clipped_and_the_alert_is_kept(client, world, database) -> None:
    long = "critical-" + "x" * 31  # 40 characters; incidents.severity holds 32
    r = client.post(f"/api/v1/intake/generic/{world.keys['acme_generic']}",
                    json={"summary": "generic", "dedup_key": "sev", "severity": long})
    assert r.status_code == 202, r.get_data(as_text=True)
    am = payload("alertmanager_firing.json")
    am["commonLabels"]["severity"] = long
    r = client.post(f"/api/v1/intake/alertmanager/{world.keys['acme_am']}", json=am)
    assert r.status_code == 202, r.get_data(as_text=True)
    legacy = payload("grafana_legacy_alerting.json", tags={"severity": long})
    r = client.post(f"/api/v1/intake/grafana/{world.keys['acme_grafana']}", json=legacy)
    assert r.status_code == 202, r.get_data(as_text=True)
    with database.transaction() as s:
        severities = s.execute(select(Incident.severity).order_by(Incident.id)).scalars().all()
    assert len(severities) == 3
    assert all(sev.startswith("critical-xxx") and len(sev) <= 32 for sev in severities), severities


def test_an_overlong_summary_is_clipped_and_an_overlong_dedup_key_is_refused_or_hashed_never_a_500(
    client, world, database
) -> None:
    url = f"/api/v1/intake/generic/{world.keys['acme_generic']}"
    r = client.post(url, json={"summary": "disk full " * 500, "dedup_key": "long-summary", "details": "d" * 100_000})
    assert r.status_code == 202, r.get_data(as_text=True)
    r = client.post(url, json={"summary": "long key", "dedup_key": "k" * 300})
    assert r.status_code == 400 and "dedup_key" in r.get_json()["message"]
    r = client.post("/v2/enqueue", json=payload("pagerduty_v2_trigger.json", routing_key=world.keys["globex_v2"],
                                                 dedup_key="k" * 300))
    assert r.status_code == 400 and "dedup_key is too long" in json.dumps(r.get_json())
    r = client.post(f"/api/v1/intake/alertmanager/{world.keys['acme_am']}",
                    json=payload("alertmanager_firing.json", groupKey="{}:{alertname=\"" + "g" * 1000 + "\"}"))
    assert r.status_code == 202, r.get_data(as_text=True)
    with database.transaction() as s:
        rows = s.execute(select(Incident.summary, Incident.dedup_key, Incident.details).order_by(Incident.id)).all()
    assert len(rows) == 2
    assert len(rows[0].summary) == 1024 and rows[0].summary.endswith("…") and len(rows[0].details) <= 50_000
    assert rows[1].dedup_key.startswith("am:") and len(rows[1].dedup_key) <= 255


def nested(levels: int) -> str:
    return '{"summary": "deep", "details": ' + "[" * levels + "]" * levels + "}"


def test_json_nested_500_levels_deep_gets_a_400_with_a_reason_on_every_intake_endpoint(
    client, world, database, browser
) -> None:
    from tests.test_api_tokens import bearer, create

    token = create(browser("alice"), "i", ("ingest",))
    sources = {"generic": "acme_generic", "alertmanager": "acme_am", "grafana": "acme_grafana"}
    calls = [(f"/api/v1/intake/{src}/{world.keys[key]}", {}) for src, key in sources.items()]
    calls += [(f"/api/v1/intake/{src}", {"Authorization": f"Bearer {world.keys[key]}"}) for src, key in sources.items()]
    calls += [(f"/api/v1/services/{world.acme_web}/intake/generic", bearer(token)), ("/v2/enqueue", {})]
    for levels in (500, 100_000):
        for url, headers in calls:
            r = client.post(url, data=nested(levels), content_type="application/json", headers=headers)
            assert r.status_code == 400, (url, levels, r.status_code, r.get_data(as_text=True)[:300])
            assert r.is_json and "nested" in json.dumps(r.get_json()), (url, r.get_json())
    assert count(database, Alert) == 0


def test_json_nested_as_deep_as_real_senders_go_is_still_accepted(client, world) -> None:
    r = client.post(f"/api/v1/intake/generic/{world.keys['acme_generic']}", data=nested(60),
                    content_type="application/json")
    assert r.status_code == 202, r.get_data(as_text=True)
