"""A client's status page: who may read it (public; or private: its secret link, or a login that
sees the client) and its look. Every refusal is 404: a private page is not known to exist."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import access
from ..errors import ActionError, Denied
from ..intake.keys import forget_cached_keys
from ..live import events
from ..models import Client, Role, StatusPage, User
from ..models.status import VISIBILITIES

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def page_of(session: Session, client: Client, now: datetime) -> StatusPage:
    """The client's page settings (a page that was never set up is private)."""
    page = session.get(StatusPage, client.id)
    if page is None:
        page = StatusPage(client_id=client.id, visibility="private", title="", color="#1f5fbf", created_at=now,
                          updated_at=now)
    return page


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_matches(secret_hash: str | None, key: str | None) -> bool:
    return bool(key and secret_hash and hmac.compare_digest(_digest(key[:200]), secret_hash))


def key_opens(page: StatusPage, key: str | None) -> bool:
    return key_matches(page.secret_hash, key)


def reader_may_open(session: Session, page: StatusPage, user: User | None, key: str | None) -> bool:
    if page.visibility == "public" or key_opens(page, key):
        return True
    return user is not None and access.can_see_client(session, user, page.client_id)


def open_page(session: Session, slug: str, user: User | None, key: str | None, now: datetime) -> tuple[Client, StatusPage]:
    """The client and its page if this reader may see it; 404 otherwise (never 403: whether a
    private page exists is nobody else's business)."""
    client = session.execute(select(Client).where(Client.slug == slug[:64])).scalar_one_or_none()
    if client is None:
        raise Denied("status page not found", 404)
    page = page_of(session, client, now)
    if not reader_may_open(session, page, user, key):
        raise Denied("status page not found", 404)
    return client, page


def landing_slug(session: Session, user: User) -> str | None:
    """Where a client viewer lands: their client's status page."""
    if not user.has_role(Role.client_viewer) or user.client_id is None:
        return None
    client = session.get(Client, user.client_id)
    return client.slug if client else None


def configure(session: Session, actor: User, client_id: int, fields: dict[str, Any], now: datetime) -> StatusPage:
    """Managers and admins choose who reads the page and its look."""
    client = access.check_manage_client(session, actor, client_id)
    page = session.get(StatusPage, client.id) or page_of(session, client, now)
    if "visibility" in fields:
        if fields["visibility"] not in VISIBILITIES:
            raise ActionError(f"visibility is one of {', '.join(VISIBILITIES)}", 400)
        page.visibility = fields["visibility"]
    if "title" in fields:
        if not isinstance(fields["title"], str) or len(fields["title"]) > 200:
            raise ActionError("title is text of at most 200 characters", 400)
        page.title = fields["title"].strip()
    if "color" in fields:
        if not isinstance(fields["color"], str) or not _COLOR.match(fields["color"]):
            raise ActionError("color is #rrggbb", 400)
        page.color = fields["color"].lower()
    if "logo_url" in fields:
        page.logo_url = _logo(fields["logo_url"])
    page.updated_at = now
    session.add(page)
    session.flush()
    forget_cached_keys()  # the answers to a client's mail keep its page's link a few seconds
    events.publish(session, "status.page_changed", now=now, client_id=client.id, data={})
    return page


def _logo(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 500:
        raise ActionError("logo_url is an https address of at most 500 characters", 400)
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc or any(c in value for c in "\"'<> \\"):
        raise ActionError("logo_url must be an https:// address", 400)
    return value


def new_secret(session: Session, actor: User, client_id: int, now: datetime) -> str:
    """A new secret link for a private page (the old one stops working); shown once."""
    client = access.check_manage_client(session, actor, client_id)
    page = session.get(StatusPage, client.id) or page_of(session, client, now)
    secret = secrets.token_urlsafe(24)
    page.secret_hash = _digest(secret)
    page.updated_at = now
    session.add(page)
    session.flush()
    return secret


def public_id(secret_key: str, kind: str, number: int) -> str:
    """A stable identifier for a row that has no random one of its own (an incident, a page):
    derived from the app's secret, so it cannot be guessed from the row's number, nor across
    clients."""
    mac = hmac.new(secret_key.encode(), f"status:{kind}:{number}".encode(), hashlib.sha256).digest()
    return mac[:10].hex()
