"""Helpers for notification tests: give people real contact methods, read what happened."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.db import Database
from app.models import ContactMethod, DeliveryAttempt, Notification, TimelineEntry, User
from tests.fakes.webpush import Subscription
from tests.helpers import post_alert


def reach(database: Database, user_id: int, *, push: Subscription | list[Subscription] | None = None,
          phone: str | None = None, email: str | None = None, keep_recording: bool = False) -> None:
    """Replace a user's contact methods with real ones (push subscriptions, a phone for SMS and
    voice, an e-mail address)."""
    subs = [push] if isinstance(push, Subscription) else (push or [])
    with database.transaction() as s:
        u = s.get(User, user_id)
        now = u.created_at
        if not keep_recording:
            u.contact_methods.clear()
        for i, sub in enumerate(subs):
            u.contact_methods.append(ContactMethod(kind="push", address=sub.endpoint, push_p256dh=sub.p256dh,
                                                   push_auth=sub.auth, label=f"phone {i + 1}", created_at=now))
        if phone:
            u.phone = phone
            u.contact_methods.append(ContactMethod(kind="sms", address=phone, label="mobile", created_at=now))
            u.contact_methods.append(ContactMethod(kind="voice", address=phone, label="mobile", created_at=now))
        if email:
            u.contact_methods.append(ContactMethod(kind="email", address=email, label="work", created_at=now))


def open_incident(client: Any, key: str, summary: str = "Disk full on web-2", dedup: str = "disk-web-2",
                  severity: str = "critical") -> int:
    r = post_alert(client, key, summary=summary, dedup=dedup, severity=severity)
    assert r.status_code == 202, r.get_json()
    return int(r.get_json()["results"][0]["incident"])


def timeline(database: Database, iid: int, kind: str | None = None) -> list[str]:
    with database.transaction() as s:
        q = select(TimelineEntry.message).where(TimelineEntry.incident_id == iid).order_by(TimelineEntry.id)
        if kind:
            q = q.where(TimelineEntry.kind == kind)
        return list(s.execute(q).scalars())


def notifications(database: Database, **where: Any) -> list[Notification]:
    with database.transaction() as s:
        q = select(Notification).order_by(Notification.id)
        for k, v in where.items():
            q = q.where(getattr(Notification, k) == v)
        return list(s.execute(q).scalars())


def attempts(database: Database, channel: str | None = None) -> list[DeliveryAttempt]:
    with database.transaction() as s:
        q = select(DeliveryAttempt).order_by(DeliveryAttempt.id)
        if channel:
            q = q.where(DeliveryAttempt.channel == channel)
        return list(s.execute(q).scalars())


def methods(database: Database, user_id: int, kind: str | None = None) -> list[ContactMethod]:
    with database.transaction() as s:
        q = select(ContactMethod).where(ContactMethod.user_id == user_id).order_by(ContactMethod.id)
        if kind:
            q = q.where(ContactMethod.kind == kind)
        return list(s.execute(q).scalars())
