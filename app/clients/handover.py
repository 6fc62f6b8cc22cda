"""A hand-over followed until the client's team answers: handing an incident over tells the
client's contact chain in order (e-mail, SMS and/or a call, each message carrying a no-login
"we have it" link), tries the next contact after the configured delay until someone takes it,
and tells the engineer and the managers when nobody answered.

- `start` runs in the hand-over's own transaction (incidents.hand_over): the first contact is
  queued at once.
- `walk` is an engine periodic job (engine/jobs.py): the next contact, when due. It moves the
  hand-over with a compare-and-set on `position` (after locking the incident: the lock order of
  db.py), and each message has a once_key per (hand-over, contact, channel), so neither a
  restart nor a second engine skips or repeats a step of the chain.
- `take` is the "we have it" link (views/handover.py): once, without login, for that incident.
- `state` is what the incident page (and the client's status page) shows; `waiting` the stretch
  of time spent waiting on the client, which response figures count apart from ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from .. import audit
from ..live import events
from ..models import (
    Client,
    HandoffLink,
    Handover,
    Incident,
    Notification,
    Status,
    TimelineEntry,
    User,
)
from ..notify import onetime, outbound
from ..notify.plan import plan_message, staff_ids
from . import contacts

BATCH = 50
_TIMELINE = TimelineEntry.__table__


# --- what the incident (and the client's status page) shows -------------------------------------


@dataclass(frozen=True)
class HandoverState:
    """A hand-over as people see it. `status`: waiting (nobody at the client has answered yet),
    taken (someone there took it), exhausted (every contact tried, still no answer: still waiting),
    ended (the incident was resolved before anyone took it)."""

    incident_id: int
    client: str
    status: str
    started_at: datetime
    attempts: int
    contacts: int
    next_at: datetime | None = None
    next_contact: str | None = None
    taken_at: datetime | None = None
    taken_by: str | None = None
    taken_contact: str | None = None
    exhausted_at: datetime | None = None
    ended_at: datetime | None = None
    chain: list[dict[str, Any]] = field(default_factory=list)

    @property
    def waiting_since(self) -> datetime | None:
        return self.started_at if self.status in ("waiting", "exhausted") else None

    def attempts_text(self) -> str:
        return f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"

    def sentence(self, fmt: Any = None) -> str:
        """"waiting on Acme Retail's team since 17:42 — 3 attempts, no answer yet"; `fmt` turns
        an instant into the reader's time (web/timefmt), UTC HH:MM without it."""
        at = fmt or (lambda t: t.strftime("%H:%M UTC"))
        if self.status == "taken":
            return f"{self.taken_by} of {self.client}'s team took it at {at(self.taken_at)}."
        if self.status == "ended":
            return f"Resolved before anyone at {self.client}'s team answered ({self.attempts_text()})."
        if not self.contacts:
            return f"Waiting on {self.client}'s team since {at(self.started_at)}: they have no hand-over contacts, " \
                   "so nobody there was told."
        tail = "nobody has answered: every contact was tried" if self.status == "exhausted" else "no answer yet"
        return f"Waiting on {self.client}'s team since {at(self.started_at)} — {self.attempts_text()}, {tail}."

    def as_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "incident_id": self.incident_id, "client": self.client, "status": self.status,
            "started_at": iso(self.started_at), "attempts": self.attempts, "contacts": self.contacts,
            "next_at": iso(self.next_at), "next_contact": self.next_contact, "taken_at": iso(self.taken_at),
            "taken_by": self.taken_by, "taken_contact": self.taken_contact, "exhausted_at": iso(self.exhausted_at),
            "ended_at": iso(self.ended_at), "sentence": self.sentence(),
        }


def latest(session: Session, incident_id: int) -> Handover | None:
    return session.execute(select(Handover).where(Handover.incident_id == incident_id)
                           .order_by(Handover.id.desc()).limit(1)).scalar_one_or_none()


def state(session: Session, incident: Incident) -> HandoverState | None:
    """The incident's latest hand-over as people see it, or None when it was never handed over."""
    h = latest(session, incident.id)
    if h is None:
        return None
    if h.taken_at is not None:
        status = "taken"
    elif h.ended_at is not None or incident.status == Status.resolved.value:
        status = "ended"
    elif h.exhausted_at is not None:
        status = "exhausted"
    else:
        status = "waiting"
    nxt = h.chain[h.position] if h.next_at is not None and h.position < len(h.chain) else None
    return HandoverState(
        incident_id=incident.id, client=incident.client.name, status=status, started_at=h.started_at,
        attempts=h.attempts, contacts=len(h.chain), next_at=h.next_at if status == "waiting" else None,
        next_contact=_who(nxt) if nxt and status == "waiting" else None, taken_at=h.taken_at, taken_by=h.taken_by,
        taken_contact=h.taken_contact, exhausted_at=h.exhausted_at,
        ended_at=h.ended_at or (incident.resolved_at if status == "ended" else None), chain=list(h.chain))


