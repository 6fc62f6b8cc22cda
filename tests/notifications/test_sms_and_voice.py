"""SMS and voice through a Twilio-compatible provider: the page goes out, a call reads the
incident and "press 1" acknowledges, "ACK 1234" / "RES 1234" replies act as the sender, and
every webhook must carry a valid signature and not be a replay."""

from __future__ import annotations

import http.server
import json
import threading
import xml.etree.ElementTree as ET
from typing import Any, ClassVar

import requests

from app.models import Incident
from tests.notifications.conftest import SENDER
from tests.notifications.reach import attempts, methods, open_incident, reach, timeline

ALICE = "+33612345678"
BOB = "+33698765432"


def status_of(database, iid: int) -> tuple[str, str | None]:
    with database.transaction() as s:
        inc = s.get(Incident, iid)
        return inc.status, inc.acknowledged_by.name if inc.acknowledged_by else None


def test_a_page_sends_an_sms_with_the_reply_syntax_and_a_link(client, world, engine, twilio, database, app) -> None:
    reach(database, world.alice, phone=ALICE)
    iid = open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()
    [sms] = twilio.wait_for_messages(1)
    assert (sms.to, sms.from_) == (ALICE, SENDER)
    lines = sms.body.splitlines()
    assert lines[0] == f"Vigil #{iid} HIGH Acme Retail / Web shop: Disk full on web-2"
    assert lines[1] == f"Reply ACK {iid} or RES {iid}"
    assert lines[2].startswith(f"{app.config['BASE_URL']}/a/")
    [attempt] = attempts(database, "sms")
    assert attempt.outcome == "sent" and attempt.target == f"{ALICE} (mobile)" and sms.sid in attempt.provider_answer


def test_the_paging_call_reads_the_incident_and_press_1_acknowledges(client, world, engine, twilio, database) -> None:
    reach(database, world.alice, phone=ALICE)
    iid = open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()
    [call] = twilio.wait_for_calls(1)
    assert call.to == ALICE and "/twilio/voice/" in call.url
    script = ET.fromstring(twilio.fetch_twiml(call))
    gather = script.find("Gather")
    assert gather.get("numDigits") == "1"
    said = gather.find("Say").text
    assert f"incident {iid}, for Acme Retail, Web shop: Disk full on web-2" in said and "Press 1" in said
    assert status_of(database, iid) == ("triggered", None)  # answering is not acknowledging

    answer = twilio.press_digits(call, "1")
    assert answer.status_code == 200 and "Acknowledged" in answer.text
    assert status_of(database, iid) == ("acknowledged", "Alice Martin")
    assert timeline(database, iid, "acknowledged") == ["Acknowledged by Alice Martin (via phone call)."]
    # Twilio retries a webhook it thinks failed: the same call pressing 1 again changes nothing.
    press = twilio.webhooks[-1]
    again = requests.post(press.url, data=press.params, headers={"X-Twilio-Signature": press.signature}, timeout=5)
    assert again.status_code == 200 and "Acknowledged" in again.text
    assert len(timeline(database, iid, "acknowledged")) == 1


def test_a_wrong_key_asks_again_and_a_call_answered_after_an_ack_says_so(client, world, engine, twilio, database,
                                                                         browser) -> None:
    reach(database, world.alice, phone=ALICE)
    iid = open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()
    [call] = twilio.wait_for_calls(1)
    wrong = twilio.press_digits(call, "7")
    assert "not 1" in wrong.text and ET.fromstring(wrong.text).find("Gather") is not None
    browser("bob").post(f"/api/v1/incidents/{iid}/ack")
    script = ET.fromstring(twilio.fetch_twiml(call))
    assert script.find("Gather") is None
    assert "acknowledged by Bob Durand" in script.find("Say").text


def test_an_sms_reply_acknowledges_or_resolves_as_its_sender(client, world, engine, twilio, database, app) -> None:
    reach(database, world.alice, phone=ALICE)
    first = open_incident(client, world.keys["acme_generic"])
    second = open_incident(client, world.keys["acme_generic"], dedup="other", summary="Load high")
    hook = f"{app.config['BASE_URL']}/twilio/sms"

    r = twilio.send_inbound_sms(hook, ALICE, SENDER, f"ack {first}")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/xml")
    assert ET.fromstring(r.text).find("Message").text == f"Vigil: #{first} acknowledged."
    assert status_of(database, first) == ("acknowledged", "Alice Martin")
    assert timeline(database, first, "acknowledged") == ["Acknowledged by Alice Martin (via SMS)."]

    r = twilio.send_inbound_sms(hook, ALICE, SENDER, f"RES #{second}")
    assert ET.fromstring(r.text).find("Message").text == f"Vigil: #{second} resolved."
    assert timeline(database, second, "resolved") == ["Resolved by Alice Martin (via SMS): Resolved by SMS reply"]

    help_ = twilio.send_inbound_sms(hook, ALICE, SENDER, "what is going on?")
    assert "reply ACK 1042" in ET.fromstring(help_.text).find("Message").text
    stranger = twilio.send_inbound_sms(hook, "+14155550100", SENDER, f"ACK {second}")
    assert "not registered" in ET.fromstring(stranger.text).find("Message").text
    missing = twilio.send_inbound_sms(hook, ALICE, SENDER, "ACK 99999")
    assert "not found" in ET.fromstring(missing.text).find("Message").text


