"""Self-tests for tests/fakes: the fakes are real network peers, driven here with the real
client libraries (pywebpush/py_vapid, requests, smtplib) over loopback."""

from __future__ import annotations

import gc
import smtplib
import socket
import threading
import time
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from py_vapid import Vapid, Vapid01
from py_vapid.jwt import sign as jwt_sign
from pywebpush import WebPusher, WebPushException, webpush
from werkzeug.wrappers import Request, Response

from tests.fakes.gate import Gate
from tests.fakes.servers import WSGIServerThread
from tests.fakes.smtp import FakeSMTPServer
from tests.fakes.twilio import FakeTwilio, twilio_signature
from tests.fakes.webpush import FakePushService, b64url_decode, decrypt_aes128gcm, public_key_b64

CONTACT = "mailto:oncall@vigil.example"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def vapid() -> Vapid:
    key = Vapid()
    key.generate_keys()
    return key


@pytest.fixture
def push():
    with FakePushService() as service:
        yield service


@pytest.fixture
def twilio():
    with FakeTwilio() as service:
        yield service


def claims() -> dict:
    # pywebpush writes aud/exp into the dict it is given: always pass a fresh one.
    return {"sub": CONTACT}


def _port_is_closed(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) != 0


# --------------------------------------------------------------------------- web push


def test_the_push_fake_decrypts_what_pywebpush_sent(push, vapid):
    sub = push.new_subscription()
    assert sub.endpoint.startswith(f"{push.url}/push/")
    assert len(b64url_decode(sub.p256dh)) == 65 and len(b64url_decode(sub.auth)) == 16
    assert "=" not in sub.p256dh + sub.auth

    payload = '{"incident": 42, "title": "DB down — über-critical"}'
    response = webpush(
        sub.info,
        payload,
        vapid_private_key=vapid,
        vapid_claims=claims(),
        ttl=120,
        headers={"Urgency": "high", "Topic": "incident-42"},
        timeout=5,
    )

    assert response.status_code == 201
    assert response.headers["Location"].startswith(f"{push.url}/m/")
    [got] = push.wait_for(1)
    assert got.payload == payload.encode()
    assert got.json() == {"incident": 42, "title": "DB down — über-critical"}
    assert (got.ttl, got.urgency, got.topic) == (120, "high", "incident-42")
    assert got.subscription_id == sub.id
    assert got.vapid_claims["aud"] == push.url and got.vapid_claims["sub"] == CONTACT
    assert got.vapid_public_key == public_key_b64(vapid)
    assert got.headers["content-encoding"] == "aes128gcm"
    assert push.rejected == []


def test_the_push_decryptor_matches_the_rfc_8291_example():
    from cryptography.hazmat.primitives.asymmetric import ec

    ua_private = ec.derive_private_key(
        int.from_bytes(b64url_decode("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"), "big"),
        ec.SECP256R1(),
    )
    body = b64url_decode(
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8"
        "wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
    )
    assert (
        decrypt_aes128gcm(body, ua_private, b64url_decode("BTBZMqHH6r4Tts7J_aSIgg"))
        == b"When I grow up, I want to be a watermelon"
    )


def test_a_push_signed_by_another_key_than_the_pinned_one_is_refused(push, vapid):
    other = Vapid()
    other.generate_keys()
    push.expect_vapid_public_key(vapid.public_key)
    sub = push.new_subscription()
    pinned_sub = push.new_subscription(application_server_key=public_key_b64(other))

    with pytest.raises(WebPushException) as caught:
        webpush(sub.info, "hi", vapid_private_key=other, vapid_claims=claims(), ttl=60, timeout=5)
    assert caught.value.response.status_code == 403
    # the per-subscription applicationServerKey wins over the service-wide pin
    assert (
        webpush(
            pinned_sub.info, "ok", vapid_private_key=other, vapid_claims=claims(), ttl=60, timeout=5
        ).status_code
        == 201
    )

    [rejected] = push.rejected
    assert rejected.status == 403 and "application server key" in rejected.reason
    assert [r.payload for r in push.received] == [b"ok"]


