"""Personal API tokens: `Authorization: Bearer vgl_...` for /api/v1/*.

A token is 256 random bits, shown once and stored as a SHA-256 (a slow hash protects guessable
passwords; a random token needs none, and one indexed lookup keeps every API call cheap). It
acts as its user, with that user's role and visibility, and only within its scopes:

- read:   GET requests;
- write:  every other /api/v1 request (incident actions, connection info: reveal and manage);
- ingest: POST /api/v1/services/<id>/intake/<source>, alerts for any service the user may act on.

Scopes do not imply each other. Revocation takes effect on the next request (no cache).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit
from ..models import ApiToken, Role, User

SCOPES = ("read", "write", "ingest")
PREFIX = "vgl_"  # recognisable by secret scanners, and never confused with an integration key
TOUCH_SECONDS = 60.0  # last-used time is for humans: at most one write a minute per token


class TokenError(ValueError):
    pass


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def allowed_scopes(user: User) -> tuple[str, ...]:
    # A client viewer only reads; it may pull its own incidents into its own tools.
    return ("read",) if user.has_role(Role.client_viewer) else SCOPES


def create(
    session: Session, user: User, name: str, scopes: list[str], now: datetime, *, days: int | None = None
) -> tuple[ApiToken, str]:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise TokenError("give the token a name of at most 120 characters (what uses it?)")
    wanted = sorted(set(scopes), key=SCOPES.index) if set(scopes) <= set(SCOPES) else None
    if not wanted:
        raise TokenError(f"choose at least one scope among {', '.join(SCOPES)}")
    if not set(wanted) <= set(allowed_scopes(user)):
        raise TokenError(f"your role may only create tokens with the scopes {', '.join(allowed_scopes(user))}")
    if days is not None and not 1 <= days <= 3650:
        raise TokenError("a token lasts between 1 and 3650 days")
    plain = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, prefix=plain[:12], token_hash=digest(plain), scopes=" ".join(wanted),
                   created_at=now, expires_at=now + timedelta(days=days) if days else None)
    session.add(row)
    session.flush()
    audit.record(session, "token.created", actor=user, at=now, target=f"token:{row.id}", name=name,
                 scopes=wanted, prefix=row.prefix)
    return row, plain


def authenticate(session: Session, plain: str, now: datetime, ip: str | None = None) -> ApiToken | None:
    """The live token for `plain`, or None (unknown, revoked, expired, or its user disabled)."""
    if not plain.startswith(PREFIX) or len(plain) > 200:
        return None
    row = session.execute(select(ApiToken).where(ApiToken.token_hash == digest(plain))).scalar_one_or_none()
    if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at <= now):
        return None
    if not row.user.active:
        return None
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() >= TOUCH_SECONDS:
        row.last_used_at, row.last_used_ip = now, (ip or None) and ip[:64]
    return row


def required_scope(method: str, view: Any) -> str:
    explicit = getattr(view, "token_scope", None)
    if explicit:
        return str(explicit)
    return "read" if method in ("GET", "HEAD", "OPTIONS") else "write"


def scope(name: str) -> Any:
    """Declare the scope a view needs from a token (default: read for GET, write otherwise)."""
    assert name in SCOPES

    def mark(view: Any) -> Any:
        view.token_scope = name
        return view

    return mark


def list_for(session: Session, user: User) -> list[ApiToken]:
    return list(session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
    ).scalars())


def revoke(session: Session, actor: User, token_id: int, now: datetime) -> ApiToken:
    """Revoke one of your tokens (an admin may revoke anyone's). Unknown or not yours: not found."""
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != actor.id and not actor.has_role(Role.admin)):
        raise TokenError("no such token")
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(session, "token.revoked", actor=actor, at=now, target=f"token:{row.id}",
                     name=row.name, owner=row.user_id, prefix=row.prefix)
    return row


def revoke_all(session: Session, actor: User, owner: User, now: datetime) -> int:
    rows = session.execute(
        select(ApiToken).where(ApiToken.user_id == owner.id, ApiToken.revoked_at.is_(None))
    ).scalars().all()
    for row in rows:
        revoke(session, actor, row.id, now)
    return len(rows)
