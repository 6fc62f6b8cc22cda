"""A client's e-mail into incident state, once: it opens an incident (the intake path every alert
takes, so it escalates with the contract's policy and respects coverage hours), or, as a reply,
joins its incident's timeline (never resolving or paging by itself), or reopens a recently
resolved one.

`process` claims the stored message with a compare-and-set (received -> processed) in the very
transaction that writes its incident: of two processors (the listener right after its 250, an
engine sweeping what a crash left behind) exactly one writes it, and a crash halfway leaves it
received, to be processed again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from ..batching import GroupWriter
from ..db import Database, retry_transient
from ..intake.base import MAX_DETAILS, IntakeEvent, clip
from ..intake.keys import target_cached
from ..intake.mail import parse, rules_of, threads
from ..intake.mail.parse import Parsed
from ..models import InboundMail, Incident, MailAttachment, Service, Status
from ..notify import client_mail
from .actions import reopen
from .record import Actor, lock, note, publish
from .trigger import find_open, ingest

DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024
_MAILS = InboundMail.__table__
log = logging.getLogger("vigil.mail")


@dataclass(frozen=True)
class Processed:
    mail_id: int
    outcome: str  # opened | replied | reopened | followed_up | duplicate
    incident_id: int


def pending_mail(session: Session, older_than: datetime, limit: int = 100) -> list[int]:
    """Messages stored but not processed (a listener that died between its 250 and the work)."""
    return list(session.execute(
        select(InboundMail.id).where(InboundMail.status == "received", InboundMail.received_at <= older_than)
        .order_by(InboundMail.id).limit(limit)
    ).scalars())


def process_mail(session: Session, mail_id: int, now: datetime, *, attachment_limit: int = DEFAULT_ATTACHMENT_LIMIT) -> Processed | None:
    """Turn one stored message into incident state. None: not ours to process (already done,
    held, a loop)."""
    # The claim and the read in one statement; what processing learns is written back in one
    # more (a hot path: a burst of client mail is hundreds of these a second).
    row = session.execute(
        update(_MAILS).where(_MAILS.c.id == mail_id, _MAILS.c.status == "received")
        .values(status="processed", processed_at=now)
        .returning(_MAILS.c.id, _MAILS.c.client_id, _MAILS.c.service_id, _MAILS.c.raw, _MAILS.c.mail_from,
                   _MAILS.c.subject, _MAILS.c.sender, _MAILS.c.message_id, _MAILS.c.recipient)
    ).first()
    if row is None:
        return None
    mail = _Mail(*row)
    try:
        parsed = parse(mail.raw, mail.mail_from)
        problem = "; ".join(parsed.problems[:5]) or None
    except Exception as e:  # the listener has said 250: whatever the bytes are, an incident opens
        parsed = Parsed(subject=clip(mail.subject) or "(unreadable e-mail)", sender=mail.sender, reply_to=mail.sender,
                        message_id=mail.message_id, refs=[], text="", details="")
        problem = f"{type(e).__name__}: {e}"
        mail.parse_error = problem[:2000]
    service_id = mail.service_id or _first_service(session, mail.client_id)
    rules = rules_of(session, mail.client_id)
    thread = threads.find(session, mail.client_id, parsed.refs, parsed.subject)
    who = Actor.system(f"e-mail from {parsed.sender or 'an unknown sender'}")
    outcome, incident_id = "", 0
    if thread is not None:
        inc = lock(session, thread)
        if inc.status != Status.resolved.value:
            outcome, incident_id = "replied", inc.id
        elif (rules.reopen_days > 0 and inc.resolved_at is not None
              and now - inc.resolved_at <= timedelta(days=rules.reopen_days)
              and find_open(session, inc.service_id, inc.dedup_key) is None):
            reopen(session, inc.id, who, f"the client wrote again ({parsed.subject})", now)
            outcome, incident_id = "reopened", inc.id
    if incident_id:
        _reply_note(session, incident_id, who, parsed, mail, now)
    else:
        details = parsed.details
        if thread is not None:
            details = f"(Follows #{thread}, resolved earlier.)\n\n{details}"
        target = target_cached(session, service_id, "email")
        # Keyed by the Message-ID: the same message delivered twice (a server retrying after a
        # lost 250, even at the same moment) joins the first one's incident, pages nobody again.
        key = f"mail:{parsed.message_id}" if parsed.message_id else f"mail:{mail.id}"
        ev = IntakeEvent("trigger", parsed.subject, key, details=details[:MAX_DETAILS], severity="e-mail", urgency="high")
        result = ingest(session, target, ev, {"inbound_mail": mail.id, "from": parsed.sender,
                                              "subject": parsed.subject}, now)
        assert result.incident_id is not None
        incident_id = result.incident_id
        outcome = "duplicate" if result.outcome == "attached" else "followed_up" if thread is not None else "opened"
    session.execute(update(_MAILS).where(_MAILS.c.id == mail.id).values(
        subject=parsed.subject[:1024], text=parsed.text, reply_to=parsed.reply_to or None,
        parse_error=mail.parse_error, incident_id=incident_id, outcome=outcome))
    threads.remember(session, parsed.message_id, incident_id, now)
    kept = _attachments(session, mail, parsed, incident_id, attachment_limit)
    inc = session.execute(select(Incident).where(Incident.id == incident_id)
                          .options(joinedload(Incident.client))).scalar_one()
    if kept:
        note(session, inc, "attachments", who, "Attachments: " + ", ".join(
            f"{a.filename} ({_size(a.size)}{'' if a.data is not None else ', over the limit: not kept'})" for a in kept),
            now, mail=mail.id, attachments=[a.id for a in kept])
    if problem:
        note(session, inc, "warning", Actor.system("e-mail"),
             f"The e-mail could not be read completely ({problem[:300]}); its raw source is kept "
             f"(/incidents/{incident_id}/mails/{mail.id}/raw).", now, mail=mail.id)
    if outcome in ("opened", "followed_up") and parsed.reply_to:
        client_mail.opened(session, inc, to=parsed.reply_to, our_address=mail.recipient,
                           subject=parsed.subject, message_id=parsed.message_id, now=now)
    return Processed(mail.id, outcome, incident_id)


@dataclass
class _Mail:
    """The stored message as processing reads it (columns of inbound_mails)."""

    id: int
    client_id: int
    service_id: int | None
    raw: bytes
    mail_from: str
    subject: str
    sender: str
    message_id: str | None
    recipient: str
    parse_error: str | None = None


def _reply_note(session: Session, incident_id: int, who: Actor, parsed: Parsed, mail: _Mail, now: datetime) -> None:
    inc = lock(session, incident_id)
    text = parsed.details or "(empty message)"
    note(session, inc, "client_mail", who, f"{parsed.subject}\n\n{text}"[:20_000], now, mail=mail.id)
    publish(session, inc, "client_mail", now, mail=mail.id, sender=parsed.sender)


def _first_service(session: Session, client_id: int) -> int:
    return int(session.execute(select(Service.id).where(Service.client_id == client_id).order_by(Service.id)).scalar_one())


def _attachments(session: Session, mail: _Mail, parsed: Parsed, incident_id: int, limit: int) -> list[MailAttachment]:
    rows = [MailAttachment(mail_id=mail.id, incident_id=incident_id, filename=a.filename or "attachment",
                           content_type=a.content_type, size=len(a.data),
                           data=a.data if len(a.data) <= limit else None) for a in parsed.attachments]
    session.add_all(rows)
    if rows:
        session.flush()
    return rows


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.0f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"


def release_mail(session: Session, mail_id: int, now: datetime, *, attachment_limit: int = DEFAULT_ATTACHMENT_LIMIT) -> Processed | None:
    """A held message accepted by a manager: processed like any other."""
    session.execute(update(_MAILS).where(_MAILS.c.id == mail_id, _MAILS.c.status == "held").values(status="received"))
    return process_mail(session, mail_id, now, attachment_limit=attachment_limit)


class Processor:
    """What the listener runs after its 250 (from several threads at once): the messages waiting
    are processed several per transaction by one writer thread (batching.GroupWriter), so a
    burst pays BEGIN/COMMIT (and, on SQLite, the write lock) once per batch. A batch that fails
    is retried one message at a time, so one bad message holds no other back."""

    def __init__(self, db: Database, now: Callable[[], datetime], attachment_limit: int = DEFAULT_ATTACHMENT_LIMIT) -> None:
        self.db, self.now, self.limit = db, now, attachment_limit
        self.writer: GroupWriter[int] = GroupWriter(self._write, name="vigil-mail-writer", max_batch=50)

    def __call__(self, mail_id: int) -> None:
        self.writer.put(mail_id).wait(timeout=120)

    def _batch(self, ids: list[int]) -> None:
        def once() -> None:
            with self.db.write_turn(), self.db.transaction() as s:
                t = self.now()
                for mail_id in ids:
                    process_mail(s, mail_id, t, attachment_limit=self.limit)
        retry_transient(once)

    def _write(self, ids: list[int]) -> None:
        try:
            self._batch(ids)
        except Exception:
            if len(ids) == 1:
                raise
            for mail_id in ids:
                try:
                    self._batch([mail_id])
                except Exception:  # stored: the engine's sweep tries again later
                    log.exception("processing message %s failed", mail_id)

    def close(self) -> None:
        self.writer.close()


def processor(db: Database, now: Callable[[], datetime], attachment_limit: int = DEFAULT_ATTACHMENT_LIMIT) -> Processor:
    return Processor(db, now, attachment_limit)


def sweep(session: Session, now: datetime, attachment_limit: int = DEFAULT_ATTACHMENT_LIMIT,
          grace: timedelta = timedelta(seconds=30)) -> int:
    """The engine's periodic job: messages stored and not processed `grace` after (the listener
    died in between) are processed now, each in a savepoint (one bad message holds no other)."""
    done = 0
    for mail_id in pending_mail(session, now - grace):
        try:
            with session.begin_nested():
                done += process_mail(session, mail_id, now, attachment_limit=attachment_limit) is not None
        except Exception:
            log.exception("processing message %s failed", mail_id)
    return done