def test_an_expired_or_too_long_lived_vapid_jwt_is_refused(push, vapid):
    # webpush() silently replaces a past exp, so sign by hand and send with WebPusher.
    sub = push.new_subscription()
    now = int(time.time())
    for exp, expected in ((now - 10, "expired"), (now + 25 * 3600, "24 hours")):
        headers = vapid.sign({"sub": CONTACT, "aud": push.url, "exp": exp})
        response = WebPusher(sub.info).send("x", headers, ttl=60, timeout=5)
        assert response.status_code == 401
        assert expected in push.rejected[-1].reason
    assert push.received == []


def test_a_vapid_jwt_without_sub_is_refused(push, vapid):
    sub = push.new_subscription()
    token = jwt_sign({"aud": push.url, "exp": int(time.time()) + 3600}, vapid.private_key)
    header = {"Authorization": f"vapid t={token}, k={public_key_b64(vapid)}"}
    response = WebPusher(sub.info).send("x", header, ttl=60, timeout=5)
    assert response.status_code == 401
    assert "sub" in response.json()["message"]
    assert "sub claim missing" in push.rejected[-1].reason


def test_a_vapid_jwt_with_a_bad_signature_or_missing_header_is_refused(push, vapid):
    sub = push.new_subscription()
    other = Vapid()
    other.generate_keys()
    token = (
        vapid.sign({"sub": CONTACT, "aud": push.url})["Authorization"].split("t=")[1].split(",")[0]
    )
    forged = {"Authorization": f"vapid t={token}, k={public_key_b64(other)}"}
    assert WebPusher(sub.info).send("x", forged, ttl=60, timeout=5).status_code == 401
    assert WebPusher(sub.info).send("x", {}, ttl=60, timeout=5).status_code == 401
    assert [r.reason.split(" ")[0] for r in push.rejected] == ["JWT", "missing"]


def test_the_legacy_webpush_vapid_scheme_is_refused(push):
    legacy = Vapid01()
    legacy.generate_keys()
    sub = push.new_subscription()
    with pytest.raises(WebPushException) as caught:
        webpush(sub.info, "x", vapid_private_key=legacy, vapid_claims=claims(), ttl=60, timeout=5)
    assert caught.value.response.status_code == 401
    assert "legacy" in push.rejected[-1].reason


def test_pywebpush_reuses_a_stale_aud_from_a_shared_claims_dict(push, vapid):
    """The pywebpush quirk: vapid_claims is mutated, so a dict shared across push
    services carries the first service's aud to the second one."""
    with FakePushService() as other_service:
        shared = claims()
        webpush(
            push.new_subscription().info,
            "a",
            vapid_private_key=vapid,
            vapid_claims=shared,
            ttl=60,
            timeout=5,
        )
        assert shared["aud"] == push.url and "exp" in shared
        with pytest.raises(WebPushException) as caught:
            webpush(
                other_service.new_subscription().info,
                "b",
                vapid_private_key=vapid,
                vapid_claims=shared,
                ttl=60,
                timeout=5,
            )
        assert caught.value.response.status_code == 401
        assert "does not match the endpoint origin" in other_service.rejected[-1].reason


def test_push_requests_need_ttl_aes128gcm_and_a_small_enough_payload(push, vapid):
    sub = push.new_subscription()
    auth = vapid.sign({"sub": CONTACT, "aud": push.url})
    no_ttl = requests.post(sub.endpoint, headers=auth, timeout=5)  # payload-less push, no TTL
    assert no_ttl.status_code == 400 and "TTL" in no_ttl.json()["message"]

    aesgcm = WebPusher(sub.info).send("x", auth, ttl=60, content_encoding="aesgcm", timeout=5)
    assert aesgcm.status_code == 400 and "aes128gcm" in aesgcm.json()["message"]

    with pytest.raises(WebPushException) as caught:
        webpush(
            sub.info, "x" * 5000, vapid_private_key=vapid, vapid_claims=claims(), ttl=60, timeout=5
        )
    assert caught.value.response.status_code == 413

    bad_urgency = WebPusher(sub.info).send("x", {**auth, "Urgency": "asap"}, ttl=60, timeout=5)
    assert bad_urgency.status_code == 400

    empty = WebPusher(sub.info).send(None, auth, ttl=0, timeout=5)  # a push without payload is fine
    assert empty.status_code == 201 and push.wait_for(1)[0].payload == b""
    assert [r.status for r in push.rejected] == [400, 400, 413, 400]


