"""An acknowledgement tapped on the lock screen while Vigil does not answer (a deploy, a restart),
with no window of the app open: the service worker queues it, says why on the lock screen, and
delivers it by itself once Vigil is back, exactly once, without anybody opening the app.

Vigil's web process really stops and starts again on the same port (the engine goes on
escalating meanwhile); the push is the engine's real one, handed to the worker over CDP; the tap
goes through the worker's notification-click handler (see conftest)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from app import incidents
from app.intake.base import IntakeEvent
from app.intake.keys import lookup
from app.models import Incident, Operation, TimelineEntry, User
from tests.e2e.conftest import (
    Server,
    controlled,
    deliver_push,
    login,
    push_for,
    service_worker,
    subscribe_phone,
    tap,
    wait_for_notification,
)
from tests.fakes.webpush import FakePushService

WINDOWS = "() => self.clients.matchAll({includeUncontrolled: true, type: 'window'}).then(cs => cs.length)"
CLICK_WORK = "() => Promise.all(self.__vigilClickWork)"


def a_locked_phone(new_phone: Any, push_service: FakePushService) -> Any:
    """Alice's phone, subscribed to pushes, every window of the app closed."""
    ctx = new_phone()
    page = ctx.new_page()
    login(page, "alice")
    controlled(page)
    subscribe_phone(page, push_service)
    page.close()
    return ctx


def a_page_on_the_locked_phone(new_phone: Any, server: Server, push_service: FakePushService,
                               summary: str) -> tuple[Any, Any, int, str]:
    """Alice's locked phone, and the engine's page for a new incident shown on its lock screen
    with its Acknowledge button."""
    ctx = a_locked_phone(new_phone, push_service)
    iid = server.post_alert(summary, f"outbox-{time.time()}")
    payload = push_for(push_service, iid)
    shown = deliver_push(ctx, server, payload)
    assert shown["actions"] == ["ack"], shown
    worker = service_worker(ctx)
    tag = payload["tag"]
    assert ctx.pages == [] and worker.evaluate(WINDOWS) == 0  # no window: no Background Sync either
    return ctx, worker, iid, tag


def acknowledgements(server: Server, iid: int) -> list[str]:
    with server.db.transaction() as s:
        return list(s.execute(select(TimelineEntry.message).where(
            TimelineEntry.incident_id == iid, TimelineEntry.kind == "acknowledged")).scalars())


def test_a_lock_screen_ack_queued_while_vigil_is_down_is_sent_when_it_returns_with_no_window_open(
        new_phone, server, push_service) -> None:
    ctx, worker, iid, tag = a_page_on_the_locked_phone(new_phone, server, push_service, "Primary DB failover loop")

    with server.web_stopped():
        first = tap(worker, tag)
        assert first["status"] == "queued" and first["reason"] == "no_answer", first
        queued = wait_for_notification(worker, lambda n: n["tag"] == tag and "queued" in n["title"])
        # The phone is online: the lock screen says Vigil did not answer, not "no network".
        assert "Vigil did not answer" in queued["body"] and "offline" not in queued["body"], queued
        assert "escalation goes on" in queued["body"] and queued["actions"] == []
        with server.db.transaction() as s:
            assert s.get(Incident, iid).status == "triggered"

    # Vigil is back. Nobody opens the app: the worker's retries deliver the ack by themselves.
    sent = wait_for_notification(worker, lambda n: n["tag"] == tag and "sent" in n["title"], timeout=120)
    assert "acknowledged" in sent["body"], sent
    with server.db.transaction() as s:
        inc = s.get(Incident, iid)
        assert inc.status == "acknowledged" and inc.acknowledged_by_id == server.world.alice
    assert len(acknowledgements(server, iid)) == 1
    answer = worker.evaluate("op => self.VigilOutbox.answer(op)", first["op_id"])
    assert answer["status"] == "sent" and answer["attempts"] >= 2, answer
    assert worker.evaluate("() => self.VigilOutbox.all()") == []  # it left the outbox
    # The tap's work (what kept the worker alive) ended with the answer, not at its time limit.
    assert [e["status"] for e in worker.evaluate(CLICK_WORK)] == ["sent"]
    assert ctx.pages == []

    # A later wake-up of the worker (the next push) sends nothing twice.
    deliver_push(ctx, server, {"kind": "test", "title": "Vigil test", "body": "test", "tag": "vigil-test"})
    assert len(acknowledgements(server, iid)) == 1
    with server.db.transaction() as s:
        ops = s.execute(select(func.count()).select_from(Operation).where(Operation.incident_id == iid)).scalar_one()
    assert ops == 1


