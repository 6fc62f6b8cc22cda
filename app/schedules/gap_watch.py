"""The engine's look-ahead for coverage gaps: a covered stretch of a layer where nobody can be
paged (an unclaimed open slot, or a deactivated holder) within the next days. Managers are
warned once per gap: a notification on their quiet channels (push, e-mail), an event on the bus
(the PWA shows it live to managers and admins) and a
ScheduleWarning row, unique per (layer, start), so neither a restart nor a second engine warns
twice; the schedules page lists the same gaps.

`warn` is one of the engine's periodic jobs (engine/jobs.py): every `SCHEDULE_CHECK_SECONDS` of
clock time, it looks `SCHEDULE_WARN_DAYS` ahead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..live import events
from ..models import ScheduleWarning
from ..notify.plan import plan_notice
from .open_slots import gaps

_T = ScheduleWarning.__table__
_INSERT = {
    # Two engines may find the same gap at once: the unique (layer, start) keeps one warning,
    # and only the engine whose row went in publishes it.
    "postgresql": pg_insert(_T).on_conflict_do_nothing(index_elements=["layer_id", "starts_at"]).returning(_T.c.id),
    "sqlite": sqlite_insert(_T).on_conflict_do_nothing(index_elements=["layer_id", "starts_at"]).returning(_T.c.id),
}


def message(gap: dict[str, Any]) -> str:
    tz = gap["tz"]
    zone = ZoneInfo(tz)
    a, b = gap["start"].astimezone(zone), gap["end"].astimezone(zone)
    span = f"{a:%a %d %b %H:%M} to {b:%a %d %b %H:%M} ({tz})"
    if gap["kind"] == "open_slot":
        return f"Nobody is on call for {gap['label']} from {span}: an unclaimed open slot."
    return f"{gap['holder']['name']} holds {gap['label']} from {span} but is deactivated: nobody can be paged."


def warn(session: Session, now: datetime, ahead: timedelta) -> int:
    """Record and announce the gaps of [now, now + ahead) not announced before; how many."""
    stmt = _INSERT[session.get_bind().dialect.name]
    done = 0
    for gap in gaps(session, now, now + ahead):
        text = message(gap)
        new = session.connection().execute(stmt, {
            "layer_id": gap["layer"]["id"], "starts_at": gap["start"], "ends_at": gap["end"],
            "message": text, "warned_at": now,
        }).scalar()
        if new is None:
            continue
        done += 1
        plan_notice(session, text, now)
        events.publish(session, "schedule.gap", now=now, data={
            "message": text, "kind": gap["kind"], "schedule": gap["schedule"], "layer": gap["layer"],
            "start": gap["start"].isoformat(), "end": gap["end"].isoformat(),
        })
    return done
