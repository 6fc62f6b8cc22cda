"""One-time links with no login for hand-offs: "we have it" (a client's contact takes a handed-
over incident) and "I'm ready" (an engineer confirms the start of a shift).

Like the ack links (answers/links.py): a random token (192 bits), stored as a SHA-256 only, minted by
the engine when it sends the message carrying it (so the message as stored never holds it),
bound to one hand-over (one incident) or one shift start, expiring, and used once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import HandoffLink

PATHS = {"handover": "/h/", "ready": "/r/"}
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


@dataclass(frozen=True)
class Link:
    url: str
    token: str


class LinkRefused(Exception):
    """Why a link cannot be used: 404 unknown (mistyped, altered), 410 used or expired."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint(session: Session, kind: str, *, now: datetime, hours: float, base_url: str, contact: str = "",
         handover_id: int | None = None, incident_id: int | None = None, shift_start_id: int | None = None,
         notification_id: int | None = None) -> Link:
    token = secrets.token_urlsafe(24)
    session.add(HandoffLink(token_hash=digest(token), kind=kind, handover_id=handover_id, incident_id=incident_id,
                            shift_start_id=shift_start_id, notification_id=notification_id, contact=contact[:300],
                            created_at=now, expires_at=now + timedelta(hours=hours)))
    return Link(f"{base_url.rstrip('/')}{PATHS[kind]}{token}", token)


def find(session: Session, token: str, kind: str, *, lock: bool = False) -> HandoffLink | None:
    """The link of this kind, or None (unknown, altered, or a link of the other kind: a "we have
    it" token is no "I'm ready" token, nor an ack link)."""
    if not TOKEN_RE.match(token or ""):
        return None
    q = select(HandoffLink).where(HandoffLink.token_hash == digest(token), HandoffLink.kind == kind)
    if lock:
        # Race: two taps at once (two contacts, two devices). The row lock makes check-and-use one
        # step on PostgreSQL; SQLite writers are serialised already (BEGIN IMMEDIATE).
        q = q.with_for_update()
    return session.execute(q).scalar_one_or_none()


def state(link: HandoffLink | None, now: datetime) -> LinkRefused | None:
    """None when the link may be used now; otherwise why not (404 unknown, 410 used or expired)."""
    if link is None:
        return LinkRefused(404, "unknown", "This link is not valid: it may have been cut short or altered.")
    if link.used_at is not None:
        return LinkRefused(410, "used", f"This link was already used, at {link.used_at:%H:%M} UTC on "
                                        f"{link.used_at:%d %b}. Each link works once.")
    if link.expires_at <= now:
        return LinkRefused(410, "expired", f"This link expired at {link.expires_at:%H:%M} UTC on "
                                           f"{link.expires_at:%d %b}.")
    return None