def test_a_lock_screen_ack_that_someone_else_beat_while_vigil_was_down_is_shown_as_such_and_leaves_the_outbox(
        new_phone, server, push_service) -> None:
    ctx, worker, iid, tag = a_page_on_the_locked_phone(new_phone, server, push_service, "Payments queue stuck")

    with server.web_stopped():
        first = tap(worker, tag)
        assert first["status"] == "queued", first
        wait_for_notification(worker, lambda n: n["tag"] == tag and "queued" in n["title"])
        # Meanwhile Bob acknowledges through another way in (Vigil runs several web processes;
        # here straight through the service layer, while this one is down).
        with server.db.transaction() as s:
            incidents.acknowledge(s, iid, incidents.Actor.of(s.get(User, server.world.bob)), datetime.now(UTC))

    refused = wait_for_notification(worker, lambda n: n["tag"] == tag and "queued" not in n["title"], timeout=120)
    assert "Bob Durand acknowledged first" in refused["title"], refused
    assert "already acknowledged by Bob Durand" in refused["body"], refused
    answer = worker.evaluate("op => self.VigilOutbox.answer(op)", first["op_id"])
    assert answer["status"] == "refused" and answer["result"]["outcome"] == "acknowledged_by_other", answer
    assert answer["result"]["http_status"] == 409
    assert worker.evaluate("() => self.VigilOutbox.all()") == []  # it left the outbox: never sent again
    assert [e["status"] for e in worker.evaluate(CLICK_WORK)] == ["refused"]
    with server.db.transaction() as s:
        inc = s.get(Incident, iid)
        assert inc.status == "acknowledged" and inc.acknowledged_by_id == server.world.bob
    assert acknowledgements(server, iid) == ["Acknowledged by Bob Durand."]


def test_a_storms_page_acknowledged_from_the_lock_screen_while_vigil_is_down_says_how_many_it_acknowledged(
        new_phone, server, push_service) -> None:
    """An alert storm pages Alice once for the incidents of one look (notify/plan.bundle): the
    lock screen's notices about her acknowledgement speak of them all, in the page's place."""
    ctx = a_locked_phone(new_phone, push_service)
    stamp = time.time()
    with server.db.transaction() as s:  # opened together: the engine's next look finds the three
        target = lookup(s, server.world.keys["globex_generic"])
        ids = [incidents.trigger(s, target, IntakeEvent("trigger", f"NFS share stale on app-{i}", f"nfs-{i}-{stamp}"),
                                 f"nfs-{i}-{stamp}", datetime.now(UTC))[0] for i in range(3)]
    deadline = time.monotonic() + 15
    while not (bundles := [p for r in push_service.received if (p := r.json()).get("incident", {}).get("bundle")
                           and p["incident"]["id"] in ids]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bundles, "the engine sent no page listing the three"
    payload = bundles[0]
    assert payload["incident"]["bundle"] == 3 and payload["tag"].startswith("page-"), payload
    assert deliver_push(ctx, server, payload)["actions"] == ["ack"]
    worker = service_worker(ctx)
    tag = payload["tag"]

    with server.web_stopped():
        first = tap(worker, tag)
        assert first["status"] == "queued", first
        queued = wait_for_notification(worker, lambda n: n["tag"] == tag and "queued" in n["title"])
        assert queued["title"] == "3 incidents: acknowledgement queued", queued

    sent = wait_for_notification(worker, lambda n: n["tag"] == tag and "sent" in n["title"], timeout=120)
    assert sent["title"] == "3 incidents: acknowledgement sent", sent
    assert sent["body"].startswith("3 incidents acknowledged: #"), sent
    with server.db.transaction() as s:
        assert [(s.get(Incident, i).status, s.get(Incident, i).acknowledged_by_id) for i in ids] == \
            [("acknowledged", server.world.alice)] * 3
    assert all(len(acknowledgements(server, i)) == 1 for i in ids)
