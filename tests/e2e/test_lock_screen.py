"""The lock screen, end to end: the PWA subscribes (the browser's push service is our loopback
fake: headless Chromium cannot reach a vendor's), the engine sends a real VAPID-signed,
encrypted push for a real alert, the push is delivered into the service worker over CDP, and
the notification's Acknowledge action acknowledges on the server without opening the app."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from app.models import ContactMethod, Incident, TimelineEntry
from tests.e2e.conftest import controlled, login, screenshot
from tests.fakes.webpush import FakePushService

STUB = """([endpoint, p256dh, auth]) => {
  // Headless Chromium has no vendor push service: hand back the fake service's subscription.
  PushManager.prototype.subscribe = async function () {
    return { endpoint, expirationTime: null, options: {}, toJSON() { return { endpoint, expirationTime: null, keys: { p256dh, auth } }; } };
  };
}"""


@pytest.fixture
def push_service() -> Iterator[FakePushService]:
    with FakePushService() as service:
        yield service


def subscribe_phone(page: Any, service: FakePushService) -> Any:
    sub = service.new_subscription()
    page.goto("/settings/notifications")
    page.evaluate(STUB, [sub.endpoint, sub.p256dh, sub.auth])
    page.click("#enable-push")
    page.wait_for_selector("#devices li.device", timeout=10_000)
    assert "Notifications are on" in page.inner_text("#push-status")
    return sub


def registration_id(page: Any) -> tuple[Any, str]:
    cdp = page.context.new_cdp_session(page)
    found: list[str] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated",
           lambda e: found.extend(r["registrationId"] for r in e["registrations"] if not r.get("isDeleted")))
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 5
    while not found and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert found, "no service worker registration"
    return cdp, found[0]


def test_a_push_for_a_real_alert_is_acknowledged_from_the_notification_action(new_phone, server, push_service) -> None:
    ctx = new_phone()
    page = ctx.new_page()
    login(page, "alice")
    controlled(page)
    sub = subscribe_phone(page, push_service)
    screenshot(page, "notifications-enabled")
    with server.db.transaction() as s:
        methods = s.execute(select(ContactMethod).where(ContactMethod.user_id == server.world.alice,
                                                         ContactMethod.kind == "push")).scalars().all()
        assert [m.address for m in methods] == [sub.endpoint]

    iid = server.post_alert("Database replica lag 15 min", f"push-{time.time()}")
    pushes = [r for r in push_service.wait_for(1, timeout=10) if r.json().get("incident", {}).get("id") == iid]
    assert pushes, "the engine sent no push for the incident"
    payload = pushes[0].json()
    assert payload["tag"] == f"incident-{iid}" and payload["ack_token"]
    assert pushes[0].urgency == "high" and int(pushes[0].ttl) >= 3600 and pushes[0].topic == f"incident-{iid}"

    cdp, reg = registration_id(page)
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": server.url, "registrationId": reg, "data": json.dumps(payload)})
    worker = ctx.service_workers[0]
    shown = None
    for _ in range(100):
        shown = worker.evaluate("() => self.registration.getNotifications().then(ns => ns.map(n => ({title: n.title, "
                                "body: n.body, tag: n.tag, actions: n.actions.map(a => a.action), sticky: n.requireInteraction})))")
        if shown:
            break
        page.wait_for_timeout(50)
    assert shown == [{"title": payload["title"], "body": payload["body"], "tag": f"incident-{iid}",
                      "actions": ["ack"], "sticky": True}]

    # Tap "Acknowledge" on the lock screen: the worker acknowledges with the signed token.
    outcome = worker.evaluate("() => self.registration.getNotifications().then(ns => "
                              "self.vigilHandleNotificationClick({action: 'ack', notification: ns[0]}))")
    assert outcome["status"] == "sent", outcome
    with server.db.transaction() as s:
        inc = s.get(Incident, iid)
        assert inc.status == "acknowledged" and inc.acknowledged_by_id == server.world.alice
        acks = s.execute(select(TimelineEntry.message).where(TimelineEntry.incident_id == iid,
                                                              TimelineEntry.kind == "acknowledged")).scalars().all()
    assert len(acks) == 1
    assert worker.evaluate("() => self.registration.getNotifications().then(ns => ns.length)") == 0


def test_a_test_notification_reaches_the_phones_push_service(new_phone, server, push_service) -> None:
    page = new_phone().new_page()
    login(page, "bob")
    controlled(page)
    subscribe_phone(page, push_service)
    page.click("#devices li.device button:has-text('Send a test')")
    received = push_service.wait_for(1, timeout=10)
    assert received[0].json()["kind"] == "test"