def test_scripted_410_and_429_answers_are_surfaced_by_pywebpush(push, vapid):
    gone, alive = push.new_subscription(), push.new_subscription()
    push.respond_with(410, for_subscription=gone)  # forever
    push.respond_with(429, times=1, retry_after=30, for_subscription=alive)

    with pytest.raises(WebPushException) as caught:
        webpush(gone.info, "x", vapid_private_key=vapid, vapid_claims=claims(), ttl=60, timeout=5)
    assert caught.value.response.status_code == 410

    with pytest.raises(WebPushException) as caught:
        webpush(alive.info, "x", vapid_private_key=vapid, vapid_claims=claims(), ttl=60, timeout=5)
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "30"

    assert (
        webpush(
            alive.info, "again", vapid_private_key=vapid, vapid_claims=claims(), ttl=60, timeout=5
        ).status_code
        == 201
    )
    with pytest.raises(WebPushException):
        webpush(gone.info, "x", vapid_private_key=vapid, vapid_claims=claims(), ttl=60, timeout=5)
    assert [(a.status, a.outcome) for a in push.attempts] == [
        (410, "scripted"),
        (429, "scripted"),
        (201, "accepted"),
        (410, "scripted"),
    ]
    assert [r.payload for r in push.received] == [b"again"]


def test_a_scripted_delay_trips_the_client_timeout_but_the_message_still_arrives(push, vapid):
    sub = push.new_subscription()
    push.respond_with(201, times=1, delay=0.6)
    with pytest.raises(requests.exceptions.Timeout):  # pywebpush does not wrap it
        webpush(
            sub.info, "slow", vapid_private_key=vapid, vapid_claims=claims(), ttl=60, timeout=0.2
        )
    assert push.wait_for(1, timeout=3)[0].payload == b"slow"


def test_wait_for_times_out_with_the_rejections_in_the_message(push):
    sub = push.new_subscription()
    requests.post(sub.endpoint, timeout=5)
    with pytest.raises(AssertionError, match="missing Authorization"):
        push.wait_for(1, timeout=0.1)


def test_stopping_the_push_fake_closes_its_port():
    service = FakePushService().start()
    port = int(service.url.rsplit(":", 1)[1])
    service.stop()
    assert _port_is_closed(port)


# --------------------------------------------------------------------------- twilio