def waiting(h: Handover, resolved_at: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The time spent waiting on the client's team: from the hand-over until someone there took
    it, or the incident was resolved, or (still waiting) now. Response figures count it apart."""
    ends = [t for t in (h.taken_at, h.ended_at, resolved_at) if t is not None]
    return h.started_at, min(ends) if ends else now


# --- starting and walking the chain -------------------------------------------------------------


def start(session: Session, inc: Incident, user: User | None, reason: str, now: datetime) -> Handover:
    """Hand `inc` (locked by the caller, in its transaction) over to the client's team: copy the
    chain and tell its first contact at once."""
    client = inc.client
    chain = [contacts.snapshot(c) for c in contacts.chain(session, client.id)] or contacts.fallback(client)
    h = Handover(incident_id=inc.id, client_id=client.id, started_by_id=user.id if user else None, reason=reason,
                 chain=chain, position=0, attempts=0, next_at=now if chain else None, started_at=now)
    session.add(h)
    session.flush()
    if not chain:
        h.exhausted_at = now
        text = (f"#{inc.id} was handed over to {client.name}'s team, but {client.name} has no hand-over contacts: "
                "nobody there was told. Call them, and log what happened; a manager sets the contacts on the client "
                "screen.")
        _note(session, inc.id, "handover_exhausted", "hand-over", text, now)
        _tell_ours(session, h, inc, text, now)
        return h
    _step(session, h, inc, now)
    return h


def walk(session: Session, now: datetime) -> int:
    """The engine's job: for every hand-over whose next contact is due, try it (or, past the last
    one, say that nobody answered). Returns how many moved."""
    due = session.execute(
        select(Handover.id, Handover.incident_id, Handover.position, Handover.next_at)
        .where(Handover.next_at <= now, Handover.taken_at.is_(None), Handover.ended_at.is_(None))
        .order_by(Handover.incident_id).limit(BATCH)).all()
    done = 0
    for hid, incident_id, position, due_at in due:
        # The lock order (db.py): the incident first. SKIP LOCKED: a person taking it or
        # resolving it right now is not waited for; the next run finds what they decided.
        inc = session.execute(
            select(Incident).where(Incident.id == incident_id).with_for_update(skip_locked=True, key_share=True)
            .execution_options(populate_existing=True)).scalar_one_or_none()
        if inc is None:
            continue
        # Compare-and-set: this engine moves this step only if nobody moved it since we looked.
        moved = session.execute(
            update(Handover).where(Handover.id == hid, Handover.position == position, Handover.next_at == due_at,
                                   Handover.taken_at.is_(None), Handover.ended_at.is_(None))
            .values(next_at=None).execution_options(synchronize_session=False)).rowcount
        if moved != 1:
            continue
        h = session.execute(select(Handover).where(Handover.id == hid)
                            .execution_options(populate_existing=True)).scalar_one()
        if inc.status == Status.resolved.value:
            h.ended_at = inc.resolved_at or now
        elif inc.status != Status.handed_over.value:
            h.ended_at = now  # taken back by us (it cannot be today, but never walk on regardless)
        else:
            _step(session, h, inc, now)
        done += 1
    return done


def _step(session: Session, h: Handover, inc: Incident, now: datetime) -> None:
    """Try the contact at `h.position` (skipping those outside their hours), or, past the last
    one, say nobody answered. The caller holds the incident's lock."""
    client = inc.client
    tz = client.timezone or "UTC"
    while h.position < len(h.chain):
        index = h.position
        contact = h.chain[index]
        h.position = index + 1
        if not contacts.available(contact, tz, now):
            _note(session, inc.id, "handover_skipped", "hand-over",
                  f"Hand-over: skipped {_who(contact)}: outside their hours ({contacts.hours_text(contact.get('hours'))}, "
                  f"{tz}).", now)
            continue
        nxt = h.chain[index + 1] if index + 1 < len(h.chain) else None
        sent = _queue(session, h, inc, index, contact, nxt, now)
        if not sent:  # every message of this step exists already (cannot happen past the CAS)
            continue
        h.attempts += 1
        h.next_at = now + timedelta(minutes=int(contact.get("delay_minutes") or 0))
        _note(session, inc.id, "handover_contact", "hand-over",
              f"Hand-over: told {_who(contact)} by {contacts.how(contact)} (contact {index + 1} of {len(h.chain)}); "
              + (f"{_who(nxt)} is next if nobody takes it within {contact.get('delay_minutes')} min."
                 if nxt else f"the last contact: if nobody takes it within {contact.get('delay_minutes')} min, "
                             "we say so."), now, contact=index)
        events.publish(session, "handover.contacted", now=now, incident_id=inc.id, client_id=inc.client_id,
                       data={"attempts": h.attempts, "contact": contact.get("name")})
        return
    h.next_at = None
    h.exhausted_at = now
    names = ", ".join(_who(c) for c in h.chain)
    text = (f"NOBODY AT {client.name.upper()}'S TEAM HAS TAKEN #{inc.id} ({inc.summary[:120]}): every contact was "
            f"tried ({names}); {h.attempts} attempt{'s' if h.attempts != 1 else ''}. Call them, and log what happened.")
    _note(session, inc.id, "handover_exhausted", "hand-over", text, now)
    _tell_ours(session, h, inc, text, now)
    events.publish(session, "handover.exhausted", now=now, incident_id=inc.id, client_id=inc.client_id, data={})


