"""Web Push to the lock screen: pywebpush, VAPID-signed (RFC 8292), aes128gcm-encrypted (RFC 8291).

What pywebpush does not do for us, and this module does:
- its TTL defaults to 0 (dropped if the phone is unreachable at that instant): we send hours;
- it has no timeout unless given one: every request gets PUSH_TIMEOUT_SECONDS;
- it writes `aud` and `exp` into the claims dict it is passed: a fresh dict every call, or the
  second push service would get the first one's audience and refuse us.
Headers: `Urgency: high` for high-urgency incidents, and `Topic: incident-<id>` so a later page
for the same incident replaces the earlier one on the device instead of piling up.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import requests
from pywebpush import WebPushException, webpush

from . import vapid
from .base import (
    Delivered,
    KeepAlive,
    OutboundMessage,
    Transport,
    TransportError,
    answer_text,
    retry_after_seconds,
)

MAX_PAYLOAD = 3072  # bytes of JSON; push services take 4096 after encryption


def payload(msg: OutboundMessage, base_url: str) -> dict[str, Any]:
    """The JSON the service worker reads. `web_push` + `notification` are the declarative format
    (Safari / iOS 18.4+ show it without running the worker; others hand it to the worker)."""
    base = base_url.rstrip("/")
    inc = msg.incident
    if msg.purpose in ("notice", "handoff"):
        lines = msg.body.split("\n")
        handoff = msg.purpose == "handoff"
        iid = msg.extra.get("incident_id")
        title = _cut(lines[0], 120)
        body = _cut(" ".join(x for x in lines[1:] if x and not x.startswith(("I'm ready:", "Open:"))), 200)
        tag = "vigil-handoff" if handoff else f"vigil-notice-{msg.notification_id}"
        url = f"/incidents/{iid}" if iid else "/"
        return {"v": 1, "kind": msg.purpose, "incident": None, "title": title, "body": body, "tag": tag, "url": url,
                "ready_url": msg.ack_url if handoff else None, "ready_token": msg.ack_token if handoff else None,
                "web_push": 8030, "notification": {"title": title, "body": body, "tag": tag, "silent": False,
                                                   "navigate": (msg.ack_url if handoff and msg.ack_url else base + url)}}
    if msg.purpose == "warning":
        title, body, tag, url = "Vigil: coverage gap ahead", _cut(msg.body.split("\n")[0], 200), "vigil-warning", "/schedules"
        incident = None
    elif inc is None:
        title, body, tag, url = "Vigil test notification", "If you can read this, Vigil can reach this device.", \
            f"test-{msg.extra.get('method_id', 0)}", "/"
        incident = None
    else:
        if bundle := msg.extra.get("bundle"):  # several incidents (message.compose_bundle): the list opens
            title, body = _cut(msg.short.split(": ", 1)[0], 120), _cut(msg.short.split(": ", 1)[-1], 200)
            tag, url = f"page-{msg.notification_id}", "/incidents"
        else:
            where = f"{_cut(inc['client']['name'], 60)} / {_cut(inc['service']['name'], 60)}"
            title, body = f"#{inc['number']} {where}", _cut(inc["summary"], 200)
            tag, url = f"incident-{inc['id']}", f"/incidents/{inc['id']}"
        incident = {"id": inc["id"], "number": inc["number"], "client": inc["client"]["name"][:60],
                    "service": inc["service"]["name"][:60], "summary": body, "urgency": inc["urgency"],
                    "status": inc["status"], **({"bundle": len(bundle)} if bundle else {})}
    return {
        "v": 1,
        "kind": "warning" if msg.purpose == "warning" else "test" if inc is None else "incident",
        "incident": incident,
        "title": title,
        "body": body,
        "tag": tag,
        "url": url,
        "ack_url": msg.ack_url,
        "ack_token": msg.ack_token,
        "web_push": 8030,
        "notification": {"title": title, "body": body, "navigate": msg.ack_url or base + url, "tag": tag,
                         "silent": False},
    }


def encode(data: dict[str, Any]) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    while len(text.encode()) > MAX_PAYLOAD and len(data["body"]) > 20:  # very long non-ASCII names
        data["body"] = data["notification"]["body"] = _cut(data["body"], len(data["body"]) // 2)
        if data["incident"]:
            data["incident"]["summary"] = data["body"]
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class WebPushTransport(Transport):
    kind = "push"
    collapses_copies = True  # Topic: incident-<id>

    def __init__(self, config: dict[str, Any], db: Any = None) -> None:
        super().__init__(config, db)
        self.ttl = int(config.get("PUSH_TTL_SECONDS", 4 * 3600))
        self.timeout = float(config.get("PUSH_TIMEOUT_SECONDS", 10.0))
        self._lock = threading.Lock()
        self._keys: vapid.VapidKeys | None = None
        self._subject: str | None = None
        self._looked_at = 0.0
        self._http = KeepAlive()

    def send(self, msg: OutboundMessage) -> Delivered:
        keys, subject = self._identity()
        if not (msg.push_p256dh and msg.push_auth):
            raise TransportError("this push subscription has no encryption keys", permanent=True, disable_method=True)
        headers = {"Urgency": "high" if msg.urgency == "high" else "normal"}
        headers["Topic"] = f"page-{msg.notification_id}" if msg.extra.get("bundle") else \
            f"incident-{msg.incident['id']}" if msg.incident else \
            f"{msg.purpose}-{msg.notification_id}" if msg.purpose in ("notice", "handoff") else \
            f"test-{msg.extra.get('method_id', 0)}"
        try:
            response = webpush(
                {"endpoint": msg.address, "keys": {"p256dh": msg.push_p256dh, "auth": msg.push_auth}},
                encode(payload(msg, self.config.get("BASE_URL", ""))),
                vapid_private_key=keys.signer,
                vapid_claims={"sub": subject},  # fresh every call: pywebpush writes aud/exp into it
                ttl=self.ttl,
                timeout=self.timeout,
                headers=headers,
                requests_session=self._http.session(),
            )
        except WebPushException as e:
            raise _classify(e) from None
        except requests.Timeout:
            raise TransportError(f"the push service did not answer within {self.timeout:g} s") from None
        except requests.RequestException as e:
            raise TransportError(f"cannot reach the push service: {type(e).__name__}") from None
        assert isinstance(response, requests.Response)
        return Delivered(status_code=response.status_code,
                         provider_id=(response.headers.get("Location") or "")[:200] or None,
                         answer=f"{response.status_code} {response.reason}")

    def _identity(self) -> tuple[vapid.VapidKeys, str]:
        with self._lock:
            # The key never changes; a missing subject is looked for again every 30 s, so
            # creating the first admin (or fixing the setting) needs no engine restart.
            if self._keys is None or (self._subject is None and time.monotonic() - self._looked_at > 30):
                if self.db is None:
                    raise TransportError("Web Push needs the database (for the VAPID key)", permanent=True)
                try:
                    with self.db.transaction() as s:
                        self._keys = self._keys or vapid.load_or_create(s, datetime.now(UTC))
                        self._subject = vapid.subject_for(self.config, s)
                except vapid.VapidError as e:
                    raise TransportError(str(e), permanent=True) from None
                self._looked_at = time.monotonic()
            if self._subject is None:
                raise TransportError(vapid.MISSING_SUBJECT, permanent=True)
            return self._keys, self._subject

    def close(self) -> None:
        self._http.close()


def _classify(e: WebPushException) -> TransportError:
    response = e.response
    if response is None:  # refused before sending: the stored keys are not usable
        return TransportError(f"invalid push subscription: {e.message}", permanent=True, disable_method=True)
    code = response.status_code
    answer = answer_text(response.text or "", 500)
    if code in (404, 410):
        return TransportError(f"the push service says this subscription no longer exists ({code})",
                              remove_method=True, status_code=code, answer=answer)
    if code == 429 or code >= 500:
        return TransportError("the push service is busy" if code == 429 else "the push service failed",
                              status_code=code, answer=answer,
                              retry_after=retry_after_seconds(response.headers.get("Retry-After")))
    if code == 403:
        # The subscription was made with another application server key: it cannot work again.
        return TransportError("the push service refused our VAPID key for this subscription; subscribe this "
                              "device again", permanent=True, disable_method=True, status_code=code, answer=answer)
    if code == 413:
        return TransportError("the push payload is too large", permanent=True, status_code=code, answer=answer)
    return TransportError(f"the push service refused the message ({response.reason})", permanent=True,
                          status_code=code, answer=answer)
