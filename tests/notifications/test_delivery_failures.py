"""Channels fail independently: one channel's failure never holds the others back, a person
nobody could reach is announced loudly while escalation goes on, a channel without a provider
fails with a reason, and slow providers never block the escalation loop."""

from __future__ import annotations

import threading
import time

from app.engine.loop import Engine
from app.notify.recording import RecordingTransport
from tests.notifications.reach import attempts, notifications, open_incident, reach, timeline

ALICE = "+33612345678"


def test_one_channels_permanent_failure_never_holds_the_others_back(client, world, engine, push_service, twilio,
                                                                    smtp, database) -> None:
    reach(database, world.alice, push=push_service.new_subscription(), phone=ALICE, email="alice@example.com")
    twilio.respond_with(400, times=1, for_="messages", code=21408, message="Permission to send an SMS has not "
                        "been enabled for the region indicated by the 'To' number")
    iid = open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()
    assert {a.channel: a.outcome for a in attempts(database)} == {
        "push": "sent", "sms": "failed", "voice": "sent", "email": "sent"}
    assert len(push_service.wait_for(1)) == len(twilio.wait_for_calls(1)) == len(smtp.wait_for(1)) == 1
    notes = timeline(database, iid)
    assert any("SMS to Alice Martin (mobile): FAILED (Permission to send an SMS" in n and "21408" in n for n in notes)
    assert not any("ALL CHANNELS FAILED" in n for n in notes)


def test_when_every_channel_of_a_person_fails_the_timeline_says_so_and_escalation_goes_on(
    client, world, engine, clock, push_service, twilio, smtp, database
) -> None:
    reach(database, world.alice, push=push_service.new_subscription(), phone=ALICE, email="alice@example.com")
    push_service.respond_with(403, times=1)
    twilio.respond_with(400, times=2, code=21408)  # the SMS and the call
    smtp.respond_with("550 5.1.1 No such user", times=1, stage="RCPT")
    iid = open_incident(client, world.keys["globex_generic"])  # 1-hour tier: Bob at M+30
    engine.run_until_idle()
    assert {a.outcome for a in attempts(database)} == {"failed"}
    assert timeline(database, iid, "unreachable") == [
        "ALL CHANNELS FAILED for Alice Martin: they have not been reached. Escalation continues."]
    clock.advance(minutes=30)
    engine.run_until_idle()
    assert [m.user_name for m in RecordingTransport.sent] == ["Bob Durand"]
    assert len(timeline(database, iid, "unreachable")) == 1


def test_a_channel_without_a_provider_fails_with_a_reason_instead_of_being_skipped(client, world, app, clock,
                                                                                  database) -> None:
    reach(database, world.alice, phone=ALICE, email="alice@example.com", keep_recording=True)
    bare = {**app.config, "TWILIO_ACCOUNT_SID": None, "TWILIO_AUTH_TOKEN": None, "SMTP_HOST": None}
    iid = open_incident(client, world.keys["acme_generic"])
    engine = Engine(database, clock, bare, name="bare")
    try:
        engine.run_until_idle()
    finally:
        engine.close()
    failed = timeline(database, iid, "delivery_failed")
    assert any("SMS to Alice Martin (mobile): FAILED (SMS is not configured on this server" in n for n in failed)
    assert any("Voice call to Alice Martin (mobile): FAILED (Voice is not configured" in n for n in failed)
    assert any("E-mail to Alice Martin (work): FAILED (E-mail is not configured on this server (set "
               "VIGIL_SMTP_HOST" in n for n in failed)
    assert any("Recording to Alice Martin" in n and "delivered" in n for n in timeline(database, iid, "delivered"))
    assert timeline(database, iid, "unreachable") == []  # the recording channel reached her


def test_slow_providers_never_block_the_escalation_loop_nor_the_other_channels(client, world, engine, push_service,
                                                                               database) -> None:
    """Order, not speed: the push service holds the push until the test lets it go, and by then
    the loop has come back and the fast channel's page has been delivered and recorded."""
    reach(database, world.alice, push=push_service.new_subscription(), keep_recording=True)
    release = threading.Event()
    push_service.respond_with(201, times=1, hold=release)
    open_incident(client, world.keys["acme_generic"])

    def statuses() -> dict[str, str]:
        return {n.kind: n.status for n in notifications(database)}

    try:
        stats = engine.tick()  # fires the step and hands both pages to the worker pool
        assert stats["dispatched"] == 2
        assert statuses()["push"] == "sending" and push_service.received == []  # still held
        deadline = time.monotonic() + 30  # a bound on waiting, not on speed
        while statuses()["recording"] != "sent":
            assert time.monotonic() < deadline, statuses()
            time.sleep(0.05)
        assert statuses() == {"push": "sending", "recording": "sent"} and push_service.received == []
    finally:
        release.set()
    engine.drain()
    assert len(push_service.wait_for(1)) == 1
    assert statuses() == {"push": "sent", "recording": "sent"}
