"""What a paging call says (TwiML): the incident, read from its state when the call is answered,
and "press 1 to acknowledge" (a <Gather> whose answer comes back signed to the gather URL)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

from sqlalchemy.orm import Session, object_session

from ..models import AckToken, Incident, Status
from ..notify.twiml import document, element
from . import links

MAX_ROUNDS = 3  # the script is read at most three times, then the call ends (escalation goes on)


def spoken(text: str) -> str:
    return text.replace("#", "incident ")


def script(tok: AckToken | None, token: str, now: datetime, base_url: str, round_: int = 1) -> str:
    return document(*_script(tok, token, now, base_url, round_))


def _script(tok: AckToken | None, token: str, now: datetime, base_url: str, round_: int) -> list[ET.Element]:
    if tok is None:
        return [element("Say", "This Vigil alert is not valid any more. Please open Vigil. Goodbye."), element("Hangup")]
    inc = tok.incident
    waiting = _waiting(tok)  # a bundled page's incidents still waiting
    if waiting:
        inc = waiting[0]
    where = f"{inc.client.name}, {inc.service.name}"
    if inc.status != Status.triggered.value or links.state(tok, now) is not None:
        who = f" by {inc.acknowledged_by.name}" if inc.status == "acknowledged" and inc.acknowledged_by else ""
        return [element("Say", f"This is Vigil. Incident {inc.number} for {where} is "
                           f"{inc.status.replace('_', ' ')}{who}. Nothing more to do. Goodbye."), element("Hangup")]
    base = base_url.rstrip("/")
    gather = element("Gather", None, numDigits="1", action=f"{base}/twilio/voice/{token}/gather", method="POST",
                 timeout="8")
    if len(waiting) > 1:
        clients = ", ".join(dict.fromkeys(i.client.name for i in waiting))
        gather.append(element("Say", f"This is Vigil. {len(waiting)} incidents need a response, for {clients[:200]}. "
                                 f"The first: {inc.urgency} urgency incident {inc.number}, for {where}: "
                                 f"{inc.summary[:200]}. Press 1 to acknowledge all {len(waiting)}."))
    else:
        gather.append(element("Say", f"This is Vigil. {inc.urgency.capitalize()} urgency incident {inc.number}, for "
                                 f"{where}: {inc.summary[:300]}. Press 1 to acknowledge."))
    if round_ >= MAX_ROUNDS:
        return [gather, element("Say", "No answer. Vigil keeps escalating. Goodbye."), element("Hangup")]
    return [gather, element("Say", "We did not get your answer."),
            element("Redirect", f"{base}/twilio/voice/{token}?round={round_ + 1}", method="POST")]


def _waiting(tok: AckToken) -> list[Incident]:
    """The incidents still triggered of the bundled page this call is for (none: not a bundle)."""
    session = object_session(tok)
    members = links.bundle_incidents(session, tok) if session is not None else []
    return [i for i in members if i.status == Status.triggered.value]


def gathered(session: Session, token: str, digits: str, call_sid: str, now: datetime, base_url: str) -> str:
    """The callee pressed `digits`. 1 acknowledges, once per call however often Twilio retries."""
    if digits != "1":
        tok = links.find(session, token)
        return document(element("Say", "Sorry, that was not 1."), *_script(tok, token, now, base_url, MAX_ROUNDS))
    try:
        out = links.acknowledge(session, token, now, op_id=f"voice:{call_sid}"[:100], via="phone call")
    except links.LinkRefused as e:
        return document(element("Say", f"This alert cannot be acknowledged by phone any more. {spoken(e.message)} Goodbye."),
                    element("Hangup"))
    text = "Acknowledged. Thank you." if out.outcome in ("acknowledged", "already_acknowledged") else spoken(out.message)
    return document(element("Say", f"{text} Goodbye."), element("Hangup"))
