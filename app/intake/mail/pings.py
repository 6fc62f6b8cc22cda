"""Mail to a heartbeat monitor's ping address, `hb-<uuid>@<domain>`: every message is a ping
(healthchecks' e-mail pings). The subject says which: one with the word "fail" is a failed run,
one with "start" a run that began, anything else a success. Recorded in the transaction that
answers 250, like a client's mail; nothing else of it is kept but the first lines of its text."""

from __future__ import annotations

import email
import re
from datetime import datetime
from email import policy

from sqlalchemy.orm import Session

from .. import heartbeats
from .recipients import Recipient

_WORD = re.compile(r"\b(fail|start)\b", re.I)
EXCERPT_CHARS = 2000


def kind_of(subject: str) -> str:
    found = _WORD.search(subject or "")
    return {"fail": "fail", "start": "start"}[found.group(1).lower()] if found else "success"


def ping_by_mail(session: Session, rcpt: Recipient, mail_from: str | None, raw: bytes,
                 now: datetime) -> tuple[int, str]:
    """(SMTP code, text): a ping is recorded in the storing transaction, nothing stored."""
    subject, excerpt = "", ""
    try:
        msg = email.message_from_bytes(raw, policy=policy.default)
        subject = str(msg.get("Subject") or "")
        body = msg.get_body(preferencelist=("plain", "html"))
        excerpt = body.get_content()[:EXCERPT_CHARS] if body is not None else ""
    except Exception:  # an unreadable message is still a ping: it came
        pass
    kind = kind_of(subject)
    pinged = heartbeats.ping(session, rcpt.token or "", kind, now, "email",
                             body_excerpt=(f"Subject: {subject}\n\n{excerpt}" if subject else excerpt) or None,
                             remote=(mail_from or "")[:200])
    if pinged is None:  # deleted since RCPT
        return 550, "5.1.1 No such heartbeat monitor"
    return 250, f"2.0.0 Heartbeat ping ({kind}) received"
