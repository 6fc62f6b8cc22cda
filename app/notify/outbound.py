"""Messages to people who are not users: a client's contacts (answers to their e-mails, a
hand-over to their team, status-page subscribers, the monthly report). They go through the
engine like every page (a pending row written in the caller's transaction, claimed, sent by a
sending thread, its outcome recorded, retried), so they are durable and sent exactly once; a
web request never sends one itself.

`once_key` makes "at most one message for this" a database fact: the same key queued twice
(two engines, a restart in between) keeps the first and returns None for the second.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import Notification, NotificationAttachment

KINDS = ("email", "sms", "voice", "webhook")
# Where a message carries a one-time link (a hand-over's "we have it"): the engine writes the
# link in when it sends the message (Engine's outsider links), so only its hash is ever stored.
LINK = "[[link]]"
BASE = "[[vigil]]"  # written where the message gives one of Vigil's addresses: the engine puts VIGIL_BASE_URL
# What an outsider's e-mail may carry besides Subject/To/Date: threading, who answers, where
# a reply goes, unsubscribing (RFC 8058), and what keeps auto-responders quiet.
HEADERS = frozenset({
    "From", "Reply-To", "Message-ID", "In-Reply-To", "References", "List-Id", "List-Unsubscribe",
    "List-Unsubscribe-Post", "Auto-Submitted", "Precedence", "X-Vigil-Incident", "X-Vigil-Client",
})
# What a POST to a status page's webhook carries (status/webhooks.py).
WEBHOOK_HEADERS = frozenset({"X-Vigil-Event", "X-Vigil-Delivery", "X-Vigil-Signature-256"})


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


_INSERT = insert(Notification.__table__).returning(Notification.__table__.c.id)


def queue_row(session: Session, *, kind: str, address: str, body: str, purpose: str, now: datetime, subject: str = "",
              headers: dict[str, str] | None = None, incident_id: int | None = None,
              client_id: int | None = None) -> int:
    """queue for a message without attachments or once_key, in one statement (no ORM object):
    for the hot path of answering a client's mail. Returns the row's id."""
    _check(kind, headers)
    return int(session.connection().execute(_INSERT, {
        "kind": kind, "purpose": purpose[:16], "address": address[:320], "subject": " ".join(subject.split())[:300] or None,
        "message": body, "headers": headers or None, "incident_id": incident_id, "client_id": client_id,
        "status": "pending", "not_before": now, "created_at": now, "attempts": 0,
    }).scalar_one())


def _check(kind: str, headers: dict[str, str] | None) -> None:
    if kind not in KINDS:
        raise ValueError(f"an outbound message goes by {', '.join(KINDS)}, not {kind!r}")
    unknown = set(headers or {}) - (WEBHOOK_HEADERS if kind == "webhook" else HEADERS)
    if unknown:
        raise ValueError(f"headers not allowed on an outbound message: {', '.join(sorted(unknown))}")


def queue(
    session: Session,
    *,
    kind: str,
    address: str,
    body: str,
    purpose: str,
    now: datetime,
    subject: str = "",
    headers: dict[str, str] | None = None,
    attachments: Iterable[Attachment] = (),
    incident_id: int | None = None,
    client_id: int | None = None,
    once_key: str | None = None,
    not_before: datetime | None = None,
) -> Notification | None:
    """Queue one message to `address` by `kind` (email, sms, voice, webhook). Returns the pending row, or
    None when a message with this once_key exists already."""
    _check(kind, headers)
    n = Notification(
        kind=kind, purpose=purpose[:16], address=address[:320], subject=" ".join(subject.split())[:300] or None,
        message=body, headers=headers or None, incident_id=incident_id, client_id=client_id, once_key=once_key,
        status="pending", not_before=not_before or now, created_at=now,
    )
    n.attachments = [NotificationAttachment(filename=a.filename[:200], content_type=a.content_type[:100], data=a.data)
                     for a in attachments]
    if once_key is None:
        session.add(n)
        session.flush()
        return n
    try:
        with session.begin_nested():  # race: two engines queue the same key; the index keeps one
            session.add(n)
            session.flush()
    except IntegrityError:
        return None
    return n
