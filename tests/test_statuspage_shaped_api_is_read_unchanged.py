"""The status page's JSON in the shape of Statuspage's public v2 API, validated against a JSON
Schema written from Statuspage's public documentation (field names and types of summary.json,
status.json, components.json, incidents.json, incidents/unresolved.json and
scheduled-maintenances.json), and its Atom and RSS feeds read by a feed reader (feedparser).

No third-party reader of Statuspage's public pages could be run here: the PyPI clients are for
Statuspage's management API, and the npm `statuspage.io` 3.4.6 package ships no code."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import feedparser
import jsonschema_rs
import pytest

from app.models import StatusPage
from tests.helpers import post_alert

TIME = {"type": "string", "format": "date-time"}
TIME_OR_NULL = {"anyOf": [TIME, {"type": "null"}]}
TEXT_OR_NULL = {"type": ["string", "null"]}


def obj(props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": sorted(props), "properties": props}


PAGE = obj({"id": {"type": "string"}, "name": {"type": "string"}, "url": {"type": "string", "format": "uri"},
            "time_zone": {"type": "string"}, "updated_at": TIME})
STATUS = obj({"indicator": {"enum": ["none", "minor", "major", "critical", "maintenance"]},
              "description": {"type": "string"}})
COMPONENT = obj({
    "id": {"type": "string"}, "name": {"type": "string"},
    "status": {"enum": ["operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"]},
    "created_at": TIME, "updated_at": TIME, "position": {"type": "integer"}, "description": TEXT_OR_NULL,
    "showcase": {"type": "boolean"}, "start_date": {"type": ["string", "null"], "format": "date"},
    "group_id": TEXT_OR_NULL, "page_id": {"type": "string"}, "group": {"type": "boolean"},
    "only_show_if_degraded": {"type": "boolean"},
})
AFFECTED = obj({"code": {"type": "string"}, "name": {"type": "string"}, "old_status": {"type": "string"},
                "new_status": {"type": "string"}})
UPDATE = obj({
    "id": {"type": "string"}, "status": {"type": "string"}, "body": {"type": "string"},
    "incident_id": {"type": "string"}, "created_at": TIME, "updated_at": TIME, "display_at": TIME,
    "affected_components": {"type": ["array", "null"], "items": AFFECTED},
    "deliver_notifications": {"type": "boolean"}, "custom_tweet": TEXT_OR_NULL, "tweet_id": TEXT_OR_NULL,
})
INCIDENT_PROPS = {
    "id": {"type": "string"}, "name": {"type": "string"},
    "status": {"enum": ["investigating", "identified", "monitoring", "resolved", "postmortem"]},
    "created_at": TIME, "updated_at": TIME, "monitoring_at": TIME_OR_NULL, "resolved_at": TIME_OR_NULL,
    "impact": {"enum": ["none", "minor", "major", "critical"]}, "shortlink": {"type": "string"},
    "started_at": TIME, "page_id": {"type": "string"}, "incident_updates": {"type": "array", "items": UPDATE},
    "components": {"type": "array", "items": COMPONENT},
}
INCIDENT = obj(INCIDENT_PROPS)
MAINTENANCE = obj({
    **INCIDENT_PROPS, "status": {"enum": ["scheduled", "in_progress", "verifying", "completed"]},
    "impact": {"enum": ["none", "minor", "major", "critical", "maintenance"]},
    "scheduled_for": TIME, "scheduled_until": TIME,
})
DOCS = {
    "summary": obj({"page": PAGE, "components": {"type": "array", "items": COMPONENT},
                    "incidents": {"type": "array", "items": INCIDENT},
                    "scheduled_maintenances": {"type": "array", "items": MAINTENANCE}, "status": STATUS}),
    "status": obj({"page": PAGE, "status": STATUS}),
    "components": obj({"page": PAGE, "components": {"type": "array", "items": COMPONENT}}),
    "incidents": obj({"page": PAGE, "incidents": {"type": "array", "items": INCIDENT}}),
    "incidents/unresolved": obj({"page": PAGE, "incidents": {"type": "array", "items": INCIDENT}}),
    "scheduled-maintenances": obj({"page": PAGE, "scheduled_maintenances": {"type": "array", "items": MAINTENANCE}}),
    "scheduled-maintenances/upcoming": obj({"page": PAGE, "scheduled_maintenances": {"type": "array",
                                                                                      "items": MAINTENANCE}}),
    "scheduled-maintenances/active": obj({"page": PAGE, "scheduled_maintenances": {"type": "array",
                                                                                    "items": MAINTENANCE}}),
}


@pytest.fixture
def busy_page(app, client, world, database, clock, browser):
    """Acme's page with an open incident with a public update, a resolved one, a window ahead and one running."""
    with database.transaction() as s:
        s.merge(StatusPage(client_id=world.acme, visibility="public", title="", color="#1f5fbf",
                           created_at=clock.now(), updated_at=clock.now()))
    alice = browser("alice")
    old = post_alert(client, world.keys["acme_generic"], dedup="old").get_json()["results"][0]["incident"]
    clock.advance(minutes=5)
    alice.post(f"/api/v1/incidents/{old}/resolve", json={"summary": "done"})
    iid = post_alert(client, world.keys["acme_generic"], dedup="new").get_json()["results"][0]["incident"]
    alice.post(f"/api/v1/incidents/{iid}/public-updates", json={"status": "identified", "body": "A <b>disk</b> & co."})
    t = clock.now()
    for start in (t + timedelta(hours=2), t - timedelta(minutes=1)):
        alice.post(f"/api/v1/clients/{world.acme}/maintenance", json={
            "title": "Upgrade <script>", "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(),
            "hold_pages": False})
    return world


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_each_document_has_statuspages_field_names_and_types(busy_page, client, doc) -> None:
    r = client.get(f"/status/acme/api/v2/{doc}.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.get_json()
    jsonschema_rs.validator_for(DOCS[doc], validate_formats=True).validate(body)
    assert any(body.get(k) for k in ("components", "incidents", "scheduled_maintenances", "status")), body


def test_the_documents_agree_with_each_other(busy_page, client) -> None:
    s = client.get("/status/acme/api/v2/summary.json").get_json()
    assert s["status"]["indicator"] == "critical"  # the open incident outranks maintenance
    assert len(client.get("/status/acme/api/v2/incidents.json").get_json()["incidents"]) == 2
    [open_one] = s["incidents"]
    assert open_one["incident_updates"][0]["body"] == "A <b>disk</b> & co."  # JSON carries text, not HTML
    assert {m["status"] for m in s["scheduled_maintenances"]} == {"scheduled", "in_progress"}
    assert client.get("/status/acme/api/v2/nothing.json").status_code == 404


def test_the_feeds_are_read_by_a_feed_reader(busy_page, client) -> None:
    for path, version in (("history.atom", "atom10"), ("history.rss", "rss20")):
        r = client.get(f"/status/acme/{path}")
        assert r.status_code == 200
        feed = feedparser.parse(r.get_data())
        assert not feed.bozo, feed.bozo_exception
        assert feed.version == version and feed.feed.title == "Acme Retail status"
        titles = [e.title for e in feed.entries]
        assert "Maintenance: Upgrade <script>" in titles and len(titles) == 4
        assert "<script>" not in r.get_data(as_text=True)
