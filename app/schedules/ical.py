"""Each user's shifts as an iCalendar feed, at a secret URL their phone's calendar subscribes to.

The secret is not stored: it is an HMAC of (user id, feed version) under the installation's
secret key. So the database holds nothing that opens a feed, the page can show the URL again,
and bumping the version (User.ical_version) revokes the old URL at once. Calendar apps cannot
log in, which is why the URL itself is the credential: it only ever reads one person's shifts.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from icalendar import Calendar, Event
from sqlalchemy.orm import Session

from ..models import User
from .whos_on import user_shifts

PAST = timedelta(weeks=8)
AHEAD = timedelta(weeks=26)


def _mac(secret_key: str, user_id: int, version: int) -> str:
    msg = f"vigil-ical:{user_id}:{version}".encode()
    return hmac.new(secret_key.encode(), msg, hashlib.sha256).hexdigest()[:40]


def token(secret_key: str, user: User) -> str | None:
    if user.ical_version is None:
        return None
    return f"{user.id}-{user.ical_version}-{_mac(secret_key, user.id, user.ical_version)}"


def find_user(session: Session, secret_key: str, value: str) -> User | None:
    """The active user whose current feed token this is; None for anything else."""
    parts = value.split("-")
    if len(parts) != 3 or not parts[0].isdecimal() or not parts[1].isdecimal() or len(value) > 100:
        return None
    if not 0 < int(parts[0]) <= 2**31 - 1:  # beyond the ids' integers: nobody (not an overflow)
        return None
    user = session.get(User, int(parts[0]))
    if user is None or not user.active or user.ical_version is None or str(user.ical_version) != parts[1]:
        return None
    expected = _mac(secret_key, user.id, user.ical_version)
    return user if hmac.compare_digest(expected, parts[2]) else None


def regenerate(session: Session, user: User) -> None:
    """A new secret URL (the first one, or a replacement: the old one stops working)."""
    user.ical_version = (user.ical_version or 0) + 1
    session.flush()


def disable(session: Session, user: User) -> None:
    user.ical_version = None
    session.flush()


def feed(session: Session, user: User, now: datetime, base_url: str) -> bytes:
    """The user's shifts from 8 weeks back to 26 weeks ahead, one event per shift.

    UIDs are stable (layer, start, person): a calendar app refreshing the feed updates an event
    in place instead of duplicating it, and a shift that moved becomes a new event."""
    host = urlsplit(base_url).hostname or "vigil"
    cal = Calendar()
    cal.add("prodid", "-//Vigil//On-call shifts//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"Vigil: {user.name} on call")
    cal.add("x-published-ttl", "PT1H")  # how often subscribed calendars should refresh
    for roster, shift in user_shifts(session, user.id, now - PAST, now + AHEAD):
        layer = roster.layer_names.get(shift.layer_id, "layer")
        ev = Event()
        ev.add("uid", f"shift-{shift.layer_id}-{int(shift.start.timestamp())}-{user.id}@{host}")
        ev.add("dtstamp", now)
        ev.add("dtstart", shift.start)
        ev.add("dtend", shift.end)
        ev.add("summary", f"On call: {layer} ({roster.name})")
        how = "an override" if shift.source == "override" else "the rotation"
        ev.add("description", f"You hold {layer} on {roster.name}, from {how}.\n{base_url.rstrip('/')}/schedules/{roster.id}")
        ev.add("url", f"{base_url.rstrip('/')}/schedules/{roster.id}")
        ev.add("transp", "TRANSPARENT")  # on call is not busy: it must not block meetings
        cal.add_component(ev)
    return cal.to_ical()
