"""Webhook subscribers of a status page: an address the client's team gives (their chat's
incoming webhook, their own tooling) that receives each piece of the page's news as JSON.

Managers and admins add and remove them on the client's behalf (no double opt-in: staff set
them). They are status subscribers of kind "webhook" (the URL is the address), told by
subscribers.tell with the e-mail ones, once per (news, webhook). Each message goes through the
engine like every message to an outsider (notify/outbound.py: durable, retried with backoff);
notify/webhook.py posts it.

The body is signed with HMAC-SHA256 (`X-Vigil-Signature-256: sha256=<hex>`, as GitHub signs its
webhooks), with a secret derived from the app's secret and the subscription's nonce: nothing
secret is stored, it is shown once when the URL is added, and removing the URL and adding it
again gives a new one. `text` carries the news as one message: what the incoming webhooks of
Slack, Mattermost and Microsoft Teams read; the other fields are for tooling.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import access, audit
from ..db import is_id
from ..errors import ActionError, Denied
from ..models import Client, Notification, StatusSubscriber, User
from ..notify import outbound

KIND = "webhook"
MAX_URL = 320  # the address column of subscribers and of outbound messages
PURPOSE = "status_news"
_LOCAL_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home.arpa")


def signing_secret(secret_key: str, sub: StatusSubscriber) -> str:
    mac = hmac.new(secret_key.encode(), f"status-webhook:sign:{sub.id}:{sub.nonce}".encode(), hashlib.sha256)
    return "whsec_" + mac.hexdigest()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def shown(url: str) -> str:
    """The URL as shown around (a chat's webhook URL is a credential): its host and a hint."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…{url[-4:]}" if len(parts.path) > 1 else url


def check_url(value: Any, allow_private: bool) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ActionError("url is the webhook's address (https://…)", 400)
    url = value.strip()
    if len(url) > MAX_URL:
        raise ActionError(f"url is at most {MAX_URL} characters", 400)
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        raise ActionError("url is not a URL", 400) from None
    if parts.scheme not in ("https", "http") or not host or parts.username or parts.password \
            or any(c in url for c in " \"'<>\\\r\n\t"):
        raise ActionError("url must be an https:// address without a user or password in it", 400)
    if allow_private:
        return url
    if parts.scheme != "https":
        raise ActionError("url must be an https:// address", 400)
    if not public_host(host):
        # The engine will POST to this address: it must not be turned against our own network.
        raise ActionError("url must be a public address (set VIGIL_STATUS_WEBHOOK_ALLOW_PRIVATE "
                          "to post to your own network)", 400)
    return url


def public_host(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_global
    except ValueError:
        return "." in host and not host.endswith(_LOCAL_SUFFIXES)  # "localhost" has no dot


def listing(session: Session, client_id: int) -> list[StatusSubscriber]:
    return list(session.execute(select(StatusSubscriber).where(
        StatusSubscriber.client_id == client_id, StatusSubscriber.kind == KIND,
        StatusSubscriber.unsubscribed_at.is_(None)).order_by(StatusSubscriber.id)).scalars())


def add(session: Session, actor: User, client_id: int, url: Any, now: datetime, secret_key: str,
        allow_private: bool) -> tuple[StatusSubscriber, str]:
    """Add `url`; returns the subscription and its signing secret (to show once)."""
    client = access.check_manage_client(session, actor, client_id)
    url = check_url(url, allow_private)
    sub = session.execute(select(StatusSubscriber).where(
        StatusSubscriber.client_id == client.id, StatusSubscriber.kind == KIND,
        StatusSubscriber.address == url)).scalar_one_or_none()
    if sub is not None and sub.unsubscribed_at is None:
        raise ActionError("this address already receives the page's news", 409)
    if sub is None:
        sub = StatusSubscriber(client_id=client.id, kind=KIND, address=url, nonce=secrets.token_hex(8),
                               created_at=now, confirmed_at=now)
        try:
            with session.begin_nested():  # two managers adding the same address at once: one wins
                session.add(sub)
                session.flush()
        except IntegrityError:
            raise ActionError("this address already receives the page's news", 409) from None
    else:
        sub.nonce, sub.unsubscribed_at, sub.confirmed_at, sub.created_at = secrets.token_hex(8), None, now, now
        session.flush()
    audit.record(session, "status.webhook_added", actor=actor, client_id=client.id, at=now,
                 target=f"status_webhook:{sub.id}", address=shown(url))
    return sub, signing_secret(secret_key, sub)


def remove(session: Session, actor: User, webhook_id: int, now: datetime,
           client_id: int | None = None) -> StatusSubscriber:
    """Stop sending to it (one of `client_id`'s, when given); what was queued for it and not sent
    yet is cancelled."""
    sub = session.get(StatusSubscriber, webhook_id) if is_id(webhook_id) else None
    if sub is None or sub.kind != KIND or sub.unsubscribed_at is not None \
            or client_id not in (None, sub.client_id) or not access.can_see_client(session, actor, sub.client_id):
        raise Denied("webhook not found", 404)
    access.check_manage_client(session, actor, sub.client_id)
    sub.unsubscribed_at = now
    session.execute(update(Notification).where(
        Notification.kind == KIND, Notification.client_id == sub.client_id, Notification.address == sub.address,
        Notification.status == "pending").values(status="cancelled", last_error="the webhook was removed"))
    audit.record(session, "status.webhook_removed", actor=actor, client_id=sub.client_id, at=now,
                 target=f"status_webhook:{sub.id}", address=shown(sub.address))
    return sub


def queue(session: Session, client: Client, sub: StatusSubscriber, subject: str, body: str, news_key: str,
          now: datetime, page_url: str, secret_key: str) -> Notification | None:
    """The news as one signed POST to `sub`, once per (news, webhook)."""
    payload = {
        "id": f"{news_key}:{sub.id}",
        "event": "status.news",
        "client": {"name": client.name, "slug": client.slug},
        "subject": subject,
        "body": body,
        "page_url": page_url,
        "created_at": now.isoformat(),
        "text": f"[{client.name} status] {subject}\n{body}\n{page_url}",
    }
    # "[[" only ever stands inside a string here; written \u005b[ it cannot be taken for one of the
    # placeholders the engine fills in (outbound.BASE, outbound.LINK), and the signed bytes are sent.
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).replace("[[", "\\u005b[")
    return outbound.queue(
        session, kind=KIND, address=sub.address, purpose=PURPOSE, now=now, client_id=client.id, subject=subject,
        body=text, once_key=f"status:{news_key}:{sub.id}",
        headers={"X-Vigil-Event": "status.news", "X-Vigil-Delivery": payload["id"],
                 "X-Vigil-Signature-256": signature(signing_secret(secret_key, sub), text.encode())},
    )