def test_a_webhook_with_a_wrong_signature_is_refused(client, world, twilio, database, app) -> None:
    reach(database, world.alice, phone=ALICE)
    iid = open_incident(client, world.keys["acme_generic"])
    hook = f"{app.config['BASE_URL']}/twilio/sms"
    forged = twilio.send_inbound_sms(hook, ALICE, SENDER, f"ACK {iid}", signature="bm90IGEgc2lnbmF0dXJl")
    assert forged.status_code == 403
    unsigned = client.post("/twilio/sms", data={"From": ALICE, "Body": f"ACK {iid}", "MessageSid": "SMx"})
    assert unsigned.status_code == 403
    assert status_of(database, iid) == ("triggered", None)


def test_a_replayed_sms_webhook_is_refused(client, world, twilio, database, app) -> None:
    reach(database, world.alice, phone=ALICE)
    iid = open_incident(client, world.keys["acme_generic"])
    hook = f"{app.config['BASE_URL']}/twilio/sms"
    assert twilio.send_inbound_sms(hook, ALICE, SENDER, f"ACK {iid}").status_code == 200
    first = twilio.webhooks[-1]
    replay = client.post("/twilio/sms", data=first.params, headers={"X-Twilio-Signature": first.signature})
    assert replay.status_code == 409 and "already handled" in replay.get_data(as_text=True)


def test_an_unanswered_call_is_reported_on_the_timeline(client, world, engine, twilio, database) -> None:
    reach(database, world.alice, phone=ALICE)
    iid = open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()
    [call] = twilio.wait_for_calls(1)
    assert twilio.send_status_callback(call, "no-answer").status_code == 204
    assert timeline(database, iid, "delivery_report") == ["Voice call to Alice Martin: not answered."]
    [sms] = twilio.wait_for_messages(1)
    twilio.send_status_callback(sms, "delivered")  # good news needs no line on the timeline
    assert len(timeline(database, iid, "delivery_report")) == 1


def test_a_number_the_provider_calls_invalid_is_switched_off(client, world, engine, twilio, database) -> None:
    reach(database, world.alice, phone="+33600000000")
    twilio.respond_with(400, times=1, for_="messages", code=21614, message="'To' number is not a valid mobile number")
    iid = open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()
    [sms] = methods(database, world.alice, "sms")
    assert sms.enabled is False and "21614" in sms.disabled_reason
    assert any("SMS to Alice Martin (mobile): FAILED" in m for m in timeline(database, iid, "delivery_failed"))
    assert len(twilio.wait_for_calls(1)) == 1  # the voice call went out regardless


def test_a_busy_provider_is_retried(client, world, engine, clock, twilio, database) -> None:
    reach(database, world.alice, phone=ALICE)
    twilio.respond_with(429, times=1, for_="messages", retry_after=30)
    open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()
    clock.advance(seconds=30)
    engine.run_until_idle()
    assert [a.outcome for a in attempts(database, "sms")] == ["retry", "sent"]
    assert len(twilio.wait_for_messages(1)) == 1



class _KeepAliveProvider(http.server.BaseHTTPRequestHandler):
    """A provider that keeps connections open, as Twilio's API does (the werkzeug server under
    tests/fakes closes every connection, so it cannot show reuse): it answers every POST with a
    created resource and counts the connections it served."""

    protocol_version = "HTTP/1.1"
    connections: ClassVar[list[str]] = []

    def setup(self) -> None:
        super().setup()
        self.connections.append(f"{self.client_address[0]}:{self.client_address[1]}")

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"sid": "SM" + "0" * 32, "status": "queued"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_pages_from_one_sending_thread_reuse_one_connection_to_the_provider() -> None:
    """No TCP (and, with a real provider, TLS) handshake per page in a storm; the engine's stop
    closes the connections."""
    from app.notify.base import OutboundMessage
    from app.notify.sms import SmsTransport
    from app.notify.voice import VoiceTransport

    provider: Any = type("Provider", (_KeepAliveProvider,), {"connections": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), provider)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        config = {"TWILIO_BASE_URL": f"http://127.0.0.1:{server.server_port}", "TWILIO_ACCOUNT_SID": "AC1",
                  "TWILIO_AUTH_TOKEN": "secret", "TWILIO_FROM": SENDER, "TWILIO_TIMEOUT_SECONDS": 2.0,
                  "BASE_URL": "http://vigil.test"}
        sms, voice = SmsTransport(config), VoiceTransport(config)
        for i in range(3):
            for transport in (sms, voice):
                sent = transport.send(OutboundMessage(notification_id=i, kind=transport.kind, purpose="test", user_id=1,
                                                      user_name="Alice", address=ALICE, subject="", body=""))
                assert sent.status_code == 201
        sms.close()
        voice.close()
    finally:
        server.shutdown()
        server.server_close()
    assert len(provider.connections) == 2, provider.connections  # one per transport
