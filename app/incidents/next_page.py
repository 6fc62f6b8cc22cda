"""What happens next on an incident nobody answered: "M+30: Alice Martin will be paged at 02:29".
Read-only: the step the engine will fire next, its minute since the incident began (or since
its coverage started, for a held alert), and whom it will reach (a layer resolved as at that
instant). None when nothing more will be paged (answered, resolved, or the policy is exhausted)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ..models import Incident, Status, User
from ..schedules.rosters import layer_oncall


@dataclass(frozen=True)
class NextPage:
    minute: int  # M+N
    at: datetime
    names: tuple[str, ...]  # who will be paged (may be empty: nobody on that layer then)
    nobody: tuple[str, ...]  # layers with nobody who can be paged then

    @property
    def label(self) -> str:
        return f"M+{self.minute}"

    def describe(self) -> str:
        if self.names:
            who = ", ".join(self.names[:-1]) + (" and " if len(self.names) > 1 else "") + self.names[-1]
            return f"{self.label}: {who} will be paged"
        if self.nobody:
            return f"{self.label}: nobody is on {', '.join(self.nobody)}; escalation goes on to the next step"
        return f"{self.label}: the next step fires"


def next_page(session: Session, inc: Incident) -> NextPage | None:
    if inc.status != Status.triggered.value or inc.next_escalation_at is None or inc.policy is None:
        return None
    steps = inc.policy.steps
    if not steps or inc.esc_step >= len(steps) or inc.esc_loop > inc.policy.repeat:
        return None
    at = inc.next_escalation_at
    start = inc.held_until or inc.created_at
    minute = max(0, round((at - start).total_seconds() / 60))
    names: list[str] = []
    nobody: list[str] = []
    for t in steps[inc.esc_step].targets:
        if t.kind == "user" and t.user_id is not None:
            u = session.get(User, t.user_id)
            if u is not None and u.active and u.name not in names:
                names.append(u.name)
        elif t.kind == "layer" and t.layer_id is not None:
            ids, label = layer_oncall(session, t.layer_id, at)
            if not ids:
                nobody.append(label)
            for uid in ids:
                u = session.get(User, uid)
                if u is not None and u.name not in names:
                    names.append(u.name)
    return NextPage(minute, at, tuple(names), tuple(nobody))
