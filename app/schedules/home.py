"""The engineer's home screen, "On call now": my shift now and next, who is on with me, my open
incidents, and the open slots I could take; "I'm ready" for a shift that started, the hand-off
notes left for me (and the one I can leave), and a phone that could not be reached. Composed from the schedules and incidents views of
the world; read-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import access
from ..models import OPEN_STATUSES, ContactMethod, Incident, Role, Status, User
from . import handoff_notes, open_slots, readiness, whos_on


@dataclass
class Home:
    current: list[dict[str, Any]] = field(default_factory=list)  # my shifts holding now
    upcoming: list[dict[str, Any]] = field(default_factory=list)  # my next shifts (a few)
    with_me: list[dict[str, Any]] = field(default_factory=list)  # the others on call now, in my pools
    mine: list[Incident] = field(default_factory=list)  # open incidents I acknowledged or hold a slot of
    waiting: list[Incident] = field(default_factory=list)  # triggered, nobody on them yet (that I can see)
    open_slots: int = 0
    push_devices: int = 0
    ready_needed: list[Any] = field(default_factory=list)  # my shift starts awaiting "I'm ready"
    notes: list[Any] = field(default_factory=list)  # hand-off notes left for my shifts now: (label, note)
    holding: list[dict[str, Any]] = field(default_factory=list)  # layers I hold now (to leave a note)
    phone_problem: str | None = None  # why my phone may not wake me, before my next shift


def build(session: Session, user: User, now: datetime, unreachable_days: int = 7) -> Home:
    home = Home()
    if not user.has_role(Role.client_viewer):
        shifts = whos_on.my_shifts(session, user, now, 2)["shifts"]
        home.current = [s for s in shifts if s["start"] <= now.isoformat()]
        home.upcoming = [s for s in shifts if s["start"] > now.isoformat()][:3]
        mine_layers = {(s["schedule"]["id"], s["layer"]["id"]) for s in home.current}
        board = whos_on.oncall(session, user, now)
        for sched in board["schedules"]:
            for layer in sched["layers"]:
                holder = layer["on_call"]
                if holder and holder["user"] and holder["user"]["id"] != user.id and (sched["id"], layer["id"]) not in mine_layers:
                    home.with_me.append({"schedule": sched["name"], "layer": layer["name"],
                                         "name": holder["user"]["name"], "end": holder["end"]})
        home.open_slots = sum(1 for s in open_slots.open_slots(session, user, now, 4) if s.eligible)
        home.ready_needed = readiness.waiting_for(session, user.id, now)
        home.notes = handoff_notes.for_my_shifts(session, user.id, now)
        home.holding = handoff_notes.holding(session, user.id, now)
        if home.current or home.upcoming:
            home.phone_problem = readiness.phone_problem(session, user.id, now, unreachable_days)
        home.push_devices = len(session.execute(
            select(ContactMethod.id).where(ContactMethod.user_id == user.id, ContactMethod.kind == "push",
                                           ContactMethod.enabled)).all())
    rows = access.visible_incidents(session, user, OPEN_STATUSES, limit=100)
    home.mine = [i for i in rows if user.id in (i.acknowledged_by_id, i.slot1_user_id, i.slot2_user_id)]
    home.waiting = [i for i in rows if i.status == Status.triggered.value and i not in home.mine]
    return home