def _tell_ours(session: Session, h: Handover, inc: Incident, text: str, now: datetime) -> None:
    """The engineer who handed it over and the managers, on their quiet channels."""
    people = set(staff_ids(session)) | ({h.started_by_id} if h.started_by_id else set())
    plan_message(session, people, text, now, purpose="notice", incident_id=inc.id)


def _who(contact: dict[str, Any] | None) -> str:
    if not contact:
        return ""
    return f"{contact['name']} ({contact['role']})" if contact.get("role") else str(contact["name"])


def _queue(session: Session, h: Handover, inc: Incident, index: int, contact: dict[str, Any],
           nxt: dict[str, Any] | None, now: datetime) -> int:
    client = inc.client
    zone = ZoneInfo(client.timezone or "UTC")
    local = h.started_at.astimezone(zone).strftime("%H:%M %Z")
    wait = int(contact.get("delay_minutes") or 0)
    then = f"If nobody takes it within {wait} minutes, we contact {_who(nxt)}." if nxt else ""
    sent = 0
    for kind in contact.get("channels", []):
        address = contact.get("email") if kind == "email" else contact.get("phone")
        if not address:
            continue
        if kind == "email":
            subject = f"[{client.name}] Incident #{inc.id} handed over to your team: {inc.summary}"
            body = "\n".join([
                f"Hello {contact['name']},", "",
                f"Our on-call team handed incident #{inc.id} over to {client.name}'s team at {local}.",
                f"What happened: {inc.summary}", f"Why it is yours: {h.reason}", "",
                f"Please confirm that your team has it (no login needed): {outbound.LINK}", "",
                then, "", "The on-call team (Vigil)"])
            headers = {"X-Vigil-Incident": str(inc.id), "X-Vigil-Client": client.slug,
                       "Auto-Submitted": "auto-generated"}
        elif kind == "sms":
            subject, headers = "", None
            body = (f"{client.name}: incident #{inc.id} ({inc.summary[:80]}) is handed over to your team: "
                    f"{h.reason[:120]}. Confirm you have it: {outbound.LINK}")
        else:
            subject, headers = "", None
            body = (f"This is the on-call team for {client.name}. Incident {inc.id}, {inc.summary[:120]}, has been "
                    f"handed over to your team. The reason: {h.reason[:200]}. A link to confirm that your team has "
                    "it was sent by text message or e-mail.")
        queued = outbound.queue(session, kind=kind, address=address, body=body, subject=subject, headers=headers,
                                purpose="handover", now=now, incident_id=inc.id, client_id=client.id,
                                once_key=once_key(h.id, index, kind))
        sent += queued is not None
    return sent


def once_key(handover_id: int, index: int, kind: str) -> str:
    return f"handover:{handover_id}:{index}:{kind}"


def _note(session: Session, incident_id: int, kind: str, label: str, message: str, now: datetime,
          **data: Any) -> None:
    # As incidents.record.note: a plain INSERT after the transaction's queued rows, so the
    # timeline keeps the order things happened in.
    events.write_queued_rows(session)
    session.connection().execute(insert(_TIMELINE), {
        "incident_id": incident_id, "at": now, "kind": kind, "actor_id": None, "actor_label": label[:200],
        "message": message, "data": data})


# --- the "we have it" link ---------------------------------------------------------------------


