"""A fake Twilio REST provider on loopback (the subset Vigil uses), plus the webhooks Twilio
sends back to the app, signed exactly like Twilio signs them.

REST side (point the production client's API base URL at ``service.url``):

* ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` — form fields To, From, Body,
  optional StatusCallback. 201 with Twilio-shaped JSON (sid ``SM…``, status ``queued``).
* ``POST /2010-04-01/Accounts/{AccountSid}/Calls.json`` — To, From, and Url (+ Method)
  or Twiml, optional StatusCallback. 201 with JSON (sid ``CA…``, status ``queued``).
* ``GET  .../Messages/{Sid}.json`` and ``.../Calls/{Sid}.json`` — current state.

Checks: HTTP Basic auth AccountSid:AuthToken (401, Twilio error 20003); the AccountSid in
the path must be the authenticated one (404, 20404); ``To`` must be E.164 (400, 21211);
``From`` must be E.164 (or, for SMS, a short code / alphanumeric sender ID) (400, 21212);
missing To/From/Body/Url -> 21604/21603/21602/21205; Body over 1600 chars -> 21617.
Failures can be scripted with ``respond_with(status, times, for_="messages"|"calls",
delay=...)``; scripted answers only apply to requests that passed the checks.

Webhook side (towards the app, with ``X-Twilio-Signature``):
``fetch_twiml(call)``, ``press_digits(call, "1")``, ``send_inbound_sms(...)``,
``send_status_callback(record, "delivered")``. The signature is Twilio's algorithm:
base64(HMAC-SHA1(auth_token, url + concat(sorted name+value of POST params))), see
``twilio_signature``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from werkzeug.wrappers import Request, Response

from tests.fakes.servers import Recorder, ScriptBook, Scripted, WSGIServerThread

__all__ = [
    "FakeTwilio",
    "TwilioMessage",
    "TwilioCall",
    "TwilioAttempt",
    "Webhook",
    "twilio_signature",
    "new_sid",
]

API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_SHORT_CODE = re.compile(r"^\d{3,8}$")
_ALPHA_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/(?P<kind>Messages|Calls)(?:/(?P<sid>[A-Za-z0-9]+))?\.json$"
)
_DEFAULT_CODES = {
    400: 21100,
    401: 20003,
    403: 20403,
    404: 20404,
    405: 20004,
    429: 20429,
    500: 20500,
    502: 20502,
    503: 20503,
    504: 20504,
}


def new_sid(prefix: str) -> str:
    """A Twilio-looking SID: 2-letter prefix + 32 lowercase hex digits."""
    return prefix + secrets.token_hex(16)


def _pairs(params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> list[tuple[str, str]]:
    if params is None:
        return []
    if hasattr(params, "items") and hasattr(params, "getlist"):  # werkzeug MultiDict
        return [(k, str(v)) for k, v in params.items(multi=True)]  # type: ignore[call-arg]
    if isinstance(params, Mapping):
        out: list[tuple[str, str]] = []
        for k, v in params.items():
            if isinstance(v, (list, tuple)):
                out.extend((k, str(x)) for x in v)
            else:
                out.append((k, str(v)))
        return out
    return [(k, str(v)) for k, v in params]


def twilio_signature(
    auth_token: str, url: str, params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None
) -> str:
    """Twilio's X-Twilio-Signature: base64(HMAC-SHA1(auth_token, url + k1v1k2v2…)) with
    the POST parameters sorted by name (repeated names: each distinct value, sorted, as
    twilio-python does). For GET requests pass ``params=None`` (they are in the URL)."""
    by_name: dict[str, set[str]] = {}
    for name, value in _pairs(params):
        by_name.setdefault(name, set()).add(value)
    data = url + "".join(
        name + value for name in sorted(by_name) for value in sorted(by_name[name])
    )
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _now_rfc2822() -> str:
    return format_datetime(datetime.now(UTC).replace(microsecond=0))


@dataclass
class TwilioMessage:
    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None
    params: dict[str, str]  # the form exactly as posted (first value of each field)
    idempotency_key: str | None = None  # the request's Idempotency-Key header
    status: str = "queued"
    date_created: str = field(default_factory=_now_rfc2822)
    created_at: float = field(default_factory=time.monotonic)

    def as_json(self) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": self.date_created,
            "date_sent": None,
            "date_updated": self.date_created,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(1 if len(self.body) <= 160 else -(-len(self.body) // 153)),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": self.to,
            "uri": uri,
        }


@dataclass
class TwilioCall:
    sid: str
    account_sid: str
    to: str
    from_: str
    url: str | None
    method: str
    twiml: str | None
    status_callback: str | None
    params: dict[str, str]
    idempotency_key: str | None = None
    status: str = "queued"
    date_created: str = field(default_factory=_now_rfc2822)
    created_at: float = field(default_factory=time.monotonic)
    # Conversation state kept by fetch_twiml / press_digits:
    last_twiml: str | None = None
    last_url: str | None = None

    def as_json(self) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}.json"
        return {
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": self.date_created,
            "date_updated": self.date_created,
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": self.from_,
            "from_formatted": self.from_,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": self.sid,
            "start_time": None,
            "status": self.status,
            "subresource_uris": {
                "notifications": uri.replace(".json", "/Notifications.json"),
                "recordings": uri.replace(".json", "/Recordings.json"),
            },
            "to": self.to,
            "to_formatted": self.to,
            "trunk_sid": None,
            "uri": uri,
        }


@dataclass(frozen=True)
class TwilioAttempt:
    kind: str  # "messages" | "calls" | "other"
    method: str
    path: str
    status: int
    outcome: str  # created / fetched / rejected / scripted / replayed
    reason: str
    params: dict[str, str]
    at: float


@dataclass(frozen=True)
class Webhook:
    """A request the fake sent to the app, and what came back."""

    method: str
    url: str
    params: dict[str, str]
    signature: str
    status: int
    body: str


class FakeTwilio:
    """See the module docstring. Use as a context manager or ``start()``/``stop()``."""

    def __init__(self, account_sid: str | None = None, auth_token: str | None = None, *,
                 honour_idempotency: bool = False) -> None:
        # Twilio itself ignores Idempotency-Key; compatible providers (Telnyx, say) answer a
        # repeated key with the first request's resource and send nothing more.
        self.honour_idempotency = honour_idempotency
        self._by_key: dict[tuple[str, str], TwilioMessage | TwilioCall] = {}
        self.account_sid = account_sid or new_sid("AC")
        self.auth_token = auth_token or secrets.token_hex(16)
        self._server = WSGIServerThread(self._wsgi, name="twilio")
        self._messages = Recorder()
        self._calls = Recorder()
        self._attempts = Recorder()
        self._webhooks = Recorder()
        self._script = ScriptBook()
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    # lifecycle ---------------------------------------------------------------------
    def start(self) -> FakeTwilio:
        self._stopping.clear()
        self._server.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.stop()

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """API base, e.g. ``http://127.0.0.1:PORT`` (stands in for https://api.twilio.com)."""
        return self._server.url

    @property
    def messages_url(self) -> str:
        return f"{self.url}/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"

    @property
    def calls_url(self) -> str:
        return f"{self.url}/{API_VERSION}/Accounts/{self.account_sid}/Calls.json"

    # observations ------------------------------------------------------------------
    @property
    def messages(self) -> list[TwilioMessage]:
        return self._messages.snapshot()

    @property
    def calls(self) -> list[TwilioCall]:
        return self._calls.snapshot()

    @property
    def attempts(self) -> list[TwilioAttempt]:
        """Every REST request, including rejected and scripted ones."""
        return self._attempts.snapshot()

    @property
    def webhooks(self) -> list[Webhook]:
        """Every webhook request this fake sent to the app."""
        return self._webhooks.snapshot()

    def wait_for_messages(self, n: int = 1, timeout: float = 5) -> list[TwilioMessage]:
        return self._messages.wait_for(n, timeout, self._describe)

    def wait_for_calls(self, n: int = 1, timeout: float = 5) -> list[TwilioCall]:
        return self._calls.wait_for(n, timeout, self._describe)

    def wait_for_attempts(self, n: int = 1, timeout: float = 5) -> list[TwilioAttempt]:
        return self._attempts.wait_for(n, timeout)

    def clear(self) -> None:
        self._messages.clear()
        self._calls.clear()
        self._attempts.clear()
        self._webhooks.clear()
        self._script.clear()
        with self._lock:
            self._by_key.clear()

    def _describe(self) -> str:
        bad = [a for a in self.attempts if a.outcome in ("rejected", "scripted")]
        if not bad:
            return "no rejected requests either"
        return "rejected: " + "; ".join(f"{a.status} {a.reason}" for a in bad[-5:])

    # scripting -----------------------------------------------------------------------
    def respond_with(
        self,
        status: int | None,
        times: int | None = None,
        for_: str | None = None,
        *,
        delay: float = 0.0,
        retry_after: int | str | None = None,
        code: int | None = None,
        message: str | None = None,
        body: dict | str | None = None,
    ) -> None:
        """Queue an answer for the next valid POST(s) to Messages (``for_="messages"``),
        Calls (``for_="calls"``) or either (None). ``status`` None or 2xx: create the
        resource normally after ``delay`` seconds; other statuses are answered with a
        Twilio error JSON (``code``/``message`` default per status) and create nothing."""
        if for_ not in (None, "messages", "calls"):
            raise ValueError("for_ must be 'messages', 'calls' or None")
        if body is None and status is not None and not 200 <= status < 300:
            body = _error_body(
                status,
                code or _DEFAULT_CODES.get(status, 20000 + status),
                message or f"Scripted failure {status}",
            )
        self._script.add(
            Scripted(
                status=status,
                times=times,
                delay=delay,
                retry_after=retry_after,
                body=body,
                match={"kind": for_},
            )
        )

    # REST app -------------------------------------------------------------------------
    def _wsgi(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        return self._handle(request)(environ, start_response)

    def _attempt(
        self,
        kind: str,
        request: Request,
        status: int,
        outcome: str,
        reason: str,
        params: dict[str, str],
    ) -> None:
        self._attempts.append(
            TwilioAttempt(
                kind,
                request.method,
                request.path,
                status,
                outcome,
                reason,
                params,
                time.monotonic(),
            )
        )

    def _fail(
        self,
        kind: str,
        request: Request,
        params: dict[str, str],
        status: int,
        code: int,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> Response:
        self._attempt(kind, request, status, "rejected", f"{code} {message}", params)
        response = _json_response(_error_body(status, code, message), status)
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    def _handle(self, request: Request) -> Response:
        params = {k: v for k, v in request.form.items()}
        match = _PATH.match(request.path)
        kind = match["kind"].lower() if match else "other"
        auth = request.authorization
        if (
            auth is None
            or auth.type != "basic"
            or not hmac.compare_digest((auth.username or "").encode(), self.account_sid.encode())
            or not hmac.compare_digest((auth.password or "").encode(), self.auth_token.encode())
        ):
            return self._fail(
                kind,
                request,
                params,
                401,
                20003,
                "Authentication Error - invalid username",
                {"WWW-Authenticate": 'Basic realm="Twilio API"'},
            )
        if match is None:
            return self._fail(
                kind,
                request,
                params,
                404,
                20404,
                f"The requested resource {request.path} was not found",
            )
        if match["account"] != self.account_sid:
            return self._fail(
                kind,
                request,
                params,
                404,
                20404,
                f"The requested resource {request.path} was not found",
            )
        if match["sid"]:
            if request.method != "GET":
                return self._fail(kind, request, params, 405, 20004, "Method not allowed")
            records = self.messages if kind == "messages" else self.calls
            for record in records:
                if record.sid == match["sid"]:
                    self._attempt(kind, request, 200, "fetched", "", params)
                    return _json_response(record.as_json(), 200)
            return self._fail(
                kind,
                request,
                params,
                404,
                20404,
                f"The requested resource {request.path} was not found",
            )
        if request.method != "POST":
            return self._fail(kind, request, params, 405, 20004, "Method not allowed")

        error = self._validate(kind, params)
        if error is not None:
            return self._fail(kind, request, params, 400, error[0], error[1])

        rule = self._script.take(kind=kind)
        status = 201
        extra: dict[str, str] = {}
        if rule is not None:
            if rule.delay:
                self._stopping.wait(rule.delay)
            if rule.retry_after is not None:
                extra["Retry-After"] = str(rule.retry_after)
            if rule.status is not None and not 200 <= rule.status < 300:
                self._attempt(
                    kind, request, rule.status, "scripted", f"scripted {rule.status}", params
                )
                body = rule.body
                response = (
                    _json_response(body, rule.status)
                    if isinstance(body, dict)
                    else Response(body or "", status=rule.status)
                )
                for name, value in extra.items():
                    response.headers[name] = value
                return response
            if rule.status is not None:
                status = rule.status

        key = request.headers.get("Idempotency-Key")
        if key and self.honour_idempotency:
            with self._lock:
                first = self._by_key.get((kind, key))
            if first is not None:
                self._attempt(kind, request, status, "replayed", "repeated Idempotency-Key", params)
                return _json_response(first.as_json(), status)
        if kind == "messages":
            record: TwilioMessage | TwilioCall = TwilioMessage(
                sid=new_sid("SM"),
                account_sid=self.account_sid,
                to=params["To"],
                from_=params["From"],
                body=params.get("Body", ""),
                status_callback=params.get("StatusCallback"),
                params=params,
                idempotency_key=key,
            )
            self._messages.append(record)
        else:
            record = TwilioCall(
                sid=new_sid("CA"),
                account_sid=self.account_sid,
                to=params["To"],
                from_=params["From"],
                url=params.get("Url"),
                method=(params.get("Method") or "POST").upper(),
                twiml=params.get("Twiml"),
                status_callback=params.get("StatusCallback"),
                params=params,
                idempotency_key=key,
            )
            self._calls.append(record)
        if key:
            with self._lock:
                self._by_key.setdefault((kind, key), record)
        self._attempt(kind, request, status, "created", "", params)
        response = _json_response(record.as_json(), status)
        for name, value in extra.items():
            response.headers[name] = value
        return response

    def _validate(self, kind: str, params: dict[str, str]) -> tuple[int, str] | None:
        to, from_ = params.get("To"), params.get("From")
        if not to:
            return 21604, "A 'To' phone number is required."
        if not E164.match(to):
            return 21211, f"Invalid 'To' Phone Number: {to}"
        if not from_:
            return 21603, "A 'From' phone number is required."
        from_ok = E164.match(from_) or (
            kind == "messages" and (_SHORT_CODE.match(from_) or _ALPHA_SENDER.match(from_))
        )
        if not from_ok:
            return 21212, f"Invalid From Number (caller ID): {from_}"
        if kind == "messages":
            body = params.get("Body")
            if not body and not params.get("MediaUrl"):
                return 21602, "Message body is required."
            if body and len(body) > 1600:
                return 21617, "The concatenated message body exceeds the 1600 character limit."
        else:
            url, twiml = params.get("Url"), params.get("Twiml")
            if not url and not twiml:
                return 21205, "Url parameter is required (or Twiml)."
            if url and urlsplit(url).scheme not in ("http", "https"):
                return 21205, f"Url is not a valid URL: {url}"
            if twiml and len(twiml) > 4000:
                return 21205, "Twiml exceeds 4000 characters."
            method = (params.get("Method") or "POST").upper()
            if method not in ("GET", "POST"):
                return 21206, f"Method must be GET or POST, got {method}"
        callback = params.get("StatusCallback")
        if callback and urlsplit(callback).scheme not in ("http", "https"):
            return 21609, f"Invalid StatusCallback URL: {callback}"
        return None

    # webhooks towards the app ------------------------------------------------------------
    def sign(self, url: str, params: Mapping[str, Any] | None = None) -> str:
        return twilio_signature(self.auth_token, url, params)

    def _send(
        self, method: str, url: str, params: dict[str, str], signature: str | None, timeout: float
    ) -> requests.Response:
        method = method.upper()
        if method == "GET":
            sep = "&" if urlsplit(url).query else "?"
            full_url = f"{url}{sep}{urlencode(params)}" if params else url
            sig = self.sign(full_url) if signature is None else signature
            kwargs: dict[str, Any] = {}
        else:
            full_url = url
            sig = self.sign(full_url, params) if signature is None else signature
            kwargs = {"data": params}
        headers = {
            "X-Twilio-Signature": sig,
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
            "Accept": "*/*",
        }
        response = requests.request(
            method, full_url, headers=headers, timeout=timeout, allow_redirects=False, **kwargs
        )
        self._webhooks.append(
            Webhook(method, full_url, dict(params), sig, response.status_code, response.text)
        )
        return response

    def _call_params(self, call: TwilioCall) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "CallStatus": "in-progress",
            "Called": call.to,
            "Caller": call.from_,
            "Direction": "outbound-api",
            "From": call.from_,
            "To": call.to,
        }

    def fetch_twiml(
        self, call: TwilioCall, *, signature: str | None = None, timeout: float = 5
    ) -> str:
        """What Twilio does when the callee answers: request the call's Url (with its
        Method, default POST) with the standard call parameters, signed. Returns the
        TwiML text (or the inline ``Twiml`` of the call). Raises AssertionError if the
        app does not answer 200."""
        if call.url is None:
            call.last_twiml = call.twiml
            return call.twiml or ""
        response = self._send(call.method, call.url, self._call_params(call), signature, timeout)
        if response.status_code != 200:
            raise AssertionError(
                f"TwiML fetch {call.method} {call.url} -> {response.status_code}: {response.text[:500]}"
            )
        call.last_twiml, call.last_url = response.text, call.url
        return response.text

    def press_digits(
        self,
        call: TwilioCall,
        digits: str,
        *,
        twiml: str | None = None,
        signature: str | None = None,
        timeout: float = 5,
    ) -> requests.Response:
        """Answer the current ``<Gather>``: parse it from ``twiml`` (default: the call's
        last TwiML, fetched first if needed), then request its ``action`` (resolved
        against the document URL; no action = the document URL) with its ``method``
        (default POST), sending the call parameters + ``Digits``, signed. If the answer
        is TwiML it becomes the call's current document (so gathers can be chained)."""
        document = (
            twiml
            if twiml is not None
            else (
                call.last_twiml
                if call.last_twiml is not None
                else self.fetch_twiml(call, timeout=timeout)
            )
        )
        try:
            root = ET.fromstring(document)
        except ET.ParseError as err:
            raise AssertionError(f"TwiML is not XML ({err}): {document[:500]}") from None
        gather = root if root.tag == "Gather" else root.find(".//Gather")
        if gather is None:
            raise AssertionError(f"no <Gather> in TwiML: {document[:500]}")
        base = call.last_url or call.url
        action = gather.get("action")
        if action:
            target = urljoin(base, action) if base else action
        elif base:
            target = base
        else:
            raise AssertionError(
                "<Gather> has no action and the call has no Url to resolve against"
            )
        method = (gather.get("method") or "POST").upper()
        params = self._call_params(call)
        params.update({"Digits": digits, "FinishedOnKey": ""})
        response = self._send(method, target, params, signature, timeout)
        if response.ok and "<Response" in response.text:
            call.last_twiml, call.last_url = response.text, target
        return response

    def send_inbound_sms(
        self,
        webhook_url: str,
        from_: str,
        to: str,
        body: str,
        *,
        signature: str | None = None,
        extra: Mapping[str, str] | None = None,
        timeout: float = 5,
    ) -> requests.Response:
        """POST an inbound-SMS webhook like Twilio does (unique MessageSid, NumMedia=0, …),
        signed with this account's auth token; ``signature=`` sends that header value
        instead (to test rejection). Returns the app's response."""
        sid = new_sid("SM")
        params = {
            "ToCountry": "",
            "ToState": "",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ToCity": "",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": "",
            "To": to,
            "ToZip": "",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "ApiVersion": API_VERSION,
        }
        params.update(extra or {})
        return self._send("POST", webhook_url, params, signature, timeout)

    def send_status_callback(
        self,
        record: TwilioMessage | TwilioCall,
        status: str,
        *,
        url: str | None = None,
        extra: Mapping[str, str] | None = None,
        signature: str | None = None,
        timeout: float = 5,
    ) -> requests.Response:
        """POST a status callback (MessageStatus / CallStatus = ``status``) to the record's
        StatusCallback (or ``url``), signed, and update the record's status."""
        target = url or record.status_callback
        if not target:
            raise AssertionError(f"{record.sid} has no StatusCallback")
        record.status = status
        if isinstance(record, TwilioMessage):
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "From": record.from_,
                "To": record.to,
                "MessageSid": record.sid,
                "SmsSid": record.sid,
                "MessageStatus": status,
                "SmsStatus": status,
            }
        else:
            params = self._call_params(record)
            params["CallStatus"] = status
            if status == "completed":
                params.update({"CallDuration": "1", "Duration": "1"})
        params.update(extra or {})
        method = (record.params.get("StatusCallbackMethod") or "POST").upper()
        return self._send(method, target, params, signature, timeout)


def _error_body(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _json_response(payload: Any, status: int) -> Response:
    return Response(
        json.dumps(payload), status=status, content_type="application/json; charset=utf-8"
    )
