"""The PWA subscribes a device for push: the VAPID key it needs, and subscriptions per user and
device, validated, idempotent, private to their owner."""

from __future__ import annotations

import pytest

from tests.fakes.webpush import FakePushService, b64url_encode
from tests.notifications.reach import methods

PIXEL_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36"


def test_the_app_gets_the_vapid_public_key_and_it_survives_a_restart(browser, world, app, database, clock,
                                                                     tmp_path) -> None:
    from tests.helpers import Browser, make_app

    key = browser("alice").get("/api/v1/push/vapid-public-key").get_json()["public_key"]
    assert len(key) == 87 and "=" not in key  # 65 bytes, base64url, unpadded
    restarted = make_app(database, clock, tmp_path / "again")
    assert Browser(restarted.test_client()).login("bob").get("/api/v1/push/vapid-public-key").get_json() == {
        "public_key": key}


def test_the_vapid_key_needs_a_login(client, world) -> None:
    assert client.get("/api/v1/push/vapid-public-key").status_code == 401


def test_a_device_subscribes_once_and_again_updates_it(browser, world, push_service, database) -> None:
    alice = browser("alice")
    sub = push_service.new_subscription()
    r = alice.post("/api/v1/push/subscriptions", json={**sub.to_json(), "label": "Pixel 8"},
                   headers={"User-Agent": PIXEL_UA})
    assert r.status_code == 201
    first = r.get_json()
    assert first["label"] == "Pixel 8" and first["created_at"]
    renewed = push_service.new_subscription()  # the browser rotated its keys, same endpoint
    body = {**sub.to_json(), "keys": {"p256dh": renewed.p256dh, "auth": renewed.auth}}
    again = alice.post("/api/v1/push/subscriptions", json=body, headers={"User-Agent": PIXEL_UA})
    assert again.status_code == 200 and again.get_json()["id"] == first["id"]
    [m] = methods(database, world.alice, "push")
    assert (m.push_p256dh, m.push_auth, m.user_agent) == (renewed.p256dh, renewed.auth, PIXEL_UA)
    listed = alice.get("/api/v1/push/subscriptions").get_json()["subscriptions"]
    assert listed == [{"id": first["id"], "label": "Pixel 8", "user_agent": PIXEL_UA, "created_at": first["created_at"],
                       "last_success_at": None, "enabled": True, "disabled_reason": None}]


def test_a_subscription_without_a_label_is_named_after_the_device(browser, world, push_service) -> None:
    r = browser("alice").post("/api/v1/push/subscriptions", json=push_service.new_subscription().to_json(),
                              headers={"User-Agent": PIXEL_UA})
    assert r.get_json()["label"] == "Chrome on Android"


def test_subscriptions_are_private_to_their_owner(browser, world, push_service) -> None:
    alice, bob = browser("alice"), browser("bob")
    sid = alice.post("/api/v1/push/subscriptions", json=push_service.new_subscription().to_json()).get_json()["id"]
    assert bob.get("/api/v1/push/subscriptions").get_json() == {"subscriptions": []}
    assert bob.client.delete(f"/api/v1/push/subscriptions/{sid}", headers={"X-CSRFToken": bob.csrf}).status_code == 404
    assert alice.client.delete(f"/api/v1/push/subscriptions/{sid}", headers={"X-CSRFToken": alice.csrf}).status_code == 204
    assert alice.get("/api/v1/push/subscriptions").get_json() == {"subscriptions": []}


def test_a_device_that_changes_hands_pages_its_new_user(browser, world, push_service, database) -> None:
    sub = push_service.new_subscription().to_json()
    browser("alice").post("/api/v1/push/subscriptions", json=sub)
    assert browser("bob").post("/api/v1/push/subscriptions", json=sub).status_code == 201
    assert methods(database, world.alice, "push") == []
    assert len(methods(database, world.bob, "push")) == 1


def test_subscribing_needs_the_csrf_token(browser, world, push_service) -> None:
    alice = browser("alice")
    r = alice.client.post("/api/v1/push/subscriptions", json=push_service.new_subscription().to_json())
    assert r.status_code == 400 and "CSRF" in r.get_json()["message"]


@pytest.mark.parametrize("change, reason", [
    ({"endpoint": "http://push.example.com/send/abc"}, "https"),
    ({"endpoint": "https://10.1.2.3/push/abc"}, "public push service"),
    ({"endpoint": "https://push.internal/abc"}, "public push service"),
    ({"endpoint": "not a url"}, "https"),
    ({"endpoint": None}, "endpoint"),
    ({"keys": None}, "keys"),
    ({"keys": {"p256dh": "a+b/c", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "base64url"),
    ({"keys": {"auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "p256dh"),
    ({"keys": {"p256dh": b64url_encode(b"\x04" + b"\x01" * 64), "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "P-256"),
    ({"keys": {"p256dh": b64url_encode(b"\x04" * 33), "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "65 bytes"),
    ({"keys": "short-auth"}, "keys"),
    ({"expirationTime": "tomorrow"}, "expirationTime"),
    ({"label": "x" * 201}, "label"),
])
def test_a_malformed_subscription_is_refused_with_a_reason(browser, world, push_service, change, reason) -> None:
    good = push_service.new_subscription().to_json()
    r = browser("alice").post("/api/v1/push/subscriptions", json={**good, **change})
    assert r.status_code == 400 and reason in r.get_json()["message"], r.get_json()


def test_a_short_auth_secret_is_refused(browser, world, push_service) -> None:
    good = push_service.new_subscription().to_json()
    good["keys"]["auth"] = b64url_encode(b"\x00" * 8)
    r = browser("alice").post("/api/v1/push/subscriptions", json=good)
    assert r.status_code == 400 and "16 bytes" in r.get_json()["message"]


def test_a_loopback_endpoint_is_refused_unless_allowed(browser, world, app) -> None:
    with FakePushService() as local:
        app.config["PUSH_ALLOW_LOOPBACK"] = False
        r = browser("alice").post("/api/v1/push/subscriptions", json=local.new_subscription().to_json())
        assert r.status_code == 400
        app.config["PUSH_ALLOW_LOOPBACK"] = True
        assert browser("alice").post("/api/v1/push/subscriptions", json=local.new_subscription().to_json()).status_code == 201
