"""E-mail subscribers of a status page: double opt-in (nothing is sent but the confirmation until
the link in it is followed) and one-click unsubscribe (RFC 8058: List-Unsubscribe and
List-Unsubscribe-Post, so a mail client's button works without opening a page). Messages go
through the engine (notify.outbound), once per (news, subscriber).

Links carry a token derived from the app's secret and the subscription's nonce: nothing secret is
stored, and subscribing again makes a new nonce, so old links die."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import is_id
from ..errors import ActionError
from ..models import Client, StatusSubscriber
from ..notify import outbound
from . import webhooks

_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


def token(secret_key: str, sub: StatusSubscriber, purpose: str) -> str:
    msg = f"status-subscriber:{purpose}:{sub.id}:{sub.nonce}".encode()
    return hmac.new(secret_key.encode(), msg, hashlib.sha256).hexdigest()[:32]


def link(base_url: str, secret_key: str, client_slug: str, sub: StatusSubscriber, purpose: str) -> str:
    return f"{base_url.rstrip('/')}/status/{client_slug}/subscribers/{sub.id}/{purpose}/{token(secret_key, sub, purpose)}"


def subscribe(session: Session, client: Client, email: object, now: datetime, base_url: str, secret_key: str) -> None:
    """Ask `email` to confirm. The answer is the same whether it was subscribed already or not
    (nobody learns who reads a page), and at most one confirmation goes per subscription nonce."""
    if not isinstance(email, str) or len(email) > 254 or not _EMAIL.match(email.strip()):
        raise ActionError("give an e-mail address such as ops@example.com", 400)
    address = email.strip().lower()
    sub = session.execute(select(StatusSubscriber).where(
        StatusSubscriber.client_id == client.id, StatusSubscriber.kind == "email",
        StatusSubscriber.address == address)).scalar_one_or_none()
    if sub is not None and sub.confirmed_at is not None and sub.unsubscribed_at is None:
        return  # already subscribed: nothing to send
    if sub is None:
        sub = StatusSubscriber(client_id=client.id, kind="email", address=address, nonce=secrets.token_hex(8),
                               created_at=now)
        try:
            with session.begin_nested():  # race: the same address twice at once; the unique index keeps one
                session.add(sub)
                session.flush()
        except IntegrityError:
            return  # the other request asks for the confirmation
    elif sub.unsubscribed_at is not None:
        sub.nonce, sub.unsubscribed_at, sub.confirmed_at, sub.created_at = secrets.token_hex(8), None, None, now
    session.flush()
    url = link(base_url, secret_key, client.slug, sub, "confirm")
    outbound.queue(
        session, kind="email", address=address, purpose="status_confirm", now=now, client_id=client.id,
        subject=f"Confirm your subscription to {client.name}'s status page",
        body=(f"Someone (we hope you) asked to receive the news of {client.name}'s status page at this address.\n\n"
              f"To confirm, open:\n{url}\n\nIf it was not you, ignore this message: nothing more will be sent."),
        headers={"Auto-Submitted": "auto-generated"}, once_key=f"status-confirm:{sub.id}:{sub.nonce}",
    )


def _find(session: Session, client: Client, sub_id: int, purpose: str, tok: str, secret_key: str) -> StatusSubscriber:
    sub = session.get(StatusSubscriber, sub_id) if is_id(sub_id) else None
    if sub is None or sub.kind != "email" or sub.client_id != client.id or not hmac.compare_digest(token(secret_key, sub, purpose), tok[:64]):
        raise ActionError("this link is not valid (any more)", 404)
    return sub


def check(session: Session, client: Client, sub_id: int, purpose: str, tok: str, secret_key: str) -> StatusSubscriber:
    return _find(session, client, sub_id, purpose, tok, secret_key)


def confirm(session: Session, client: Client, sub_id: int, tok: str, now: datetime, secret_key: str) -> StatusSubscriber:
    sub = _find(session, client, sub_id, "confirm", tok, secret_key)
    if sub.unsubscribed_at is None and sub.confirmed_at is None:
        sub.confirmed_at = now
    return sub


def unsubscribe(session: Session, client: Client, sub_id: int, tok: str, now: datetime, secret_key: str) -> StatusSubscriber:
    sub = _find(session, client, sub_id, "unsubscribe", tok, secret_key)
    if sub.unsubscribed_at is None:
        sub.unsubscribed_at = now
    return sub


def tell(session: Session, client_id: int, subject: str, body: str, news_key: str, now: datetime, base_url: str,
         secret_key: str) -> int:
    """Queue `body` to every confirmed subscriber of the client: by e-mail with its unsubscribe
    link and RFC 8058 headers, to a webhook as signed JSON (webhooks.py); `news_key` makes it once
    per subscriber. Returns how many were queued."""
    client = session.get(Client, client_id)
    if client is None:
        return 0
    subs = session.execute(select(StatusSubscriber).where(
        StatusSubscriber.client_id == client_id, StatusSubscriber.confirmed_at.is_not(None),
        StatusSubscriber.unsubscribed_at.is_(None))).scalars().all()
    page = f"{base_url.rstrip('/')}/status/{client.slug}"
    n = 0
    for sub in subs:
        if sub.kind == webhooks.KIND:
            n += webhooks.queue(session, client, sub, subject, body, news_key, now, page, secret_key) is not None
            continue
        off = link(base_url, secret_key, client.slug, sub, "unsubscribe")
        done = outbound.queue(
            session, kind="email", address=sub.address, purpose="status_news", now=now, client_id=client_id,
            subject=f"[{client.name} status] {subject}",
            body=f"{body}\n\nThe status page: {page}\n\nTo stop receiving these messages: {off}",
            headers={"List-Unsubscribe": f"<{off}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                     "List-Id": f"<{client.slug}.status.vigil>", "Auto-Submitted": "auto-generated",
                     "Precedence": "bulk"},
            once_key=f"status:{news_key}:{sub.id}",
        )
        n += done is not None
    return n


def count(session: Session, client_id: int) -> int:
    """Confirmed e-mail subscribers (webhooks are listed on their own: webhooks.listing)."""
    return len(session.execute(select(StatusSubscriber.id).where(
        StatusSubscriber.client_id == client_id, StatusSubscriber.kind == "email",
        StatusSubscriber.confirmed_at.is_not(None),
        StatusSubscriber.unsubscribed_at.is_(None))).all())