def link_maker(config: dict[str, Any]) -> Any:
    """The engine's hook: a fresh "we have it" link for each hand-over message it sends,
    written in where the message says outbound.LINK."""
    hours = float(config.get("HANDOVER_LINK_HOURS", 72.0))
    base_url = str(config.get("BASE_URL", ""))

    def make(session: Session, n: Notification, now: datetime) -> onetime.Link | None:
        parts = (n.once_key or "").split(":")
        if n.purpose != "handover" or len(parts) != 4 or not parts[1].isdigit():
            return None
        return onetime.mint(session, "handover", now=now, hours=hours, base_url=base_url, contact=n.address or "",
                            handover_id=int(parts[1]), incident_id=n.incident_id, notification_id=n.id)

    return make


@dataclass(frozen=True)
class Taken:
    incident: Incident
    handover: Handover
    message: str


def show(session: Session, token: str, now: datetime) -> tuple[HandoffLink | None, Handover | None, Incident | None,
                                                                  onetime.LinkRefused | None]:
    """What the link's page shows: the link, its hand-over and incident, and why it cannot be
    used (if it cannot)."""
    link = onetime.find(session, token, "handover")
    h = session.get(Handover, link.handover_id) if link and link.handover_id else None
    inc = session.get(Incident, h.incident_id) if h else None
    return link, h, inc, _refusal(link, h, inc, now)


def _refusal(link: HandoffLink | None, h: Handover | None, inc: Incident | None,
             now: datetime) -> onetime.LinkRefused | None:
    why = onetime.state(link, now)
    if why is not None or h is None or inc is None:
        return why or onetime.LinkRefused(404, "unknown", "This link is not valid.")
    if h.taken_at is not None:
        return onetime.LinkRefused(410, "taken", f"{h.taken_by} already took it, at {h.taken_at:%H:%M} UTC on "
                                                 f"{h.taken_at:%d %b}: nothing more to do.")
    if inc.status == Status.resolved.value:
        return onetime.LinkRefused(410, "resolved", f"Incident #{inc.id} is resolved already: nothing to take.")
    return None


def take(session: Session, token: str, name: Any, now: datetime) -> Taken:
    """Someone at the client takes the handed-over incident, with the link their message
    carried. Raises onetime.LinkRefused; the caller commits."""
    first = onetime.find(session, token, "handover")
    if first is None or first.incident_id is None:
        raise onetime.state(None, now)  # type: ignore[misc]
    # The lock order (db.py): the incident, then the link and the hand-over's messages. Two
    # contacts taking it at once: the second waits here, then finds it taken.
    inc = session.execute(select(Incident).where(Incident.id == first.incident_id)
                          .with_for_update(key_share=True).execution_options(populate_existing=True)).scalar_one()
    link = onetime.find(session, token, "handover", lock=True)
    h = session.get(Handover, link.handover_id, populate_existing=True) if link and link.handover_id else None
    why = _refusal(link, h, inc, now)
    if why is not None:
        raise why
    assert link is not None and h is not None
    who = " ".join(name.split())[:200] if isinstance(name, str) and name.strip() else ""
    sent_to = next((c for c in h.chain if link.contact in (c.get("email"), c.get("phone"))), None)
    who = who or (sent_to["name"] if sent_to else f"{inc.client.name}'s team")
    link.used_at, link.used_by = now, who
    h.taken_at, h.taken_by, h.taken_contact, h.next_at = now, who, link.contact, None
    # The messages not yet sent are pointless now (the engine claims with SKIP LOCKED: no wait).
    session.execute(update(Notification).where(
        Notification.incident_id == inc.id, Notification.purpose == "handover", Notification.status == "pending",
        Notification.once_key.like(f"handover:{h.id}:%")).values(
        status="cancelled", last_error="the client's team took it").execution_options(synchronize_session=False))
    client: Client = inc.client
    label = f"{who} ({client.name}'s team)"
    _note(session, inc.id, "handover_taken", label,
          f"{who} of {client.name}'s team took it (with the link sent to {link.contact}).", now, contact=link.contact)
    audit.record(session, "handover.taken", actor=label, client_id=client.id, incident_id=inc.id, at=now,
                 target=f"incident:{inc.id}", contact=link.contact)
    events.publish(session, "handover.taken", now=now, incident_id=inc.id, client_id=client.id,
                   data={"taken_by": who})
    if h.started_by_id:
        plan_message(session, [h.started_by_id], f"{who} of {client.name}'s team took #{inc.id} ({inc.summary[:120]}).",
                     now, purpose="notice", incident_id=inc.id)
    return Taken(inc, h, f"Thank you, {who}: #{inc.id} is with {client.name}'s team now. Our on-call team is told.")
