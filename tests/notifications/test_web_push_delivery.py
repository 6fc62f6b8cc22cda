"""Pages reach phones as Web Push: VAPID-signed, aes128gcm-encrypted, with the agreed payload and
headers; push service errors are retried or remove the subscription."""

from __future__ import annotations

import threading

from app.engine.loop import Engine
from app.notify import vapid
from tests.fakes.webpush import FakePushService
from tests.notifications.reach import (
    attempts,
    methods,
    notifications,
    open_incident,
    reach,
    timeline,
)


def test_a_page_arrives_encrypted_with_the_agreed_payload_and_headers(client, world, engine, push_service,
                                                                       database, app) -> None:
    sub = push_service.new_subscription()
    reach(database, world.alice, push=sub)
    iid = open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()

    [got] = push_service.wait_for(1)
    body = got.json()
    base = app.config["BASE_URL"]
    assert body["ack_url"] == f"{base}/a/{body['ack_token']}"
    assert body == {
        "v": 1, "kind": "incident",
        "incident": {"id": iid, "number": iid, "client": "Acme Retail", "service": "Web shop",
                     "summary": "Disk full on web-2", "urgency": "high", "status": "triggered"},
        "title": f"#{iid} Acme Retail / Web shop", "body": "Disk full on web-2", "tag": f"incident-{iid}",
        "url": f"/incidents/{iid}", "ack_url": body["ack_url"], "ack_token": body["ack_token"], "web_push": 8030,
        "notification": {"title": f"#{iid} Acme Retail / Web shop", "body": "Disk full on web-2",
                         "navigate": body["ack_url"], "tag": f"incident-{iid}", "silent": False},
    }
    assert len(got.payload) < 3072
    assert (got.ttl, got.urgency, got.topic) == (14400, "high", f"incident-{iid}")
    assert got.vapid_claims["sub"] == "mailto:oncall@vigil.example"
    assert got.headers["content-encoding"] == "aes128gcm"
    [attempt] = attempts(database, "push")
    assert (attempt.outcome, attempt.status_code, attempt.target) == ("sent", 201, "127.0.0.1 (phone 1)")
    assert any(m.startswith("Push to Alice Martin (phone 1): delivered in") for m in timeline(database, iid))
    [m] = methods(database, world.alice, "push")
    assert m.last_success_at is not None


def test_a_low_urgency_page_is_sent_at_normal_urgency(client, world, engine, push_service, database) -> None:
    reach(database, world.alice, push=push_service.new_subscription())
    open_incident(client, world.keys["acme_generic"], severity="warning")
    engine.run_until_idle()
    [got] = push_service.wait_for(1)
    assert got.urgency == "normal" and got.json()["incident"]["urgency"] == "low"


def test_a_second_page_for_the_same_incident_carries_the_same_topic(client, world, engine, clock, push_service,
                                                                     database) -> None:
    reach(database, world.alice, push=push_service.new_subscription())
    iid = open_incident(client, world.keys["acme_generic"])  # 4-hour tier: Alice at M+0 and M+30
    engine.run_until_idle()
    clock.advance(minutes=30)
    engine.run_until_idle()
    first, second = push_service.wait_for(2)
    assert first.topic == second.topic == f"incident-{iid}"  # the phone replaces, not piles up
    assert first.json()["ack_token"] != second.json()["ack_token"]


def test_each_push_service_gets_its_own_vapid_audience(client, world, engine, push_service, database,
                                                       clock) -> None:
    """pywebpush writes aud/exp into the claims dict: a shared dict would send the first
    service's audience to the second one, which refuses it."""
    with database.transaction() as s:
        key = vapid.load_or_create(s, clock.now()).public_key
    with FakePushService() as other:
        other.expect_vapid_public_key(key)
        reach(database, world.alice, push=[push_service.new_subscription(), other.new_subscription()])
        open_incident(client, world.keys["acme_generic"])
        engine.run_until_idle()
        [a], [b] = push_service.wait_for(1), other.wait_for(1)
        assert a.vapid_claims["aud"] == push_service.url and b.vapid_claims["aud"] == other.url
        assert a.vapid_public_key == b.vapid_public_key
        assert other.rejected == [] and push_service.rejected == []


def test_a_subscription_the_push_service_says_is_gone_is_removed(client, world, engine, push_service,
                                                                 database) -> None:
    gone, alive = push_service.new_subscription(), push_service.new_subscription()
    push_service.respond_with(410, for_subscription=gone)
    push_service.forget(alive)  # and this one answers 404
    kept = push_service.new_subscription()
    reach(database, world.alice, push=[gone, alive, kept])
    iid = open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()

    assert [m.address for m in methods(database, world.alice, "push")] == [kept.endpoint]
    failed = [a for a in attempts(database, "push") if a.outcome == "failed"]
    assert sorted(a.status_code for a in failed) == [404, 410]
    assert all(a.target.startswith("127.0.0.1 (phone") for a in failed)  # the record outlives the row
    notes = timeline(database, iid, "delivery_failed")
    assert len(notes) == 2 and all("The subscription was removed." in n for n in notes)
    assert len(push_service.received_for(kept)) == 1


def test_a_429_is_retried_after_the_delay_the_service_asked_for(client, world, engine, clock, push_service,
                                                               database) -> None:
    reach(database, world.alice, push=push_service.new_subscription())
    push_service.respond_with(429, times=1, retry_after=120)
    iid = open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()
    assert push_service.received == []
    assert "retrying in 120 s" in timeline(database, iid, "delivery_retry")[0]
    clock.advance(seconds=119)
    engine.run_until_idle()
    assert push_service.received == []
    clock.advance(seconds=1)
    engine.run_until_idle()
    assert len(push_service.wait_for(1)) == 1
    assert [a.outcome for a in attempts(database, "push")] == ["retry", "sent"]


def test_a_500_is_retried_with_backoff_then_delivered(client, world, engine, clock, push_service, database) -> None:
    reach(database, world.alice, push=push_service.new_subscription())
    push_service.respond_with(500, times=2)
    open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()
    clock.advance(seconds=5)
    engine.run_until_idle()
    clock.advance(seconds=10)
    engine.run_until_idle()
    assert [(a.outcome, a.status_code) for a in attempts(database, "push")] == [
        ("retry", 500), ("retry", 500), ("sent", 201)]
    assert len(push_service.wait_for(1)) == 1


def test_a_push_service_that_does_not_answer_in_time_is_retried(client, world, app, clock, push_service,
                                                                database) -> None:
    reach(database, world.alice, push=push_service.new_subscription())
    answer = threading.Event()  # the push service answers only when the test says so
    push_service.respond_with(201, times=1, hold=answer)
    open_incident(client, world.keys["acme_generic"])
    engine = Engine(database, clock, {**app.config, "PUSH_TIMEOUT_SECONDS": 0.3}, name="impatient")
    try:
        engine.run_until_idle()
        # Recorded as a retry while the service still had not answered: we gave up at the timeout.
        [attempt] = attempts(database, "push")
        assert attempt.outcome == "retry" and "did not answer within 0.3 s" in attempt.error
        answer.set()
        clock.advance(seconds=5)
        engine.run_until_idle()
        assert [a.outcome for a in attempts(database, "push")] == ["retry", "sent"]
    finally:
        engine.close()
    [n] = notifications(database, kind="push")
    assert n.status == "sent" and n.attempts == 2
