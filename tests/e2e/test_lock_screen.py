"""The lock screen, end to end: the PWA subscribes (the browser's push service is our loopback
fake: headless Chromium cannot reach a vendor's), the engine sends a real VAPID-signed,
encrypted push for a real alert, the push is delivered into the service worker over CDP, and
the notification's Acknowledge action acknowledges on the server without opening the app."""

from __future__ import annotations

import time

from sqlalchemy import select

from app.models import ContactMethod, Incident, TimelineEntry
from tests.e2e.conftest import (
    controlled,
    deliver_push,
    login,
    notifications,
    push_for,
    screenshot,
    service_worker,
    subscribe_phone,
    tap,
)


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
    # Alice may have other devices from earlier tests; this phone's is one of them, once.
    assert [m.address for m in methods].count(sub.endpoint) == 1

    iid = server.post_alert("Database replica lag 15 min", f"push-{time.time()}")
    payload = push_for(push_service, iid)
    assert payload["tag"] == f"incident-{iid}" and payload["ack_token"]
    sent = next(r for r in push_service.received if r.json().get("incident", {}).get("id") == iid)
    assert sent.urgency == "high" and int(sent.ttl) >= 3600 and sent.topic == f"incident-{iid}"

    shown = deliver_push(ctx, server, payload)
    worker = service_worker(ctx)
    assert shown == {"title": payload["title"], "body": payload["body"], "tag": f"incident-{iid}",
                     "actions": ["ack"], "sticky": True}

    # Tap "Acknowledge" on the lock screen: the worker acknowledges with the signed token.
    outcome = tap(worker, f"incident-{iid}")
    assert outcome["status"] == "sent", outcome
    with server.db.transaction() as s:
        inc = s.get(Incident, iid)
        assert inc.status == "acknowledged" and inc.acknowledged_by_id == server.world.alice
        acks = s.execute(select(TimelineEntry.message).where(TimelineEntry.incident_id == iid,
                                                              TimelineEntry.kind == "acknowledged")).scalars().all()
    assert len(acks) == 1
    assert notifications(worker) == []  # sent at once: the tapped notification just goes away


def test_a_test_notification_reaches_the_phones_push_service(new_phone, server, push_service) -> None:
    page = new_phone().new_page()
    login(page, "bob")
    controlled(page)
    subscribe_phone(page, push_service)
    page.click("#devices li.device button:has-text('Send a test')")
    received = push_service.wait_for(1, timeout=10)
    assert received[0].json()["kind"] == "test"
