"""A provider speaking Twilio's REST API (Twilio itself, or any compatible provider or local
double: the base URL is a setting), and the signature Twilio puts on its webhooks.

REST: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json` and `.../Calls.json`, form-encoded,
HTTP basic auth with the account SID and auth token. Webhooks: `X-Twilio-Signature` is
base64(HMAC-SHA1(auth token, URL + every POST parameter name and value, sorted by name)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

import requests

from .base import (
    Delivered,
    KeepAlive,
    OutboundMessage,
    Transport,
    TransportError,
    answer_text,
    not_configured,
    retry_after_seconds,
)

SETTINGS = "VIGIL_TWILIO_ACCOUNT_SID, VIGIL_TWILIO_AUTH_TOKEN and VIGIL_TWILIO_FROM"
# Errors that say this number will never work as it is: switch the contact method off.
# 21211 invalid To, 21214 not reachable by voice, 21217 invalid voice number, 21610 the person
# sent STOP, 21614 not a mobile number.
DEAD_NUMBER = {21211, 21214, 21217, 21610, 21614}


class TwilioClient:
    def __init__(self, config: dict[str, Any]) -> None:
        self.base = str(config.get("TWILIO_BASE_URL") or "https://api.twilio.com").rstrip("/")
        self.account = config.get("TWILIO_ACCOUNT_SID")
        self.token = config.get("TWILIO_AUTH_TOKEN")
        self.sender = config.get("TWILIO_FROM")
        self.timeout = float(config.get("TWILIO_TIMEOUT_SECONDS", 10.0))

    @property
    def configured(self) -> bool:
        return bool(self.account and self.token and self.sender)

    def create(self, channel: str, resource: str, form: dict[str, str], http: requests.Session,
               idempotency_key: str | None = None) -> Delivered:
        """POST one Message or Call; a TransportError the engine knows how to retry, or not.

        `idempotency_key` names the page, the same on every attempt: a page sent again after a
        timeout, or by another engine after this one died mid-send, reaches the phone once
        with providers that honour `Idempotency-Key` (Twilio itself ignores the header)."""
        if not self.configured:
            raise not_configured(channel, SETTINGS)
        url = f"{self.base}/2010-04-01/Accounts/{self.account}/{resource}.json"
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        try:
            r = http.post(url, data={"From": str(self.sender), **form}, auth=(str(self.account), str(self.token)),
                          headers=headers, timeout=(min(5.0, self.timeout), self.timeout))
        except requests.Timeout:
            # The provider may have taken it; paging twice beats not paging.
            raise TransportError(f"the SMS/voice provider did not answer within {self.timeout:g} s") from None
        except requests.RequestException as e:
            raise TransportError(f"cannot reach the SMS/voice provider: {type(e).__name__}") from None
        body = _json(r)
        if r.status_code in (200, 201):
            sid = str(body.get("sid") or "")
            return Delivered(status_code=r.status_code, provider_id=sid or None,
                             answer=f"{r.status_code} {body.get('status', '')} {sid}".strip())
        code = body.get("code")
        detail = f"{body.get('message') or r.reason}" + (f" (error {code})" if code else "")
        answer = answer_text(r.text or "", 500)
        if r.status_code == 429 or r.status_code >= 500:
            raise TransportError(f"the provider is busy: {detail}" if r.status_code == 429 else f"the provider failed: {detail}",
                                 status_code=r.status_code, answer=answer,
                                 retry_after=retry_after_seconds(r.headers.get("Retry-After")))
        if r.status_code in (401, 403):
            raise TransportError(f"the provider refused our credentials: {detail}", permanent=True,
                                 status_code=r.status_code, answer=answer)
        raise TransportError(detail, permanent=True, status_code=r.status_code, answer=answer,
                             disable_method=code in DEAD_NUMBER)


class TwilioTransport(Transport):
    """The base of the SMS and voice transports: the provider's client, and connections to it
    that stay open between pages (one per sending thread; closed when the engine stops)."""

    def __init__(self, config: dict[str, Any], db: Any = None) -> None:
        super().__init__(config, db)
        self._http = KeepAlive()

    def create(self, channel: str, resource: str, form: dict[str, str], msg: OutboundMessage) -> Delivered:
        return TwilioClient(self.config).create(channel, resource, form, self._http.session(),
                                                idempotency_key(self.config, msg))

    def close(self) -> None:
        self._http.close()


def idempotency_key(config: dict[str, Any], msg: OutboundMessage) -> str:
    """One key per page of this installation: "vigil-<8 hex of BASE_URL>-n<notification id>"."""
    site = hashlib.sha256(str(config.get("BASE_URL", "")).encode()).hexdigest()[:8]
    return f"vigil-{site}-n{msg.notification_id}"


def _json(r: requests.Response) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    data = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_ok(config: dict[str, Any], url: str, params: Iterable[tuple[str, str]], given: str | None) -> bool:
    token = config.get("TWILIO_AUTH_TOKEN")
    if not token or not given:
        return False
    return hmac.compare_digest(signature(str(token), url, params).encode(), given.encode())
