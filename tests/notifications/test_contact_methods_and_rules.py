"""A person manages how they are reached: phones and e-mail addresses, rules per urgency (which
channels, after what delay), and a test notification per contact method."""

from __future__ import annotations

import pytest

from tests.notifications.reach import methods, notifications, open_incident, reach

ALICE = "+33612345678"


def delete(b, url: str):
    return b.client.delete(url, headers={"X-CSRFToken": b.csrf})


def test_a_person_adds_lists_and_removes_contact_methods(browser, world, database) -> None:
    alice = browser("alice")
    r = alice.post("/api/v1/me/contact-methods", json={"kind": "sms", "address": "+33 6 12 34 56 78", "label": "mobile"})
    assert r.status_code == 201
    sms = r.get_json()["contact_method"]
    assert (sms["kind"], sms["address"], sms["label"], sms["enabled"]) == ("sms", ALICE, "mobile", True)
    again = alice.post("/api/v1/me/contact-methods", json={"kind": "sms", "address": ALICE})
    assert again.status_code == 200 and again.get_json()["contact_method"]["id"] == sms["id"]
    alice.post("/api/v1/me/contact-methods", json={"kind": "email", "address": "Alice@Example.com"})
    listed = alice.get("/api/v1/me/contact-methods").get_json()["contact_methods"]
    assert [(m["kind"], m["address"]) for m in listed] == [
        ("recording", "alice@vigil.test"), ("sms", ALICE), ("email", "alice@example.com")]
    assert delete(browser("bob"), f"/api/v1/me/contact-methods/{sms['id']}").status_code == 404
    assert delete(alice, f"/api/v1/me/contact-methods/{sms['id']}").status_code == 204
    assert [m.kind for m in methods(database, world.alice)] == ["recording", "email"]


@pytest.mark.parametrize("body, reason", [
    ({"kind": "sms", "address": "0612345678"}, "international form"),
    ({"kind": "voice", "address": None}, "address is required"),
    ({"kind": "email", "address": "not-an-address"}, "e-mail"),
    ({"kind": "push", "address": "https://push.example/x"}, "kind must be"),
    ({"kind": "pager", "address": "123"}, "kind must be"),
])
def test_a_bad_contact_method_is_refused_with_a_reason(browser, world, body, reason) -> None:
    r = browser("alice").post("/api/v1/me/contact-methods", json=body)
    assert r.status_code == 400 and reason in r.get_json()["message"]


def test_rules_say_which_channels_each_urgency_uses(browser, world) -> None:
    alice = browser("alice")
    assert alice.get("/api/v1/me/notification-rules").get_json() == {
        "rules": [{"urgency": "high", "kind": k, "delay_minutes": 0, "window": None} for k in ("push", "sms", "voice", "email")]
        + [{"urgency": "low", "kind": k, "delay_minutes": 0, "window": None} for k in ("push", "email")],
        "defaults": {"high": False, "low": False}, "timezone": "Europe/Paris",
    }
    rules = [{"urgency": "high", "kind": "push", "delay_minutes": 0, "window": None},
             {"urgency": "high", "kind": "voice", "delay_minutes": 5, "window": None}]
    r = alice.client.put("/api/v1/me/notification-rules", json={"rules": rules}, headers={"X-CSRFToken": alice.csrf})
    assert r.status_code == 200
    assert r.get_json()["rules"][:2] == rules
    assert r.get_json()["defaults"] == {"high": False, "low": True}  # low: nothing of her own, so the defaults


@pytest.mark.parametrize("rules, reason", [
    ([{"urgency": "urgent", "kind": "push"}], "urgency"),
    ([{"urgency": "high", "kind": "fax"}], "kind"),
    ([{"urgency": "high", "kind": "sms", "delay_minutes": -1}], "delay_minutes"),
    ([{"urgency": "high", "kind": "sms", "delay_minutes": 600}], "delay_minutes"),
    ([{"urgency": "high", "kind": "sms"}, {"urgency": "high", "kind": "sms", "delay_minutes": 2}], "twice"),
    ({"urgency": "high"}, "list"),
])
def test_bad_rules_are_refused_with_a_reason(browser, world, rules, reason) -> None:
    alice = browser("alice")
    r = alice.client.put("/api/v1/me/notification-rules", json={"rules": rules}, headers={"X-CSRFToken": alice.csrf})
    assert r.status_code == 400 and reason in r.get_json()["message"]


