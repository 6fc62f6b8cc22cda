"""Which incident a reply belongs to: its In-Reply-To/References among the Message-IDs we have
seen or sent (mail_threads), else a `[#1042]` in the subject; always an incident of the same
client (a number in a subject never reaches another client's incident)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ...models import Incident, MailThread

_THREADS = MailThread.__table__

_REMEMBER = {pg: (pg_insert if pg else sqlite_insert)(_THREADS).on_conflict_do_nothing(index_elements=["message_id"])
             for pg in (False, True)}
_NUMBER = re.compile(r"\[#(\d{1,12})\]")


def find(session: Session, client_id: int, refs: list[str], subject: str) -> int | None:
    if refs:
        row = session.execute(
            select(MailThread.incident_id).join(Incident, Incident.id == MailThread.incident_id)
            .where(MailThread.message_id.in_(refs[:100]), Incident.client_id == client_id)
            .order_by(MailThread.created_at.desc()).limit(1)
        ).scalar()
        if row is not None:
            return int(row)
    for m in _NUMBER.finditer(subject):
        found = session.execute(
            select(Incident.id).where(Incident.id == int(m.group(1)), Incident.client_id == client_id)
        ).scalar()
        if found is not None:
            return int(found)
    return None


def remember(session: Session, message_id: str | None, incident_id: int, now: datetime, *, outbound: bool = False) -> None:
    """Record a Message-ID of this incident's thread (a repeat of a known one is ignored)."""
    if not message_id:
        return
    # One statement, no savepoint: a Message-ID seen before (the same message delivered twice,
    # even at the same moment) keeps its first incident.
    conn = session.connection()
    conn.execute(_REMEMBER[conn.dialect.name == "postgresql"],
                 {"message_id": message_id[:255], "incident_id": incident_id, "created_at": now, "outbound": outbound})


def subject_tag(incident_id: int) -> str:
    return f"[#{incident_id}]"