def test_the_twilio_fake_creates_a_message_for_a_basic_auth_post(twilio):
    response = requests.post(
        twilio.messages_url,
        auth=(twilio.account_sid, twilio.auth_token),
        timeout=5,
        data={
            "To": "+4915112345678",
            "From": "+15005550006",
            "Body": "INC-7 DB down",
            "StatusCallback": "http://127.0.0.1:9/status",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["sid"].startswith("SM") and len(body["sid"]) == 34
    assert (body["status"], body["to"], body["from"], body["body"]) == (
        "queued",
        "+4915112345678",
        "+15005550006",
        "INC-7 DB down",
    )
    assert body["account_sid"] == twilio.account_sid
    [message] = twilio.wait_for_messages(1)
    assert message.sid == body["sid"] and message.status_callback == "http://127.0.0.1:9/status"
    fetched = requests.get(
        f"{twilio.url}{body['uri']}", auth=(twilio.account_sid, twilio.auth_token), timeout=5
    )
    assert fetched.json()["sid"] == body["sid"]


def test_bad_twilio_credentials_get_a_twilio_style_401(twilio):
    response = requests.post(
        twilio.messages_url,
        auth=(twilio.account_sid, "wrong"),
        timeout=5,
        data={"To": "+4915112345678", "From": "+15005550006", "Body": "x"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == 20003
    assert requests.post(twilio.messages_url, timeout=5, data={}).status_code == 401
    assert twilio.messages == []


def test_a_non_e164_to_is_refused_with_twilio_error_21211(twilio):
    response = requests.post(
        twilio.messages_url,
        auth=(twilio.account_sid, twilio.auth_token),
        timeout=5,
        data={"To": "0151 1234 5678", "From": "+15005550006", "Body": "x"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == 21211
    assert response.json()["more_info"].endswith("/21211")


def test_the_signature_helper_matches_twilios_documented_examples():
    # Twilio's "validate incoming requests" example (twilio-php docs, usage/validation.rst)
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    assert (
        twilio_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params)
        == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )
    # twilio-ruby spec/util/request_validator_spec.rb, a real voice request
    voice = {
        "ToState": "California",
        "CalledState": "California",
        "Direction": "inbound",
        "FromState": "CA",
        "AccountSid": "ACba8bc05eacf94afdae398e642c9cc32d",
        "Caller": "+14153595711",
        "CallerZip": "94108",
        "CallerCountry": "US",
        "From": "+14153595711",
        "FromCity": "SAN FRANCISCO",
        "CallerCity": "SAN FRANCISCO",
        "To": "+14157669926",
        "FromZip": "94108",
        "FromCountry": "US",
        "ToCity": "",
        "CallStatus": "ringing",
        "CalledCity": "",
        "CallerState": "CA",
        "CalledZip": "",
        "ToZip": "",
        "ToCountry": "US",
        "CallSid": "CA136d09cd59a3c0ec8dbff44da5c03f31",
        "CalledCountry": "US",
        "Called": "+14157669926",
        "ApiVersion": "2010-04-01",
        "ApplicationSid": "AP44efecad51364e80b133bb7c07eb8204",
    }
    assert (
        twilio_signature(
            "2bd9e9638872de601313dc77410d3b23",
            "http://twiliotests.heroku.com/validate/voice",
            voice,
        )
        == "oVb2kXoVy8GEfwBDjR8bk/ZZ6eA="
    )


class _VoiceApp:
    """A stand-in for the app's voice webhooks: checks X-Twilio-Signature and serves a
    <Gather> whose relative action acknowledges the incident."""

    def __init__(self, auth_token: str):
        self.auth_token = auth_token
        self.seen: list[tuple[str, dict, bool]] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        request = Request(environ)
        params = request.form.to_dict() if request.method == "POST" else None
        valid = twilio_signature(self.auth_token, request.url, params) == request.headers.get(
            "X-Twilio-Signature"
        )
        with self.lock:
            self.seen.append(
                (request.path, request.form.to_dict() or request.args.to_dict(), valid)
            )
        if not valid:
            return Response("bad signature", status=403)(environ, start_response)
        if request.path == "/voice/answer":
            twiml = (
                '<?xml version="1.0" encoding="UTF-8"?><Response>'
                '<Gather numDigits="1" action="ack?incident=7" method="POST">'
                "<Say>Incident 7. Press 1 to acknowledge.</Say></Gather></Response>"
            )
        elif request.path == "/voice/ack":
            twiml = f"<Response><Say>Acknowledged with {request.form['Digits']}</Say></Response>"
        else:
            twiml = "<Response/>"
        return Response(twiml, content_type="text/xml")(environ, start_response)


def test_a_call_fetches_twiml_and_presses_digits_with_valid_signatures(twilio):
    app = _VoiceApp(twilio.auth_token)
    with WSGIServerThread(app, name="voice-app") as app_server:
        response = requests.post(
            twilio.calls_url,
            auth=(twilio.account_sid, twilio.auth_token),
            timeout=5,
            data={
                "To": "+4915112345678",
                "From": "+15005550006",
                "Url": f"{app_server.url}/voice/answer",
            },
        )
        assert response.status_code == 201 and response.json()["sid"].startswith("CA")
        [call] = twilio.wait_for_calls(1)

        twiml = twilio.fetch_twiml(call)
        assert "<Gather" in twiml
        answer = twilio.press_digits(call, "1")
        assert answer.status_code == 200 and "Acknowledged with 1" in answer.text

        assert [(path, valid) for path, _, valid in app.seen] == [
            ("/voice/answer", True),
            ("/voice/ack", True),
        ]
        first, second = app.seen[0][1], app.seen[1][1]
        assert first == {
            "AccountSid": twilio.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": call.sid,
            "CallStatus": "in-progress",
            "Called": "+4915112345678",
            "Caller": "+15005550006",
            "Direction": "outbound-api",
            "From": "+15005550006",
            "To": "+4915112345678",
        }
        assert second["Digits"] == "1" and second["CallSid"] == call.sid
        assert twilio.webhooks[1].url == f"{app_server.url}/voice/ack?incident=7"

        assert twilio.press_digits(call, "1", twiml=twiml, signature="forged").status_code == 403


def test_inbound_sms_webhooks_are_signed_and_a_wrong_signature_can_be_sent(twilio):
    app = _VoiceApp(twilio.auth_token)
    with WSGIServerThread(app, name="sms-app") as app_server:
        url = f"{app_server.url}/sms/inbound?tenant=acme"
        ok = twilio.send_inbound_sms(url, "+4915112345678", "+15005550006", "ACK 7")
        bad = twilio.send_inbound_sms(
            url, "+4915112345678", "+15005550006", "ACK 7", signature="AAAA"
        )
        assert (ok.status_code, bad.status_code) == (200, 403)
        (_, first, valid1), (_, second, valid2) = app.seen
        assert (valid1, valid2) == (True, False)
        assert (
            first["Body"] == "ACK 7"
            and first["NumMedia"] == "0"
            and first["AccountSid"] == twilio.account_sid
        )
        assert first["MessageSid"].startswith("SM") and first["MessageSid"] != second["MessageSid"]


def test_twilio_failures_and_delays_can_be_scripted_per_resource(twilio):
    auth = (twilio.account_sid, twilio.auth_token)
    sms = {"To": "+4915112345678", "From": "+15005550006", "Body": "x"}
    call = {
        "To": "+4915112345678",
        "From": "+15005550006",
        "Twiml": "<Response><Say>x</Say></Response>",
    }
    twilio.respond_with(429, times=1, for_="messages", retry_after=5)
    twilio.respond_with(None, times=1, for_="calls", delay=0.5)

    limited = requests.post(twilio.messages_url, auth=auth, data=sms, timeout=5)
    assert limited.status_code == 429 and limited.json()["code"] == 20429
    assert limited.headers["Retry-After"] == "5"
    assert requests.post(twilio.messages_url, auth=auth, data=sms, timeout=5).status_code == 201

    with pytest.raises(requests.exceptions.Timeout):
        requests.post(twilio.calls_url, auth=auth, data=call, timeout=0.2)
    [created] = twilio.wait_for_calls(1, timeout=3)
    assert twilio.fetch_twiml(created) == call["Twiml"]
    assert len(twilio.messages) == 1


def test_status_callbacks_are_signed_posts(twilio):
    app = _VoiceApp(twilio.auth_token)
    with WSGIServerThread(app, name="status-app") as app_server:
        requests.post(
            twilio.messages_url,
            auth=(twilio.account_sid, twilio.auth_token),
            timeout=5,
            data={
                "To": "+4915112345678",
                "From": "VIGIL",
                "Body": "x",
                "StatusCallback": f"{app_server.url}/sms/status",
            },
        )
        [message] = twilio.wait_for_messages(1)
        assert twilio.send_status_callback(message, "delivered").status_code == 200
        ((_, params, valid),) = app.seen
        assert (
            valid and params["MessageStatus"] == "delivered" and params["MessageSid"] == message.sid
        )


def test_get_webhooks_sign_the_full_url_with_the_query_string(twilio):
    app = _VoiceApp(twilio.auth_token)
    with WSGIServerThread(app, name="get-app") as app_server:
        requests.post(
            twilio.calls_url,
            auth=(twilio.account_sid, twilio.auth_token),
            timeout=5,
            data={
                "To": "+4915112345678",
                "From": "+15005550006",
                "Method": "GET",
                "Url": f"{app_server.url}/voice/answer?x=1",
            },
        )
        [call] = twilio.wait_for_calls(1)
        assert "<Gather" in twilio.fetch_twiml(call)
        ((_, params, valid),) = app.seen
        assert valid and params["CallSid"] == call.sid and params["x"] == "1"
        assert parse_qs(twilio.webhooks[0].url.split("?", 1)[1])["CallStatus"] == ["in-progress"]


# --------------------------------------------------------------------------- smtp


def _mail(to: str = "alice@example.com") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "vigil@example.com"
    msg["To"] = to
    msg["Subject"] = "[Vigil] INC-7 DB down"
    msg.set_content("Incident 7 is open.\nAcknowledge: https://vigil.example/i/7")
    return msg


def test_smtplib_starttls_and_login_deliver_a_message_that_wait_for_returns():
    with FakeSMTPServer(starttls=True, auth=("vigil", "s3cret")) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo()
            assert client.has_extn("starttls") and not client.has_extn("auth")
            client.starttls(context=server.client_ssl_context())  # verifies cert + hostname
            client.ehlo()
            assert "PLAIN" in client.esmtp_features["auth"]
            client.login("vigil", "s3cret")
            client.send_message(_mail(), to_addrs=["alice@example.com", "bob@example.com"])
        [got] = server.wait_for(1)
        assert got.message["Subject"] == "[Vigil] INC-7 DB down"
        assert "Incident 7 is open." in got.body_text()
        assert got.mail_from == "vigil@example.com"
        assert got.rcpt_tos == ["alice@example.com", "bob@example.com"]
        assert got.tls and got.authenticated_as == "vigil"
        port = server.port
    assert _port_is_closed(port)
    assert not server.ca_cert_path.exists()


def test_the_smtp_fake_refuses_plaintext_mail_and_wrong_passwords():
    with FakeSMTPServer(starttls=True, auth=("vigil", "s3cret")) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo()
            code, _ = client.mail("vigil@example.com")
            assert code == 530  # STARTTLS first
            client.starttls(context=server.client_ssl_context())
            client.ehlo()
            code, _ = client.mail("vigil@example.com")
            assert code == 530  # authentication first
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("vigil", "wrong")
        assert [(a.username, a.success, a.tls) for a in server.auth_attempts][-1] == (
            "vigil",
            False,
            True,
        )
        assert server.messages == []


def test_a_plain_smtp_fake_accepts_mail_and_can_script_temporary_failures():
    with FakeSMTPServer() as server:
        server.respond_with("451 4.3.0 Try again later", times=1)
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            with pytest.raises(smtplib.SMTPDataError) as caught:
                client.send_message(_mail())
            assert caught.value.smtp_code == 451
            client.send_message(_mail("carol@example.com"))
        [got] = server.wait_for(1)
        assert (
            got.rcpt_tos == ["carol@example.com"] and not got.tls and got.authenticated_as is None
        )


def test_a_client_vanishing_mid_tls_session_leaves_the_smtp_fake_nothing_unclosed():
    """A killed sender drops its TLS session without QUIT or close_notify: aiosmtpd keeps that
    socket, and the fake closes it when it stops (filterwarnings=error would report it)."""
    with FakeSMTPServer(starttls=True, auth=("vigil", "s3cret")) as server:
        client = smtplib.SMTP(server.host, server.port, timeout=5)
        client.starttls(context=server.client_ssl_context())
        client.login("vigil", "s3cret")
        client.sock.close()
    gc.collect()


def test_the_gate_holds_what_clients_say_and_drops_it_when_they_vanish(twilio):
    form = {"To": "+33612345678", "From": "+15005550006", "Body": "held"}
    auth = (twilio.account_sid, twilio.auth_token)
    with Gate(int(twilio.url.rsplit(":", 1)[1])) as gate:
        url = twilio.messages_url.replace(twilio.url, f"http://127.0.0.1:{gate.port}")
        assert requests.post(url, data=form, auth=auth, timeout=5).status_code == 201  # open: through
        gate.shut()
        answer: list[int] = []
        live = threading.Thread(target=lambda: answer.append(requests.post(url, data=form, auth=auth,
                                                                          timeout=5).status_code))
        live.start()
        vanishing = socket.create_connection(("127.0.0.1", gate.port))
        body = "To=%2B33600000000&From=%2B15005550006&Body=lost"
        vanishing.sendall(f"POST {urlsplit(url).path} HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          f"application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode())
        deadline = time.monotonic() + 5
        while gate.holding < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gate.holding == 2 and len(twilio.messages) == 1  # nothing reached the provider
        vanishing.close()  # a client killed while its request is held
        gate.open()
        live.join(5)
        assert answer == [201] and gate.dropped == 1
        time.sleep(0.2)
        assert [m.body for m in twilio.messages] == ["held", "held"]  # the vanished request never arrived
