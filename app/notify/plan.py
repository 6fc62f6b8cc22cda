"""Which contact methods a page goes to: the user's notification rules for the incident's
urgency and for the time of day in the user's own zone, applied to their enabled contact
methods. Writes pending Notification rows only; the engine sends them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ContactMethod, Notification, NotificationRule, User

# Used when a user has no rules for an urgency: high urgency reaches every channel at once,
# as our users promise their clients; low urgency stays quiet (push and e-mail).
DEFAULT_RULES = {
    "high": (("push", 0), ("sms", 0), ("voice", 0), ("email", 0)),
    "low": (("push", 0), ("email", 0)),
}
DAY_MINUTES = 24 * 60

# (urgency, channel kind, delay minutes, window start, window end): the window in minutes after
# local midnight, None for all day.
Rule = tuple[str, str, int, int | None, int | None]


@dataclass(frozen=True)
class Recipient:
    """Who a page is for, and how to reach them: plain data, safe to keep across sessions."""

    id: int
    name: str
    rules: tuple[Rule, ...]
    methods: tuple[tuple[int, str], ...]  # enabled contact methods: (id, kind)
    tz: str = "UTC"  # the person's own zone: their rules' windows are read on their clock


def in_window(minute: int, start: int, end: int) -> bool:
    """Whether a local minute of the day falls in [start, end); a window whose end is not after
    its start runs past midnight (22:00-08:00)."""
    return start <= minute < end if start < end else minute >= start or minute < end


def local_minute(at: datetime, tz: str) -> int:
    """Minutes after local midnight at an instant. Read from the instant, never the other way
    round, so a daylight-saving change needs no special case: at 22:30 CEST or 22:30 CET it is
    22:30, and a wall time that does not exist that night simply never comes."""
    try:
        zone = ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = at.astimezone(zone)
    return local.hour * 60 + local.minute


def rules_at(rules: Iterable[Rule], urgency: str, at: datetime, tz: str) -> list[tuple[str, int]]:
    """The (channel, delay) pairs in force for `urgency` at the instant `at`: the rules whose
    window holds the person's local time; else their all-day rules; else the defaults (a window
    left uncovered never silences a page)."""
    own = [r for r in rules if r[0] == urgency]
    minute = local_minute(at, tz)
    windowed = [(k, d) for _, k, d, a, b in own if a is not None and b is not None and in_window(minute, a, b)]
    if windowed:
        return windowed
    all_day = [(k, d) for _, k, d, a, b in own if a is None or b is None]
    return all_day or list(DEFAULT_RULES.get(urgency, DEFAULT_RULES["high"]))


def rules_for(person: Recipient, urgency: str, at: datetime) -> list[tuple[str, int]]:
    return rules_at(person.rules, urgency, at, person.tz)


def recipient(user: User) -> Recipient:
    return Recipient(
        user.id, user.name,
        tuple((r.urgency, r.kind, r.delay_minutes, r.window_start, r.window_end) for r in user.notification_rules),
        tuple((m.id, m.kind) for m in user.contact_methods if m.enabled),
        user.timezone or "UTC",
    )


def default_rules(user: User) -> list[NotificationRule]:
    return [
        NotificationRule(user=user, urgency=urgency, kind=kind, delay_minutes=delay)
        for urgency, rules in DEFAULT_RULES.items()
        for kind, delay in rules
    ]


def page_rows(
    incident_id: int, urgency: str, firing_id: int, people: list[Recipient], now: datetime, purpose: str = "page"
) -> list[dict[str, Any]]:
    """The pending pages of a step that fires now, as rows of the notifications table (no ORM objects: an
    alert storm plans hundreds of pages a second, a chunk's in one statement). purpose "page":
    the escalation's own pages, cancelled by an acknowledgement; "help": an engineer who already
    acknowledged escalated by hand, so only a resolution cancels them. A person with no page
    here (no enabled method) is unreachable."""
    rows: list[dict[str, Any]] = []
    for person in people:
        # The rules in force when the step fires (the night's, at 03:00 in their zone).
        delays = dict(rules_for(person, urgency, now))
        for method_id, kind in person.methods:
            # The recording channel (tests, demos) ignores rules: it records every page.
            delay = 0 if kind == "recording" else delays.get(kind)
            if delay is None:
                continue
            rows.append({
                "incident_id": incident_id, "firing_id": firing_id, "user_id": person.id,
                "contact_method_id": method_id, "kind": kind, "purpose": purpose, "status": "pending",
                "not_before": now + timedelta(minutes=delay), "created_at": now, "attempts": 0,
            })
    return rows


def bundles_at(count: int, at: int) -> bool:
    """Whether `count` incidents of one look make a bundle (config PAGE_BUNDLE_AT: `at`; 0: never)."""
    return at > 0 and count >= max(2, at)


def bundle(pages: list[dict[str, Any]], at: int) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """In an alert storm one look of the engine fires steps for dozens of incidents at once. Of
    its planned pages (page_rows of several incidents), the escalation's ("page", not "help") due
    now that go to the same contact method for `at` incidents or more go as one page listing them
    all (one push, one text, one call: "12 incidents need a response"), and acknowledging it
    acknowledges each of them still waiting (config PAGE_BUNDLE_AT; 0: never). Returns the pages
    to write (a bundle's first page stands for it) and the bundles (every page each stands for,
    its first included, in the look's order)."""
    groups: dict[int, list[dict[str, Any]]] = {}
    for p in pages:
        if p["purpose"] == "page" and p["not_before"] <= p["created_at"] and p["contact_method_id"] is not None:
            groups.setdefault(p["contact_method_id"], []).append(p)
    bundles = [g for g in groups.values() if bundles_at(len({p["incident_id"] for p in g}), at)]
    if not bundles:
        return pages, []
    stood_for = {id(p) for g in bundles for p in g[1:]}
    return [p for p in pages if id(p) not in stood_for], bundles


# A phone that rings or buzzes for a storm does so once in a while, not at every look of the
# engine: a bundle for a call or an SMS waits until the last one to that number is this old
# (config STORM_PAGE_PACE_SECONDS), and the looks meanwhile add their incidents to it.
PACED = ("voice", "sms")


def next_ring(last: datetime | None, now: datetime, every: timedelta) -> datetime:
    """When a storm's next bundled page may ring a phone last rung (or due to ring) at `last`:
    now, or `every` after it."""
    return now if last is None or last + every <= now else last + every


# A warning is not an emergency: nobody is woken by a call or an SMS for a gap two weeks away.
NOTICE_KINDS = ("push", "email", "recording")


def plan_notice(session: Session, text: str, now: datetime) -> list[Notification]:
    """Tell every active manager and admin something (e.g. a coming coverage gap) on their quiet
    channels. Pending rows only: the engine sends them."""
    staff = select(User.id).where(User.role.in_(("manager", "admin")), User.active)
    methods = session.execute(
        select(ContactMethod).where(ContactMethod.user_id.in_(staff), ContactMethod.enabled,
                                    ContactMethod.kind.in_(NOTICE_KINDS))
    ).scalars().all()
    planned = [
        Notification(user_id=m.user_id, contact_method_id=m.id, kind=m.kind, purpose="warning", message=text,
                     status="pending", not_before=now, created_at=now)
        for m in methods
    ]
    session.add_all(planned)
    return planned


def plan_message(
    session: Session, user_ids: Iterable[int], text: str, now: datetime, *, purpose: str = "notice",
    incident_id: int | None = None, kinds: Iterable[str] | None = NOTICE_KINDS, once: str | None = None,
) -> list[Notification]:
    """Tell these users something (a hand-over nobody at the client answered, a shift start
    not confirmed) on their enabled methods of `kinds` (None: every kind their high-urgency
    rules use at `now`, at once). `once`: a key made unique per contact method (the backstop of
    exactly once). Pending rows only: the engine sends them."""
    users = session.execute(select(User).where(User.id.in_(set(user_ids)), User.active)).scalars().all()
    planned = []
    for u in users:
        wanted = set(kinds) if kinds is not None else {k for k, _ in rules_for(recipient(u), "high", now)}
        for m in u.contact_methods:
            if m.enabled and (m.kind in wanted or m.kind == "recording"):
                planned.append(Notification(
                    user_id=u.id, contact_method_id=m.id, kind=m.kind, purpose=purpose, message=text,
                    incident_id=incident_id, status="pending", not_before=now, created_at=now,
                    once_key=f"{once}:{m.id}" if once else None))
    session.add_all(planned)
    return planned


def staff_ids(session: Session) -> list[int]:
    """Every active manager and admin."""
    return list(session.execute(select(User.id).where(User.role.in_(("manager", "admin")), User.active)).scalars())
