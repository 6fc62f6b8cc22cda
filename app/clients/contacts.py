"""A client's contact chain for hand-overs: the people and desks of the client's own team
(technical hotline, duty manager, an executive...), how to reach each (e-mail, SMS, a call),
their hours, and the order and delays to try them in. Managers edit it; validation lives here,
every refusal an ActionError with a reason."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import access
from ..errors import ActionError
from ..models import Client, ClientContact, User
from ..notify.contacts import EMAIL_RE, PHONE_RE
from ..schedules.coverage import Coverage, covers, format_hhmm

CHANNELS = ("email", "sms", "voice")
CHANNEL_NAMES = {"email": "e-mail", "sms": "SMS", "voice": "call"}
MAX_CONTACTS = 12
MAX_DELAY_MINUTES = 240
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def chain(session: Session, client_id: int) -> list[ClientContact]:
    return list(session.execute(
        select(ClientContact).where(ClientContact.client_id == client_id)
        .order_by(ClientContact.position, ClientContact.id)).scalars())


def _text(value: Any, what: str, limit: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ActionError(f"{what} must be text", 400)
    value = " ".join(value.split())
    if required and not value:
        raise ActionError(f"{what} is required", 400)
    if len(value) > limit:
        raise ActionError(f"{what} is longer than {limit} characters", 400)
    return value


def _hours(value: Any) -> dict[str, Any]:
    """{"kind": "always"} or a daily window {"kind": "window", "start", "end", "days"} in the
    client's zone (checked by schedules/coverage.py)."""
    if value in (None, "", {}):
        return {"kind": "always"}
    if not isinstance(value, dict) or value.get("kind") not in ("always", "window"):
        raise ActionError("hours must be always, or a daily window with start, end and days", 400)
    try:
        cov = Coverage.from_dict({**value, "tz": "UTC"})
    except (ValueError, TypeError) as e:
        raise ActionError(f"hours: {e}", 400) from None
    out = cov.to_dict()
    out.pop("tz", None)
    return out


def parse(body: dict[str, Any]) -> dict[str, Any]:
    """A contact as sent by the form or the API, checked."""
    name = _text(body.get("name"), "name", 200, required=True)
    role = _text(body.get("role"), "role", 200)
    email = _text(body.get("email"), "e-mail", 254).lower() or None
    phone = re.sub(r"[\s().-]", "", _text(body.get("phone"), "phone", 40)) or None
    if email and not EMAIL_RE.match(email):
        raise ActionError("that is not an e-mail address", 400)
    if phone and not PHONE_RE.match(phone):
        raise ActionError("the phone number must be in international form, like +33612345678", 400)
    channels = body.get("channels") or []
    if not isinstance(channels, list) or any(c not in CHANNELS for c in channels):
        raise ActionError(f"channels must be a list of {', '.join(CHANNELS)}", 400)
    channels = [c for c in CHANNELS if c in channels]
    if not channels:
        raise ActionError("choose at least one way to reach this contact (e-mail, SMS or a call)", 400)
    if "email" in channels and not email:
        raise ActionError("an e-mail address is needed to reach this contact by e-mail", 400)
    if {"sms", "voice"} & set(channels) and not phone:
        raise ActionError("a phone number is needed to reach this contact by SMS or call", 400)
    delay = body.get("delay_minutes", 15)
    if isinstance(delay, str) and delay.strip().isdigit():
        delay = int(delay)
    if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_DELAY_MINUTES:
        raise ActionError(f"the wait before the next contact must be 0 to {MAX_DELAY_MINUTES} minutes", 400)
    return {"name": name, "role": role, "email": email, "phone": phone, "channels": channels,
            "hours": _hours(body.get("hours")), "delay_minutes": delay}


def add(session: Session, user: User, client_id: int, body: dict[str, Any], now: datetime) -> ClientContact:
    access.check_manage_client(session, user, client_id)
    fields = parse(body)
    existing = chain(session, client_id)
    if len(existing) >= MAX_CONTACTS:
        raise ActionError(f"at most {MAX_CONTACTS} contacts in a chain; remove one first", 409)
    row = ClientContact(client_id=client_id, position=len(existing), created_at=now, **fields)
    session.add(row)
    session.flush()
    return row


