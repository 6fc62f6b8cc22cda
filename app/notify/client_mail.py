"""Answers to a client who wrote to us, threaded in their own mail program: the acknowledgement
of their message (incident number, response deadline of their contract, status-page link), a
mail when an engineer acknowledges, one when it is resolved (with the summary), and what an
engineer writes from the incident screen. Each goes through outbound.queue (the engine sends it),
carries In-Reply-To/References to the client's messages and a Message-ID that we remember, and
a Reply-To of the client's own address: their answer comes back into the same incident.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..intake.keys import cached
from ..intake.mail import threads
from ..models import TIERS, Client, InboundMail, Incident, MailThread, StatusPage
from . import outbound


def status_link(session: Session, client: Client | ClientFacts) -> tuple[str, bool] | None:
    """The client's status page, for the mails that answer them: (its address, written with
    outbound.BASE for the engine to complete, and whether anyone may open it), or None when the
    client has no page set up. Kept a few seconds (intake.keys.cached): every message a client
    sends is answered with it."""
    def load() -> tuple[str, bool] | None:
        page = session.get(StatusPage, client_id)
        return None if page is None else (f"{outbound.BASE}/status/{slug}", page.visibility == "public")

    client_id, slug = client.id, client.slug
    return cached(session, f"status-link:{client_id}", load)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Thread:
    to: str  # where answers go (the Reply-To, else the From of the first message)
    reply_to: str  # the client's address at our domain
    subject: str  # the first message's subject
    refs: list[str]  # Message-IDs of the thread, oldest first


def thread_of(session: Session, inc: Incident, *, fallback_reply_to: str = "") -> Thread | None:
    """The mail thread of an incident: who wrote first, and every Message-ID since."""
    first = session.execute(
        select(InboundMail).where(InboundMail.incident_id == inc.id, InboundMail.reply_to.is_not(None))
        .order_by(InboundMail.id).limit(1)
    ).scalar_one_or_none()
    refs = list(session.execute(
        select(MailThread.message_id).where(MailThread.incident_id == inc.id).order_by(MailThread.created_at)
    ).scalars())
    if first is not None and first.reply_to:
        return Thread(first.reply_to, first.recipient or fallback_reply_to, first.subject or inc.summary, refs)
    if inc.client.handover_email and fallback_reply_to:
        return Thread(inc.client.handover_email, fallback_reply_to, inc.summary, refs)
    return None


def _local(t: datetime, client: Client | ClientFacts) -> str:
    try:
        zone = ZoneInfo(client.timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return t.astimezone(zone).strftime(f"%Y-%m-%d %H:%M ({client.timezone})")


def _queue(session: Session, inc: Incident | NewIncident, th: Thread, kind: str, body: str, now: datetime,
           once_key: str | None = None) -> str:
    domain = th.reply_to.rpartition("@")[2] or "vigil.invalid"
    mid = f"vigil.{inc.id}.{kind}.{secrets.token_hex(6)}@{domain}"
    subject = th.subject if th.subject.lower().startswith(("re:", "tr:", "fw:")) else f"Re: {th.subject}"
    tag = threads.subject_tag(inc.id)
    if tag not in subject:
        subject = f"{subject} {tag}"
    headers = {"Message-ID": f"<{mid}>", "X-Vigil-Incident": str(inc.id), "X-Vigil-Client": inc.client.slug}
    if th.reply_to:
        headers["Reply-To"] = th.reply_to
    if th.refs:
        headers["In-Reply-To"] = f"<{th.refs[-1]}>"
        headers["References"] = " ".join(f"<{r}>" for r in th.refs[-20:])
    fields = {"kind": "email", "address": th.to, "subject": subject, "body": body, "purpose": "client_mail", "now": now,
              "headers": headers, "incident_id": inc.id, "client_id": inc.client_id}
    queued = outbound.queue(session, **fields, once_key=once_key) if once_key else outbound.queue_row(session, **fields)
    if queued is not None:
        threads.remember(session, mid, inc.id, now, outbound=True)
    return th.to


def _signature(session: Session, client: Client | ClientFacts, n: int) -> str:
    link = status_link(session, client)
    lines = ["", "", f"Reply to this e-mail to add to incident #{n}; keep [#{n}] in the subject."]
    if link:
        url, public = link
        lines.append(f"Status page: {url}" if public else f"Status page (sign in, or use the link you were given): {url}")
    return "\n".join(lines)


@dataclass(frozen=True)
class ClientFacts:
    """What an answer needs of a client (intake has it at hand: intake.keys.IntakeTarget)."""

    id: int
    slug: str
    tier: str
    timezone: str


@dataclass(frozen=True)
class NewIncident:
    """What the acknowledgement needs of the incident a message just opened, without loading it."""

    id: int
    summary: str
    response_deadline: datetime
    client_id: int
    client: ClientFacts


def opened(session: Session, inc: NewIncident, *, to: str, our_address: str, subject: str, message_id: str | None,
           now: datetime) -> str | None:
    """The acknowledgement of a message that opened an incident. Queued in the transaction that
    processed the message, which happens once (incidents/mail.py): no once_key needed."""
    th = Thread(to, our_address, subject or inc.summary, [message_id] if message_id else [])
    c = inc.client
    body = "\n".join([
        "Hello,", "",
        f"We received your message and opened incident #{inc.id}: {inc.summary}", "",
        f"Your contract: {TIERS.get(c.tier, c.tier)}. We will respond by {_local(inc.response_deadline, c)}.",
    ]) + _signature(session, c, inc.id)
    return _queue(session, inc, th, "ack", body, now)


def acknowledged(session: Session, inc: Incident, now: datetime) -> str | None:
    th = thread_of(session, inc)
    if th is None:
        return None
    body = (f"Hello,\n\nAn engineer is working on incident #{inc.id} ({inc.summary}) since "
            f"{_local(now, inc.client)}.") + _signature(session, inc.client, inc.id)
    return _queue(session, inc, th, "acked", body, now)


def resolved(session: Session, inc: Incident, now: datetime) -> str | None:
    th = thread_of(session, inc)
    if th is None:
        return None
    summary = inc.resolution_summary or "(no summary was given)"
    body = (f"Hello,\n\nIncident #{inc.id} ({inc.summary}) was resolved at {_local(now, inc.client)}.\n\n"
            f"Summary: {summary}") + _signature(session, inc.client, inc.id)
    return _queue(session, inc, th, "resolved", body, now)


def write(session: Session, inc: Incident, author: str, text: str, now: datetime, *, reply_domain: str = "") -> str | None:
    """An engineer's message to the client; returns the address, or None when there is none."""
    fallback = f"{inc.client.slug}@{reply_domain}" if reply_domain else ""
    th = thread_of(session, inc, fallback_reply_to=fallback)
    if th is None:
        return None
    body = f"{text}\n\n-- \n{author}" + _signature(session, inc.client, inc.id)
    return _queue(session, inc, th, "note", body, now)
