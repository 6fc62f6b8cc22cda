"""A fake Web Push service (RFC 8030), in the role of FCM / Mozilla autopush, on loopback.

``FakePushService`` listens on 127.0.0.1 (free port). ``new_subscription()`` plays the
browser: it generates a real P-256 ECDH key pair and a 16-byte auth secret and returns
an endpoint ``http://127.0.0.1:PORT/push/<id>`` plus the base64url (unpadded) ``p256dh``
and ``auth`` keys, exactly what ``PushSubscription.toJSON()`` hands to an app server.

What a POST to an endpoint must get right, otherwise it is answered with an error and
recorded in ``service.rejected`` (nothing lands in ``service.received``):

* unknown subscription id -> 404.
* VAPID (RFC 8292): ``Authorization: vapid t=<JWT>, k=<key>`` -> 401 unless
  - the JWT header says ``alg: ES256`` and the ES256 signature verifies against ``k``
    (``k`` = 65-byte uncompressed P-256 point, base64url);
  - ``aud`` is exactly the endpoint's origin ``http://127.0.0.1:PORT``;
  - ``exp`` is an integer in the future and at most 24 h ahead;
  - ``sub`` is present and a ``mailto:`` (with an ``@``) or ``https://`` URL.
  The legacy draft form (``Authorization: WebPush <JWT>`` + ``Crypto-Key: p256ecdsa=``)
  is refused with 401 unless ``FakePushService(accept_legacy_vapid=True)``.
  A missing Authorization header is refused (401) unless ``require_vapid=False``.
* Key pinning -> 403 when ``k`` differs from the key given to
  ``expect_vapid_public_key(k)`` or to ``new_subscription(application_server_key=k)``
  (the browser's ``applicationServerKey``).
* ``TTL`` header present and a non-negative integer -> else 400. ``Urgency`` (if sent)
  one of very-low/low/normal/high and ``Topic`` (if sent) at most 32 base64url
  characters -> else 400.
* A non-empty body needs ``Content-Encoding: aes128gcm`` (``aesgcm`` is refused, 400),
  at most ``max_payload_bytes`` (4096, like real services) -> else 413, and must decrypt
  (RFC 8291 + RFC 8188, implemented here independently of http_ece with ``cryptography``):
  single record, keyid = the sender's 65-byte ephemeral public key, AES-GCM tag valid,
  final padding delimiter 0x02 -> else 400. An empty body (push without payload) is
  accepted and recorded with ``payload == b""``.

A valid request is answered 201 Created with ``Location: <url>/m/<message id>`` and stored
as a ``Received`` (decrypted payload, TTL/Urgency/Topic, VAPID claims and key, timestamps).
Queue other answers with ``respond_with(status, times=..., retry_after=...,
for_subscription=..., delay=...)``; scripted answers are only applied to requests that
passed all the checks above, so a broken client still sees the 401/400 it deserves.
Every request (accepted, rejected, or scripted) is listed in ``service.attempts``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from werkzeug.wrappers import Request, Response

from tests.fakes.servers import Recorder, ScriptBook, Scripted, WSGIServerThread

__all__ = [
    "FakePushService",
    "Subscription",
    "Received",
    "Rejected",
    "Attempt",
    "VapidError",
    "DecryptError",
    "b64url_encode",
    "b64url_decode",
    "public_key_b64",
    "verify_vapid",
    "decrypt_aes128gcm",
]

MAX_EXP_AHEAD = 24 * 60 * 60
URGENCIES = ("very-low", "low", "normal", "high")
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


# --------------------------------------------------------------------------- helpers


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(data: str | bytes) -> bytes:
    if isinstance(data, bytes):
        data = data.decode("ascii")
    data = data.strip().rstrip("=")
    if not _B64URL.match(data or "="):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _raw_public(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def public_key_b64(key: Any) -> str:
    """Normalise an application server public key to unpadded base64url of the 65-byte
    point. Accepts that string itself, raw bytes, a cryptography public/private key, or
    a py_vapid ``Vapid`` object."""
    if isinstance(key, str):
        return b64url_encode(b64url_decode(key))
    if isinstance(key, bytes):
        return b64url_encode(key)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return b64url_encode(_raw_public(key.public_key()))
    if isinstance(key, ec.EllipticCurvePublicKey):
        return b64url_encode(_raw_public(key))
    pub = getattr(key, "public_key", None)  # py_vapid.Vapid
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return b64url_encode(_raw_public(pub))
    raise TypeError(f"cannot interpret {type(key).__name__} as a P-256 public key")


def _hmac256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


# --------------------------------------------------------------------------- VAPID


class VapidError(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _parse_auth_params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        params[name.strip().lower()] = value.strip().strip('"')
    return params


def verify_vapid(
    authorization: str | None,
    origin: str,
    *,
    crypto_key: str | None = None,
    accept_legacy: bool = False,
    now: float | None = None,
) -> tuple[dict[str, Any], str]:
    """Check an Authorization header against RFC 8292. Returns ``(claims, k)`` where ``k``
    is the application server key (unpadded base64url). Raises ``VapidError(401, ...)``."""
    if not authorization:
        raise VapidError(401, "missing Authorization header (VAPID required)")
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() == "vapid":
        params = _parse_auth_params(rest)
        token, k = params.get("t"), params.get("k")
        if not token or not k:
            raise VapidError(401, "vapid authorization needs both t= and k= parameters")
    elif scheme.lower() == "webpush":
        if not accept_legacy:
            raise VapidError(
                401,
                "legacy 'WebPush <JWT>' + Crypto-Key p256ecdsa= (VAPID draft-01) is not "
                "accepted; send RFC 8292 'Authorization: vapid t=<JWT>, k=<key>'",
            )
        token = rest.strip()
        k = None
        for piece in re.split(r"[;,]", crypto_key or ""):
            name, _, value = piece.strip().partition("=")
            if name.strip().lower() == "p256ecdsa":
                k = value.strip().strip('"')
        if not token or not k:
            raise VapidError(401, "legacy WebPush authorization without Crypto-Key p256ecdsa=")
    else:
        raise VapidError(401, f"unsupported Authorization scheme {scheme!r}; expected 'vapid'")

    try:
        raw_k = b64url_decode(k)
    except (ValueError, binascii.Error):
        raise VapidError(401, "k is not base64url") from None
    if len(raw_k) != 65 or raw_k[0] != 0x04:
        raise VapidError(401, "k must be an uncompressed P-256 point (65 bytes, 0x04 prefix)")
    try:
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw_k)
    except ValueError:
        raise VapidError(401, "k is not a point on P-256") from None

    parts = token.split(".")
    if len(parts) != 3:
        raise VapidError(401, "t is not a compact JWS (header.claims.signature)")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise VapidError(401, "JWT is not valid base64url JSON") from None
    if not isinstance(header, dict) or header.get("alg") != "ES256":
        raise VapidError(401, f"JWT alg must be ES256, got {header!r}")
    if "typ" in header and str(header["typ"]).upper() != "JWT":
        raise VapidError(401, f"JWT typ must be JWT, got {header['typ']!r}")
    if not isinstance(claims, dict):
        raise VapidError(401, "JWT claims are not a JSON object")
    if len(signature) != 64:
        raise VapidError(401, "ES256 signature must be 64 bytes (r||s)")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public_key.verify(der, f"{parts[0]}.{parts[1]}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise VapidError(401, "JWT signature does not verify against k") from None

    now = time.time() if now is None else now
    aud = claims.get("aud")
    if aud != origin:
        raise VapidError(401, f"aud {aud!r} does not match the endpoint origin {origin!r}")
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise VapidError(401, f"exp must be an integer, got {exp!r}")
    if exp <= now:
        raise VapidError(401, f"JWT expired (exp={exp}, now={int(now)})")
    if exp > now + MAX_EXP_AHEAD:
        raise VapidError(401, f"exp is more than 24 hours ahead (exp={exp}, now={int(now)})")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise VapidError(401, "sub claim missing (RFC 8292 §2.1: mailto: or https: contact)")
    if sub.startswith("mailto:"):
        if "@" not in sub[len("mailto:") :]:
            raise VapidError(401, f"sub {sub!r} is not a mailto: address")
    elif sub.startswith("https:"):
        if not urlsplit(sub).netloc:
            raise VapidError(401, f"sub {sub!r} is not an https URL")
    else:
        raise VapidError(401, f"sub {sub!r} must be a mailto: or https: URL")
    return claims, b64url_encode(raw_k)


# --------------------------------------------------------------------------- RFC 8291


class DecryptError(Exception):
    pass


def decrypt_aes128gcm(
    body: bytes, ua_private_key: ec.EllipticCurvePrivateKey, auth_secret: bytes
) -> bytes:
    """Decrypt a Web Push message body (RFC 8291 on top of RFC 8188 aes128gcm)."""
    if len(body) < 21:
        raise DecryptError("body shorter than the aes128gcm header")
    salt = body[:16]
    rs = int.from_bytes(body[16:20], "big")
    idlen = body[20]
    keyid = body[21 : 21 + idlen]
    ciphertext = body[21 + idlen :]
    if idlen != 65 or len(keyid) != 65 or keyid[0] != 0x04:
        raise DecryptError(
            "keyid must be the sender's 65-byte uncompressed P-256 key (RFC 8291 §4)"
        )
    if rs < 18:
        raise DecryptError(f"record size {rs} < 18")
    if len(ciphertext) < 17:
        raise DecryptError("ciphertext shorter than tag + padding delimiter")
    if len(ciphertext) > rs:
        raise DecryptError(
            f"{len(ciphertext)} bytes of records with rs={rs}: RFC 8291 requires one record"
        )
    try:
        as_public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), keyid)
    except ValueError:
        raise DecryptError("keyid is not a point on P-256") from None
    ua_public = _raw_public(ua_private_key.public_key())
    ecdh_secret = ua_private_key.exchange(ec.ECDH(), as_public)
    # HKDF(auth_secret, ecdh_secret, "WebPush: info" || 0x00 || ua_public || as_public, 32)
    prk_key = _hmac256(auth_secret, ecdh_secret)
    ikm = _hmac256(prk_key, b"WebPush: info\x00" + ua_public + keyid + b"\x01")
    prk = _hmac256(salt, ikm)
    cek = _hmac256(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]
    nonce = _hmac256(prk, b"Content-Encoding: nonce\x00\x01")[:12]  # record 0: XOR 0
    try:
        padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
    except InvalidTag:
        raise DecryptError(
            "AES-GCM authentication failed (wrong keys/auth secret or corrupted body)"
        ) from None
    stripped = padded.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x02:
        raise DecryptError("last record must end with padding delimiter 0x02")
    return stripped[:-1]


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Subscription:
    """What the browser gives the app: endpoint + keys. Holds the private key so the
    fake can decrypt (``private_key``, ``auth_secret``)."""

    id: str
    endpoint: str
    p256dh: str
    auth: str
    application_server_key: str | None = None
    private_key: ec.EllipticCurvePrivateKey = field(default=None, repr=False, compare=False)  # type: ignore[assignment]
    auth_secret: bytes = field(default=b"", repr=False, compare=False)

    @property
    def info(self) -> dict[str, Any]:
        """The dict pywebpush's ``subscription_info`` expects (a fresh dict each time)."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}

    def to_json(self) -> dict[str, Any]:
        """Same shape as the browser's ``PushSubscription.toJSON()``."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": self.auth},
        }


@dataclass(frozen=True)
class Received:
    subscription_id: str
    endpoint: str
    message_id: str
    payload: bytes
    ttl: int
    urgency: str | None
    topic: str | None
    vapid_claims: dict[str, Any]
    vapid_public_key: str | None
    headers: dict[str, str]  # all request headers, lower-cased names
    status: int  # what we answered
    received_at: float  # time.monotonic()
    received_at_wall: datetime  # UTC

    def json(self) -> Any:
        return json.loads(self.payload)

    def text(self) -> str:
        return self.payload.decode("utf-8")


@dataclass(frozen=True)
class Rejected:
    subscription_id: str | None
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    received_at_wall: datetime


@dataclass(frozen=True)
class Attempt:
    """One request, whatever the outcome (``outcome``: accepted / rejected / scripted)."""

    subscription_id: str | None
    status: int
    outcome: str
    reason: str
    at: float  # time.monotonic()


# --------------------------------------------------------------------------- service


class FakePushService:
    """See the module docstring. Use as a context manager or ``start()``/``stop()``."""

    def __init__(
        self,
        *,
        require_vapid: bool = True,
        accept_legacy_vapid: bool = False,
        max_payload_bytes: int = 4096,
    ) -> None:
        self.require_vapid = require_vapid
        self.accept_legacy_vapid = accept_legacy_vapid
        self.max_payload_bytes = max_payload_bytes
        self._server = WSGIServerThread(self._wsgi, name="webpush")
        self._subs: dict[str, Subscription] = {}
        self._lock = threading.Lock()
        self._expected_key: str | None = None
        self._received = Recorder()
        self._rejected = Recorder()
        self._attempts = Recorder()
        self._script = ScriptBook()
        self._stopping = threading.Event()

    # lifecycle ---------------------------------------------------------------
    def start(self) -> FakePushService:
        self._stopping.clear()
        self._server.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # cut short any scripted delay
        self._server.stop()

    def __enter__(self) -> FakePushService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Origin of the service, e.g. ``http://127.0.0.1:54321`` (also the VAPID aud)."""
        return self._server.url

    origin = url

    # subscriptions -----------------------------------------------------------
    def new_subscription(self, application_server_key: Any = None) -> Subscription:
        """Act like ``pushManager.subscribe()``: fresh P-256 key pair + 16-byte auth
        secret. ``application_server_key`` pins the VAPID key for this subscription
        (403 if another key signs)."""
        private_key = ec.generate_private_key(ec.SECP256R1())
        auth_secret = secrets.token_bytes(16)
        sub_id = secrets.token_urlsafe(16)
        sub = Subscription(
            id=sub_id,
            endpoint=f"{self.url}/push/{sub_id}",
            p256dh=b64url_encode(_raw_public(private_key.public_key())),
            auth=b64url_encode(auth_secret),
            application_server_key=None
            if application_server_key is None
            else public_key_b64(application_server_key),
            private_key=private_key,
            auth_secret=auth_secret,
        )
        with self._lock:
            self._subs[sub_id] = sub
        return sub

    def forget(self, subscription: Subscription | str) -> None:
        """Drop a subscription: later pushes to it get 404 (use respond_with(410) for Gone)."""
        with self._lock:
            self._subs.pop(_sub_id(subscription), None)

    @property
    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return list(self._subs.values())

    def expect_vapid_public_key(self, key: Any) -> None:
        """Pin the application server key for all subscriptions (None to unpin)."""
        self._expected_key = None if key is None else public_key_b64(key)

    # scripted answers ----------------------------------------------------------
    def respond_with(
        self,
        status: int | None,
        times: int | None = None,
        retry_after: int | str | None = None,
        for_subscription: Subscription | str | None = None,
        *,
        delay: float = 0.0,
        hold: threading.Event | None = None,
        body: bytes | str | dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Queue an answer for the next valid request(s). ``times=None``: until ``clear()``.
        ``status`` None or 2xx: deliver normally (after ``delay`` seconds, or once ``hold`` is
        set) and answer that status; anything else (404, 410, 413, 429, 500, ...) is answered
        without delivery. ``retry_after`` sets the Retry-After header."""
        self._script.add(
            Scripted(
                status=status,
                times=times,
                delay=delay,
                hold=hold,
                retry_after=retry_after,
                body=body,
                headers=dict(headers or {}),
                match={
                    "subscription_id": None
                    if for_subscription is None
                    else _sub_id(for_subscription)
                },
            )
        )

    # observations ----------------------------------------------------------------
    @property
    def received(self) -> list[Received]:
        return self._received.snapshot()

    @property
    def rejected(self) -> list[Rejected]:
        return self._rejected.snapshot()

    @property
    def attempts(self) -> list[Attempt]:
        return self._attempts.snapshot()

    def received_for(self, subscription: Subscription | str) -> list[Received]:
        sid = _sub_id(subscription)
        return [r for r in self.received if r.subscription_id == sid]

    def wait_for(self, n: int = 1, timeout: float = 5) -> list[Received]:
        """Block until at least ``n`` messages were accepted; returns all of them.
        Raises AssertionError (listing rejections) on timeout."""
        return self._received.wait_for(n, timeout, self._describe_rejections)

    def wait_for_attempts(self, n: int = 1, timeout: float = 5) -> list[Attempt]:
        return self._attempts.wait_for(n, timeout)

    def wait_for_rejections(self, n: int = 1, timeout: float = 5) -> list[Rejected]:
        return self._rejected.wait_for(n, timeout)

    def clear(self) -> None:
        """Forget received/rejected/attempts and scripted answers (keeps subscriptions
        and the pinned key)."""
        self._received.clear()
        self._rejected.clear()
        self._attempts.clear()
        self._script.clear()

    def _describe_rejections(self) -> str:
        rej = self.rejected
        if not rej:
            return "no rejected requests either"
        return "rejected: " + "; ".join(f"{r.status} {r.reason}" for r in rej[-5:])

    # HTTP -------------------------------------------------------------------------
    def _wsgi(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        response = self._handle(request)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        body = request.get_data(cache=False)
        headers = {k.lower(): v for k, v in request.headers.items()}
        parts = request.path.strip("/").split("/")
        sub_id = parts[1] if len(parts) == 2 and parts[0] == "push" else None
        if sub_id is None:
            return self._reject(None, 404, f"no push resource at {request.path}", headers, body)
        if request.method != "POST":
            return self._reject(
                sub_id, 405, f"{request.method} not allowed on a push resource", headers, body
            )
        with self._lock:
            sub = self._subs.get(sub_id)
        if sub is None:
            return self._reject(sub_id, 404, "unknown subscription", headers, body)

        claims: dict[str, Any] = {}
        key: str | None = None
        if self.require_vapid or headers.get("authorization"):
            try:
                claims, key = verify_vapid(
                    headers.get("authorization"),
                    self.url,
                    crypto_key=headers.get("crypto-key"),
                    accept_legacy=self.accept_legacy_vapid,
                )
            except VapidError as err:
                return self._reject(sub_id, err.status, err.reason, headers, body)
            pinned = sub.application_server_key or self._expected_key
            if pinned is not None and key != pinned:
                return self._reject(
                    sub_id,
                    403,
                    f"VAPID key {key} is not the application server key {pinned} of this subscription",
                    headers,
                    body,
                )

        ttl_text = headers.get("ttl")
        if ttl_text is None:
            return self._reject(sub_id, 400, "missing TTL header (RFC 8030 §5.2)", headers, body)
        if not ttl_text.strip().isdigit():
            return self._reject(
                sub_id, 400, f"TTL must be a non-negative integer, got {ttl_text!r}", headers, body
            )
        urgency = headers.get("urgency")
        if urgency is not None and urgency not in URGENCIES:
            return self._reject(
                sub_id, 400, f"Urgency must be one of {URGENCIES}, got {urgency!r}", headers, body
            )
        topic = headers.get("topic")
        if topic is not None and (len(topic) > 32 or not _B64URL.match(topic)):
            return self._reject(
                sub_id,
                400,
                f"Topic must be <= 32 base64url characters, got {topic!r}",
                headers,
                body,
            )

        payload = b""
        if body:
            encoding = headers.get("content-encoding", "")
            if encoding.strip().lower() != "aes128gcm":
                return self._reject(
                    sub_id,
                    400,
                    f"Content-Encoding must be aes128gcm, got {encoding!r}",
                    headers,
                    body,
                )
            if len(body) > self.max_payload_bytes:
                return self._reject(
                    sub_id,
                    413,
                    f"payload of {len(body)} bytes exceeds {self.max_payload_bytes}",
                    headers,
                    body,
                )
            try:
                payload = decrypt_aes128gcm(body, sub.private_key, sub.auth_secret)
            except DecryptError as err:
                return self._reject(sub_id, 400, f"cannot decrypt: {err}", headers, body)

        rule = self._script.take(subscription_id=sub_id)
        status = 201
        extra_headers: dict[str, str] = {}
        if rule is not None:
            if rule.delay:
                self._stopping.wait(rule.delay)
            while rule.hold is not None and not rule.hold.is_set() and not self._stopping.is_set():
                rule.hold.wait(0.05)
            extra_headers.update(rule.headers)
            if rule.retry_after is not None:
                extra_headers["Retry-After"] = str(rule.retry_after)
            if rule.status is not None and not 200 <= rule.status < 300:
                reason = f"scripted {rule.status}"
                self._attempts.append(
                    Attempt(sub_id, rule.status, "scripted", reason, time.monotonic())
                )
                return _error_response(rule.status, reason, rule.body, extra_headers)
            if rule.status is not None:
                status = rule.status

        message_id = secrets.token_urlsafe(12)
        self._received.append(
            Received(
                subscription_id=sub_id,
                endpoint=sub.endpoint,
                message_id=message_id,
                payload=payload,
                ttl=int(ttl_text),
                urgency=urgency,
                topic=topic,
                vapid_claims=claims,
                vapid_public_key=key,
                headers=headers,
                status=status,
                received_at=time.monotonic(),
                received_at_wall=datetime.now(UTC),
            )
        )
        self._attempts.append(Attempt(sub_id, status, "accepted", "", time.monotonic()))
        response = Response(b"", status=status)
        response.headers["Location"] = f"{self.url}/m/{message_id}"
        response.headers["TTL"] = str(int(ttl_text))
        for name, value in extra_headers.items():
            response.headers[name] = value
        return response

    def _reject(
        self, sub_id: str | None, status: int, reason: str, headers: dict[str, str], body: bytes
    ) -> Response:
        now = time.monotonic()
        self._rejected.append(
            Rejected(sub_id, status, reason, headers, body, now, datetime.now(UTC))
        )
        self._attempts.append(Attempt(sub_id, status, "rejected", reason, now))
        extra = {"WWW-Authenticate": "vapid"} if status == 401 else {}
        return _error_response(status, reason, None, extra)


def _sub_id(subscription: Subscription | str) -> str:
    if isinstance(subscription, Subscription):
        return subscription.id
    if "/push/" in subscription:
        return subscription.rsplit("/push/", 1)[1]
    return subscription


def _error_response(status: int, reason: str, body: Any, headers: dict[str, str]) -> Response:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    if body is None:
        payload: bytes = json.dumps({"code": status, "error": phrase, "message": reason}).encode()
        content_type = "application/json"
    elif isinstance(body, dict):
        payload, content_type = json.dumps(body).encode(), "application/json"
    else:
        payload = body.encode() if isinstance(body, str) else body
        content_type = "text/plain; charset=utf-8"
    response = Response(payload, status=status, content_type=content_type)
    for name, value in headers.items():
        response.headers[name] = value
    return response
