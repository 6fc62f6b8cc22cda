"""Load per engineer for a period, so managers can spread it: incidents handled (acknowledged
or held a responder slot), pages received (one per escalation step that reached them, whatever
the number of channels), night-time interruptions (pages between 22:00 and 07:00 in the
engineer's own zone), weekend interruptions (Saturday and Sunday in their zone), and time spent
on incidents (from their acknowledgement to the resolution).

SQL counts pages per engineer and UTC quarter hour; each is then placed on the engineer's clock,
so a page at 21:30 UTC is a night page for someone in Paris in winter (22:30) and not in London,
and one at 16:40 UTC is one for someone in India (22:10).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from ..models import Incident, Notification, Role, User
from . import sql

NIGHT_START, NIGHT_END = 22, 7


@dataclass
class Load:
    user_id: int
    name: str
    timezone: str
    handled: int = 0
    pages: int = 0
    night: int = 0
    weekend: int = 0
    weekend_day: int = 0  # weekend pages outside the night (so day + night + weekend_day = pages)
    seconds_on_incidents: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def is_night(local: datetime) -> bool:
    return local.hour >= NIGHT_START or local.hour < NIGHT_END


def compute(session: Session, *, start: datetime | None, end: datetime | None, now: datetime,
            visible: set[int] | None = None) -> list[Load]:
    d = sql.dialect(session)
    people = {u.id: u for u in session.execute(
        select(User).where(User.role.in_((Role.engineer.value, Role.manager.value, Role.admin.value)))).scalars()}
    out: dict[int, Load] = {}

    def row(uid: int) -> Load | None:
        u = people.get(uid)
        if u is None:
            return None
        if uid not in out:
            out[uid] = Load(uid, u.name, u.timezone)
        return out[uid]

    scan = sql.reads_most(session, start, end)
    # Incidents handled: acknowledged it, or held a responder slot.
    who = union_all(*[sql.restrict(select(Incident.id.label("i"), col.label("u")).where(col.is_not(None)),
                                   start, end, visible, scan=scan)
                      for col in (Incident.acknowledged_by_id, Incident.slot1_user_id, Incident.slot2_user_id)]
                    ).subquery()
    for uid, n in session.execute(select(who.c.u, func.count(func.distinct(who.c.i))).group_by(who.c.u)):
        if (r := row(uid)) is not None:
            r.handled = int(n)
    # Time on incidents: from their acknowledgement to the resolution.
    spent = sql.seconds_between(d, Incident.resolved_at, Incident.acknowledged_at)
    q = sql.restrict(select(Incident.acknowledged_by_id, func.sum(spent))
                     .where(Incident.acknowledged_by_id.is_not(None), Incident.resolved_at.is_not(None),
                            Incident.resolved_at > Incident.acknowledged_at)
                     .group_by(Incident.acknowledged_by_id), start, end, visible, scan=scan)
    for uid, secs in session.execute(q):
        if (r := row(uid)) is not None:
            r.seconds_on_incidents = round(float(secs or 0), 3)
    # Pages: per person and UTC quarter hour, then on the person's clock.
    quarter = sql.quarter_hour(d, Notification.created_at).label("h")
    q = (select(Notification.user_id, quarter, func.count(func.distinct(Notification.firing_id)))
         .where(Notification.purpose == "page", Notification.user_id.is_not(None),
                Notification.firing_id.is_not(None)))
    if start is not None:
        q = q.where(Notification.created_at >= start)
    if end is not None:
        q = q.where(Notification.created_at < end)
    if visible is not None:
        q = q.where(Notification.incident_id.in_(select(Incident.id).where(Incident.client_id.in_(sorted(visible)))))
    for uid, h, n in session.execute(q.group_by(Notification.user_id, quarter)):
        r = row(uid)
        if r is None:
            continue
        try:
            tz = ZoneInfo(r.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            tz = ZoneInfo("UTC")
        local = sql.quarter_start(h).astimezone(tz)
        r.pages += n
        night, weekend = is_night(local), local.weekday() >= 5
        r.night += n if night else 0
        r.weekend += n if weekend else 0
        r.weekend_day += n if weekend and not night else 0
    return sorted(out.values(), key=lambda r: (-r.pages, -r.handled, r.name))
