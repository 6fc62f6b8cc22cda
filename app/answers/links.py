"""One-time acknowledgement links: "tap to acknowledge" from a lock screen, an SMS or an e-mail,
on a device where nobody is logged in.

A token is random (192 bits), stored as a SHA-256 only, bound to one user and one incident (and
the notification that carried it), expires after ACK_LINK_HOURS, and is used once. The
acknowledgement goes through incidents.acknowledge with an operation id derived from the token,
so a double tap, a replayed request or a race between two devices never acknowledges twice; the
same operation again (the same op_id) gets its first answer back rather than "already used".
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from .. import incidents
from ..errors import ActionError
from ..incidents import Actor, Outcome
from ..live import events
from ..models import AckToken, Incident, Notification

_TOKENS = AckToken.__table__
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


@dataclass(frozen=True)
class AckLink:
    url: str
    token: str


class LinkRefused(Exception):
    """Why a link cannot be used: 404 unknown (mistyped, altered), 410 used or expired."""

    def __init__(self, status: int, reason: str, message: str, token: AckToken | None = None) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.token = status, reason, message, token


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint(session: Session, *, user_id: int, incident_id: int, notification_id: int | None, now: datetime,
         hours: float, base_url: str) -> AckLink:
    token = secrets.token_urlsafe(24)
    # Written at commit, with the claim's other rows (one statement for a batch of pages): the
    # engine sends the page only once that has committed, so the link works when it arrives.
    events.append_at_commit(session, _TOKENS, {
        "token_hash": digest(token), "user_id": user_id, "incident_id": incident_id, "notification_id": notification_id,
        "created_at": now, "expires_at": now + timedelta(hours=hours), "used_at": None, "used_op_id": None,
    })
    return AckLink(f"{base_url.rstrip('/')}/a/{token}", token)


def for_notification(config: dict[str, Any]) -> Any:
    """The engine's hook: a fresh link for each page it sends (written before sending)."""

    def make(session: Session, n: Notification, now: datetime) -> AckLink | None:
        if n.incident_id is None:
            return None
        return mint(session, user_id=n.user_id, incident_id=n.incident_id, notification_id=n.id, now=now,
                    hours=float(config.get("ACK_LINK_HOURS", 24.0)), base_url=str(config.get("BASE_URL", "")))

    return make


def find(session: Session, token: str, *, lock: bool = False) -> AckToken | None:
    if not TOKEN_RE.match(token or ""):
        return None
    q = (select(AckToken).where(AckToken.token_hash == digest(token))
         .options(joinedload(AckToken.user), joinedload(AckToken.incident).joinedload(Incident.client),
                  joinedload(AckToken.incident).joinedload(Incident.service)))
    if lock:
        # Race: two taps (or two devices) at once. The row lock makes check-and-use one step on
        # PostgreSQL; SQLite writers are serialised already (BEGIN IMMEDIATE).
        q = q.with_for_update(of=AckToken)
    return session.execute(q).unique().scalar_one_or_none()


def state(tok: AckToken | None, now: datetime) -> LinkRefused | None:
    """None when the link may be used now; otherwise why not."""
    if tok is None:
        return LinkRefused(404, "unknown", "This link is not valid: it may have been cut short or altered. "
                                           "Open Vigil to acknowledge.")
    if tok.used_at is not None:
        return LinkRefused(410, "used", f"This link was already used, at {tok.used_at:%H:%M} UTC on "
                                        f"{tok.used_at:%d %b}. Each link works once.", tok)
    if tok.expires_at <= now:
        return LinkRefused(410, "expired", f"This link expired at {tok.expires_at:%H:%M} UTC on "
                                           f"{tok.expires_at:%d %b}. Open Vigil to acknowledge.", tok)
    if not tok.user.active:
        return LinkRefused(403, "account_disabled", "The account this link was sent to is disabled.", tok)
    return None


def acknowledge(session: Session, token: str, now: datetime, op_id: str | None = None,
                via: str = "link") -> Outcome:
    """Acknowledge as the link's user. Raises LinkRefused; the caller commits."""
    if op_id is not None and (not isinstance(op_id, str) or len(op_id) > 100):
        raise ActionError("op_id must be a string of at most 100 characters", 400)
    tok = find(session, token, lock=True)
    why = state(tok, now)
    replay = tok is not None and tok.used_at is not None and op_id is not None and op_id == tok.used_op_id
    if why is not None and not replay:
        raise why
    assert tok is not None
    members = bundle(session, tok)
    if members:  # a bundled page's link: each of its incidents (in id order: the lock order)
        outs = [incidents.acknowledge(session, iid, Actor.of(tok.user, via=via), now, op_id=f"ack-link:{tok.id}:{iid}")
                for iid in members]
        out = summary(outs)
    else:
        out = incidents.acknowledge(session, tok.incident_id, Actor.of(tok.user, via=via), now,
                                    op_id=f"ack-link:{tok.id}")
    if not replay:
        tok.used_at, tok.used_op_id = now, op_id
    return out


def bundle(session: Session, tok: AckToken) -> list[int]:
    """The incidents of the bundled page this link came with (notify/plan.bundle), in id order;
    empty when the page was about one incident."""
    return incidents.bundled(session, tok.notification_id) if tok.notification_id is not None else []


def bundle_incidents(session: Session, tok: AckToken) -> list[Incident]:
    """bundle(), the incidents loaded (for the link's page, a call's script)."""
    members = bundle(session, tok)
    if not members:
        return []
    return list(session.execute(select(Incident).where(Incident.id.in_(members)).order_by(Incident.id)).scalars())


def summary(outs: list[Outcome]) -> Outcome:
    """What acknowledging a bundle's incidents came to, in one answer: those acknowledged now,
    and those someone else had answered (or that were closed) before."""
    done = [o for o in outs if o.outcome in ("acknowledged", "already_acknowledged")]
    if not done:  # nothing left for this person: the first refusal says why
        return next((o for o in outs if o.status != 200), outs[0])
    # An operation replayed (the same op_id again) answers from its record: the incident as it was then.
    seen = [{"id": o.incident.id, "number": o.incident.number} if o.incident is not None else o.data.get("incident", {})
            for o in done]
    numbers = ", ".join(f"#{i['number']}" for i in seen if "number" in i)
    others = [o.message for o in outs if o not in done]
    message = f"{len(done)} incident{'s' if len(done) != 1 else ''} acknowledged: {numbers}." + (
        " " + " ".join(others) if others else "")
    first = done[0]
    return Outcome("acknowledged" if any(o.outcome == "acknowledged" for o in done) else first.outcome, message,
                   first.incident, 200, {"acknowledged": len(done), "incidents": [i["id"] for i in seen if "id" in i]})