def test_rules_decide_the_channels_and_their_delays(browser, world, client, engine, clock, push_service, twilio,
                                                    database) -> None:
    reach(database, world.alice, push=push_service.new_subscription(), phone=ALICE, email="alice@example.com")
    alice = browser("alice")
    alice.client.put("/api/v1/me/notification-rules", headers={"X-CSRFToken": alice.csrf}, json=[
        {"urgency": "high", "kind": "push", "delay_minutes": 0}, {"urgency": "high", "kind": "voice", "delay_minutes": 5},
        {"urgency": "low", "kind": "push", "delay_minutes": 0}])
    open_incident(client, world.keys["acme_generic"], dedup="quiet", severity="warning")
    open_incident(client, world.keys["acme_generic"], dedup="loud")
    engine.run_until_idle()
    assert sorted((n.kind, n.status) for n in notifications(database)) == [
        ("push", "sent"), ("push", "sent"), ("voice", "pending")]
    assert len(push_service.wait_for(2)) == 2 and twilio.calls == []
    clock.advance(minutes=5)
    engine.run_until_idle()
    assert len(twilio.wait_for_calls(1)) == 1 and twilio.messages == []


def test_a_test_notification_goes_out_and_its_result_is_recorded(browser, world, engine, twilio, clock) -> None:
    alice = browser("alice")
    sms = alice.post("/api/v1/me/contact-methods", json={"kind": "sms", "address": ALICE}).get_json()["contact_method"]
    r = alice.post(f"/api/v1/me/contact-methods/{sms['id']}/test")
    assert r.status_code == 202
    nid = r.get_json()["notification"]
    engine.run_until_idle()
    [message] = twilio.wait_for_messages(1)
    assert message.to == ALICE and "test SMS for Alice Martin" in message.body
    n = alice.get(f"/api/v1/me/notifications/{nid}").get_json()["notification"]
    assert (n["purpose"], n["status"], n["incident_id"]) == ("test", "sent", None)
    assert [(a["outcome"], a["status_code"]) for a in n["attempts"]] == [("sent", 201)]
    assert browser("bob").get(f"/api/v1/me/notifications/{nid}").status_code == 404
    # An SMS costs money: one test per method per 30 s.
    again = alice.post(f"/api/v1/me/contact-methods/{sms['id']}/test")
    assert again.status_code == 429 and "try again" in again.get_json()["message"]
    clock.advance(seconds=30)
    assert alice.post(f"/api/v1/me/contact-methods/{sms['id']}/test").status_code == 202


def test_a_test_push_and_a_test_call_reach_the_device(browser, world, engine, push_service, twilio) -> None:
    alice = browser("alice")
    sub = alice.post("/api/v1/push/subscriptions", json=push_service.new_subscription().to_json()).get_json()
    voice = alice.post("/api/v1/me/contact-methods", json={"kind": "voice", "address": ALICE}).get_json()
    alice.post(f"/api/v1/me/contact-methods/{sub['id']}/test")
    alice.post(f"/api/v1/me/contact-methods/{voice['contact_method']['id']}/test")
    engine.run_until_idle()
    [push] = push_service.wait_for(1)
    assert push.json()["kind"] == "test" and push.json()["incident"] is None and push.topic == f"test-{sub['id']}"
    [call] = twilio.wait_for_calls(1)
    assert "test call from Vigil" in call.twiml


def test_a_switched_off_method_cannot_be_tested_until_added_again(browser, world, database) -> None:
    from app.models import ContactMethod

    alice = browser("alice")
    mid = alice.post("/api/v1/me/contact-methods", json={"kind": "sms", "address": ALICE}).get_json()["contact_method"]["id"]
    with database.transaction() as s:
        m = s.get(ContactMethod, mid)
        m.enabled, m.disabled_reason = False, "Invalid 'To' Phone Number (error 21211)"
    r = alice.post(f"/api/v1/me/contact-methods/{mid}/test")
    assert r.status_code == 409 and "21211" in r.get_json()["message"]
    alice.post("/api/v1/me/contact-methods", json={"kind": "sms", "address": ALICE})
    assert alice.post(f"/api/v1/me/contact-methods/{mid}/test").status_code == 202
