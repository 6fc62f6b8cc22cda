"""The front door's one write: decide what a message is (senders.decide), and store it raw in the
transaction whose commit the sender's 250 (or 202) waits for; nothing is parsed before that."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ...models import InboundMail
from .parse import address, header, headers_of, norm_id
from .recipients import Recipient
from .senders import Decision, decide

_INSERT = insert(InboundMail.__table__).returning(InboundMail.__table__.c.id)


@dataclass(frozen=True)
class Admitted:
    decision: Decision
    mail_id: int | None  # None: refused or deferred, nothing stored


def _clean(text: str, limit: int) -> str:
    """A header read before parsing may hold raw 8-bit bytes (surrogates): make it storable."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")[:limit]


def envelope_sender(mail_from: str | None) -> str:
    """The envelope sender as stored (inbound_mails.mail_from)."""
    return _clean((mail_from or "").strip("<>"), 320)


def admit(session: Session, rcpt: Recipient, mail_from: str | None, raw: bytes, channel: str, now: datetime) -> Admitted:
    """Decide and store. The caller commits, then answers `decision.code`."""
    headers = headers_of(raw)
    client_id = rcpt.client_id
    if rcpt.refusal is not None or client_id is None:
        return Admitted(Decision("refused", 550, f"5.1.1 {rcpt.refusal or 'no such recipient'}"), None)
    d = decide(session, client_id, rcpt.client_name or f"client {client_id}", mail_from, headers, now)
    if not d.accepted:
        return Admitted(d, None)
    mail_id = session.execute(_INSERT, {
        "received_at": now, "channel": channel, "client_id": client_id, "service_id": rcpt.service_id,
        "recipient": _clean(rcpt.address, 320), "mail_from": envelope_sender(mail_from),
        "sender": _clean(address(header(headers, "From")) or address(mail_from or ""), 320),
        "subject": _clean(header(headers, "Subject"), 1024),
        "message_id": _clean(mid, 255) if (mid := norm_id(header(headers, "Message-ID"))) else None,
        "size": len(raw), "raw": raw, "status": d.status, "verdict": d.verdict[:200],
    }).scalar_one()
    return Admitted(d, mail_id)
