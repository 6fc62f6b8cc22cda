"""What the SMS/voice provider reports after accepting a message: a call nobody answered, an SMS
the network could not deliver. Failures go on the incident's timeline (the other channels and the
escalation are already under way; this tells the responders which one did not land)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, joinedload

from .. import incidents
from ..models import Notification

WORDS = {
    "no-answer": "not answered", "busy": "line busy", "failed": "failed", "canceled": "cancelled",
    "undelivered": "not delivered by the network",
}
CHANNEL = {"sms": "SMS", "voice": "Voice call"}


def report(session: Session, notification_id: int, sid: str, status: str, error_code: str, now: datetime) -> bool:
    """Record a final failure status; True when it was noted. Other statuses need nothing."""
    n = session.get(Notification, notification_id, options=[joinedload(Notification.user)])
    if n is None or n.incident_id is None or status not in WORDS:
        return False
    if n.provider_id and sid and n.provider_id != sid:  # a report about another message
        return False
    detail = WORDS[status] + (f", error {error_code}" if error_code else "")
    # A bundled page (an alert storm) reports on each of its incidents.
    for incident_id in incidents.paged_incidents(session, n):
        incidents.note_delivery(session, incident_id, "delivery_report",
                                f"{CHANNEL.get(n.kind, n.kind)} to {n.user.name}: {detail}.", now,
                                notification=n.id, channel=n.kind, status=status)
    return True