def mine(session: Session, user: User, contact_id: int) -> ClientContact:
    row = session.get(ClientContact, contact_id) if 0 < contact_id < 2**31 else None
    if row is None:
        raise ActionError("no such contact", 404)
    try:
        access.check_manage_client(session, user, row.client_id)
    except access.Denied as e:
        raise ActionError(e.message, e.status) from None
    return row


def update(session: Session, user: User, contact_id: int, body: dict[str, Any]) -> ClientContact:
    row = mine(session, user, contact_id)
    for key, value in parse(body).items():
        setattr(row, key, value)
    return row


def remove(session: Session, user: User, contact_id: int) -> Client:
    row = mine(session, user, contact_id)
    client = row.client
    session.delete(row)
    session.flush()
    _renumber(chain(session, client.id))
    return client


def move(session: Session, user: User, contact_id: int, step: int) -> Client:
    """Move a contact one place earlier (-1) or later (+1) in the chain."""
    row = mine(session, user, contact_id)
    rows = chain(session, row.client_id)
    i = rows.index(row)
    j = max(0, min(len(rows) - 1, i + (1 if step > 0 else -1)))
    rows[i], rows[j] = rows[j], rows[i]
    _renumber(rows)
    return row.client


def _renumber(rows: list[ClientContact]) -> None:
    for i, r in enumerate(rows):
        r.position = i


# --- what the chain says ---------------------------------------------------------------------


def snapshot(row: ClientContact) -> dict[str, Any]:
    """A contact as the hand-over keeps it (copied when the hand-over starts)."""
    return {"id": row.id, "name": row.name, "role": row.role, "email": row.email, "phone": row.phone,
            "channels": list(row.channels or []), "hours": dict(row.hours or {"kind": "always"}),
            "delay_minutes": row.delay_minutes}


def available(contact: dict[str, Any], tz: str, at: datetime) -> bool:
    hours = contact.get("hours") or {"kind": "always"}
    return hours.get("kind", "always") == "always" or covers(Coverage.from_dict({**hours, "tz": tz}), at)


def hours_text(hours: dict[str, Any] | None) -> str:
    if not hours or hours.get("kind", "always") == "always":
        return "any time"
    days = hours.get("days") or list(range(7))
    named = "every day" if len(days) == 7 else "Mon–Fri" if days == [0, 1, 2, 3, 4] else ", ".join(DAYS[d] for d in days)
    start, end = hours.get("start", "00:00"), hours.get("end", "24:00")
    if isinstance(start, int):
        start, end = format_hhmm(start), format_hhmm(end)
    return f"{named} {start}–{end}"


def how(contact: dict[str, Any]) -> str:
    """"e-mail and SMS" ..."""
    names = [CHANNEL_NAMES[c] for c in contact.get("channels", []) if c in CHANNEL_NAMES]
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def fallback(client: Client) -> list[dict[str, Any]]:
    """A client without a chain but with its team's e-mail (the older setting): that address."""
    if not client.handover_email:
        return []
    return [{"id": None, "name": f"{client.name}'s team", "role": "", "email": client.handover_email, "phone": None,
             "channels": ["email"], "hours": {"kind": "always"}, "delay_minutes": 30}]


def form_body(form: Any) -> dict[str, Any]:
    """A contact from the client screen's form."""
    hours: dict[str, Any] = {"kind": "always"}
    if form.get("hours") == "window":
        hours = {"kind": "window", "start": form.get("start") or "09:00", "end": form.get("end") or "18:00",
                 "days": [int(d) for d in form.getlist("days") if d.isdigit()] or [0, 1, 2, 3, 4]}
    return {"name": form.get("name"), "role": form.get("role"), "email": form.get("email"), "phone": form.get("phone"),
            "channels": form.getlist("channels"), "hours": hours, "delay_minutes": form.get("delay_minutes", "15")}
