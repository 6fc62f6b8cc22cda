"""A status page's news POSTed to a webhook its client's team gave (status/webhooks.py wrote and
signed the body when it queued it; this sends those bytes as they are).

The answer decides retries: 2xx is delivered; 408, 425, 429 and 5xx, a timeout or a dropped
connection are retried (with Retry-After when given); a redirect or another 4xx is permanent
(the address is wrong, or the receiver refuses us: retrying cannot help). Redirects are not
followed, and unless VIGIL_STATUS_WEBHOOK_ALLOW_PRIVATE is set the name must resolve to public
addresses only, so a webhook cannot be turned against the network Vigil runs in.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests

from .base import (
    Delivered,
    KeepAlive,
    OutboundMessage,
    Transport,
    TransportError,
    answer_text,
    retry_after_seconds,
)

USER_AGENT = "Vigil-Webhook/1"
RETRIED = frozenset({408, 425, 429})


class WebhookTransport(Transport):
    kind = "webhook"

    def __init__(self, config: dict[str, Any], db: Any = None) -> None:
        super().__init__(config, db)
        self.timeout = float(config.get("STATUS_WEBHOOK_TIMEOUT_SECONDS", 10.0))
        self.http = KeepAlive()

    def send(self, msg: OutboundMessage) -> Delivered:
        if not self.config.get("STATUS_WEBHOOK_ALLOW_PRIVATE"):
            _check_resolves_public(msg.address)
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
                   **msg.extra.get("headers", {})}
        try:
            r = self.http.session().post(msg.address, data=msg.body.encode(), headers=headers, allow_redirects=False,
                                         timeout=(min(5.0, self.timeout), self.timeout))
        except requests.Timeout:
            raise TransportError(f"the webhook did not answer within {self.timeout:g} s") from None
        except requests.RequestException as e:
            raise TransportError(f"cannot reach the webhook: {type(e).__name__}") from None
        answer = answer_text(f"{r.status_code} {r.text.strip()}", 500)
        if 200 <= r.status_code < 300:
            return Delivered(status_code=r.status_code, answer=answer)
        if 300 <= r.status_code < 400:
            where = urlsplit(r.headers.get("Location", "")).hostname or "elsewhere"
            raise TransportError(f"the webhook answered with a redirect (to {where}); give its final address",
                                 permanent=True, status_code=r.status_code, answer=answer)
        if r.status_code in RETRIED or r.status_code >= 500:
            raise TransportError(f"the webhook answered {r.status_code}", status_code=r.status_code, answer=answer,
                                 retry_after=retry_after_seconds(r.headers.get("Retry-After")))
        raise TransportError(f"the webhook refused the message ({r.status_code})", permanent=True,
                             status_code=r.status_code, answer=answer)

    def close(self) -> None:
        self.http.close()


def _check_resolves_public(url: str) -> None:
    parts = urlsplit(url)
    try:
        found = socket.getaddrinfo(parts.hostname or "", parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:
        raise TransportError(f"the webhook's name does not resolve: {e}") from None
    private = sorted({str(a[4][0]) for a in found if not ipaddress.ip_address(str(a[4][0]).split("%")[0]).is_global})
    if private:
        raise TransportError(f"the webhook's name resolves to an address of a private network ({private[0]})",
                             permanent=True)
