"""Replies by SMS: "ACK 1042" acknowledges incident #1042 and "RES 1042" resolves it, as the
person whose phone sent the reply. The webhook's signature is checked by the view; a replay (the
same MessageSid again) is refused here, even with a valid signature."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import incidents
from ..errors import ActionError
from ..incidents import Actor
from ..models import ContactMethod, InboundMessage, User

COMMAND = re.compile(r"^\s*(ACK|ACKNOWLEDGE|RES|RESOLVE)\s*#?\s*(\d{1,9})\s*[.!]?\s*$", re.IGNORECASE)
HELP = "Vigil: reply ACK 1042 to acknowledge incident #1042, or RES 1042 to resolve it."


class Replayed(Exception):
    pass


def handle(session: Session, *, message_sid: str, sender: str, body: str, now: datetime) -> str:
    """Act on one inbound SMS; returns the text to answer with. Raises Replayed."""
    record = InboundMessage(provider="twilio", provider_id=message_sid[:64], from_address=sender[:64],
                            body=body[:1600], received_at=now)
    try:
        # Race: the same webhook delivered twice at once; the unique (provider, id) settles it.
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        raise Replayed(message_sid) from None
    user, problem = sender_of(session, sender)
    if user is None:
        record.outcome = problem
        return f"Vigil: {problem}"
    record.user_id = user.id
    m = COMMAND.match(body)
    if m is None:
        record.outcome = "syntax"
        return HELP
    verb, number = m.group(1).upper(), int(m.group(2))
    actor = Actor.of(user, via="SMS")
    try:
        if verb.startswith("ACK"):
            out = incidents.acknowledge(session, number, actor, now, op_id=f"sms:{message_sid}"[:100])
        else:
            out = incidents.resolve(session, number, actor, "Resolved by SMS reply", now)
    except ActionError as e:
        record.outcome = f"refused: {e.message}"[:200]
        return f"Vigil: {e.message}"
    record.outcome = out.outcome
    return f"Vigil: {out.message}"


def sender_of(session: Session, phone: str) -> tuple[User | None, str]:
    """The one active user this number belongs to (a phone contact method, or the profile's)."""
    phone = re.sub(r"[\s().-]", "", phone or "")
    owners = set(session.execute(
        select(User.id).outerjoin(ContactMethod, ContactMethod.user_id == User.id).where(
            User.active,
            or_(User.phone == phone,
                (ContactMethod.address == phone) & ContactMethod.kind.in_(("sms", "voice"))),
        )
    ).scalars())
    if not owners:
        return None, "this number is not registered with Vigil."
    if len(owners) > 1:
        return None, "this number belongs to several Vigil users: acknowledge in the app."
    return session.get(User, owners.pop()), ""
