"""A client's e-mail into incident state, once: it opens an incident (the intake path every alert
takes, so it escalates with the contract's policy and respects coverage hours), or, as a reply,
joins its incident's timeline (never resolving or paging by itself), or reopens a recently
resolved one.

`process` claims the stored message with a compare-and-set (received -> processed) in the very
transaction that writes its incident: of two processors (the listener, in the transaction that
stores the message; an engine sweeping what a failure left behind) exactly one writes it, and a
failure halfway leaves it received, to be processed again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from ..intake.base import MAX_DETAILS, IntakeEvent, clip
from ..intake.keys import target_cached
from ..intake.mail import rules_of, threads
from ..intake.mail.parse import Parsed, parse_or_error
from ..models import InboundMail, Incident, MailAttachment, Service, Status
from ..notify import client_mail
from .actions import reopen
from .record import Actor, lock, note, note_id, publish
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


_CLAIM = (update(_MAILS).where(_MAILS.c.id == bindparam("b_id"), _MAILS.c.status == "received")
          .values(status="processed", processed_at=bindparam("b_now")))
_COLUMNS = (_MAILS.c.id, _MAILS.c.client_id, _MAILS.c.service_id, _MAILS.c.mail_from, _MAILS.c.subject,
            _MAILS.c.sender, _MAILS.c.message_id, _MAILS.c.recipient)
_CLAIM_AND_READ = _CLAIM.returning(*_COLUMNS, _MAILS.c.raw)
_CLAIM_PARSED = _CLAIM.returning(*_COLUMNS)
_WRITE_BACK = update(_MAILS).where(_MAILS.c.id == bindparam("b_id"))
_DEADLINE = select(Incident.summary, Incident.response_deadline).where(Incident.id == bindparam("b_id"))


def process_mail(session: Session, mail_id: int, now: datetime, *, attachment_limit: int = DEFAULT_ATTACHMENT_LIMIT,
                 parsed: Parsed | Exception | None = None) -> Processed | None:
    """Turn one stored message into incident state. None: not ours to process (already done,
    held, a loop). `parsed`: its parse_or_error, done by the caller before the transaction
    (None: read and parse it here)."""
    # The claim and the read in one statement; what processing learns is written back in one
    # more (a hot path: a burst of client mail is hundreds of these a second).
    conn = session.connection()
    row = conn.execute(_CLAIM_AND_READ if parsed is None else _CLAIM_PARSED, {"b_id": mail_id, "b_now": now}).first()
    if row is None:
        return None
    mail = _Mail(*row[:8])
    if parsed is None:
        parsed = parse_or_error(row.raw, mail.mail_from)
    problem = None
    if isinstance(parsed, Parsed):
        problem = "; ".join(parsed.problems[:5]) or None
    else:  # the listener has said 250: whatever the bytes are, an incident opens
        e = parsed
        parsed = Parsed(subject=clip(mail.subject) or "(unreadable e-mail)", sender=mail.sender, reply_to=mail.sender,
                        message_id=mail.message_id, refs=[], text="", details="")
        problem = f"{type(e).__name__}: {e}"
        mail.parse_error = problem[:2000]
    service_id = mail.service_id or _first_service(session, mail.client_id)
    rules = rules_of(session, mail.client_id)
    thread = threads.find(session, mail.client_id, parsed.refs, parsed.subject)
    who = Actor.system(f"e-mail from {parsed.sender or 'an unknown sender'}")
    outcome, incident_id, target = "", 0, None
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
    conn.execute(_WRITE_BACK, {"b_id": mail.id, "subject": parsed.subject[:1024], "text": parsed.text,
                               "reply_to": parsed.reply_to or None, "parse_error": mail.parse_error,
                               "incident_id": incident_id, "outcome": outcome})
    threads.remember(session, parsed.message_id, incident_id, now)
    kept = _attachments(session, mail, parsed, incident_id, attachment_limit)
    if kept:
        note_id(session, incident_id, "attachments", who, "Attachments: " + ", ".join(
            f"{a.filename} ({_size(a.size)}{'' if a.data is not None else ', over the limit: not kept'})" for a in kept),
            now, mail=mail.id, attachments=[a.id for a in kept])
    if problem:
        note_id(session, incident_id, "warning", Actor.system("e-mail"),
                f"The e-mail could not be read completely ({problem[:300]}); its raw source is kept "
                f"(/incidents/{incident_id}/mails/{mail.id}/raw).", now, mail=mail.id)
    if outcome in ("opened", "followed_up") and target is not None and parsed.reply_to:
        # What the answer needs, without loading the incident: the client from the intake target.
        summary, deadline = conn.execute(_DEADLINE, {"b_id": incident_id}).one()
        client_mail.opened(session, client_mail.NewIncident(
            incident_id, summary, deadline, target.client_id,
            client_mail.ClientFacts(target.client_id, target.client_slug, target.tier, target.timezone)),
            to=parsed.reply_to, our_address=mail.recipient, subject=parsed.subject,
            message_id=parsed.message_id, now=now)
    return Processed(mail.id, outcome, incident_id)


@dataclass
class _Mail:
    """The stored message as processing reads it (columns of inbound_mails)."""

    id: int
    client_id: int
    service_id: int | None
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
    """What the SMTP listener runs for each message it stores, in the storing transaction, after
    the insert (intake/mail/listener.py): one transaction, and on SQLite one turn of the write
    lock, for a burst's storing and processing. In a savepoint: a message that fails to process
    stays stored ("received") for the engine's sweep, and the others in the batch go on."""

    def __init__(self, attachment_limit: int = DEFAULT_ATTACHMENT_LIMIT) -> None:
        self.limit = attachment_limit

    def __call__(self, session: Session, jobs: list[tuple[int, Parsed | Exception | None]], now: datetime,
                 careful: bool = True) -> None:
        """The batch's messages. Not careful: as they come, a failure failing the transaction (the
        listener then stores the batch again, carefully). Careful: in one savepoint; if it fails,
        each in its own, and one that fails again is left stored."""
        if not careful:
            for mail_id, parsed in jobs:
                process_mail(session, mail_id, now, attachment_limit=self.limit, parsed=parsed)
            return
        try:
            with session.begin_nested():
                for mail_id, parsed in jobs:
                    process_mail(session, mail_id, now, attachment_limit=self.limit, parsed=parsed)
            return
        except Exception:
            if len(jobs) == 1:
                log.exception("processing message %s failed; the engine will retry", jobs[0][0])
                return
        for job in jobs:
            self(session, [job], now, careful=True)


def processor(attachment_limit: int = DEFAULT_ATTACHMENT_LIMIT) -> Processor:
    return Processor(attachment_limit)


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
