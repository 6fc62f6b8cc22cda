"""Which contact methods a page goes to: the user's notification rules for the incident's
urgency, applied to their enabled contact methods. Writes pending Notification rows only; the
engine sends them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ContactMethod, Incident, Notification, NotificationRule, User

# Used when a user has no rules for an urgency: high urgency reaches every channel at once,
# as our users promise their clients; low urgency stays quiet (push and e-mail).
DEFAULT_RULES = {
    "high": (("push", 0), ("sms", 0), ("voice", 0), ("email", 0)),
    "low": (("push", 0), ("email", 0)),
}


@dataclass(frozen=True)
class Recipient:
    """Who a page is for, and how to reach them: plain data, safe to keep across sessions."""

    id: int
    name: str
    rules: tuple[tuple[str, str, int], ...]  # (urgency, channel kind, delay minutes)
    methods: tuple[tuple[int, str], ...]  # enabled contact methods: (id, kind)


def rules_for(person: Recipient, urgency: str) -> list[tuple[str, int]]:
    own = [(kind, delay) for u, kind, delay in person.rules if u == urgency]
    return own or list(DEFAULT_RULES.get(urgency, DEFAULT_RULES["high"]))


def default_rules(user: User) -> list[NotificationRule]:
    return [
        NotificationRule(user=user, urgency=urgency, kind=kind, delay_minutes=delay)
        for urgency, rules in DEFAULT_RULES.items()
        for kind, delay in rules
    ]


def plan_pages(
    session: Session, inc: Incident, firing_id: int, people: list[Recipient], now: datetime, purpose: str = "page"
) -> list[Notification]:
    """purpose "page": the escalation's own pages, cancelled by an acknowledgement; "help": an
    engineer who already acknowledged escalated by hand, so only a resolution cancels them."""
    planned: list[Notification] = []
    for person in people:
        delays = dict(rules_for(person, inc.urgency))
        for method_id, kind in person.methods:
            # The recording channel (tests, demos) ignores rules: it records every page.
            delay = 0 if kind == "recording" else delays.get(kind)
            if delay is None:
                continue
            n = Notification(
                incident_id=inc.id, firing_id=firing_id, user_id=person.id,
                contact_method_id=method_id, kind=kind, purpose=purpose,
                status="pending", not_before=now + timedelta(minutes=delay), created_at=now,
            )
            session.add(n)
            planned.append(n)
    return planned


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
