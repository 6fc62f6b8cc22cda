"""Creating and changing schedules and their layers: validation on the way in, and the rule
that a rotation change never rewrites the past.

A layer's rotation is kept as versions (models.LayerRotation). A change applies from now - or
from the new rotation's first hand-off when that is later, the current rotation running until
then - and every earlier version stays as it was, so "who was on call last month" and the
allowances paid for it do not move when the rotation is edited today.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..access import require_manager
from ..db import clean_text, is_id
from ..errors import ActionError
from ..live import events
from ..models import (
    LENGTHS,
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
    LayerRotation,
    Pool,
    PoolMember,
    RotationMember,
    Schedule,
    ScheduleLayer,
    User,
)
from .coverage import Coverage, local_to_utc, parse_hhmm, zone

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_TURNS = 20
MAX_CUSTOM_HOURS = 24 * 28


def _bad(message: str) -> ActionError:
    return ActionError(message, 400)


def _zone_name(value: Any) -> str:
    try:
        zone(value)
    except ValueError:
        raise _bad(f"unknown time zone {value!r} (use a name like Europe/Paris)") from None
    return str(value)


@dataclass(frozen=True)
class RotationSpec:
    """A rotation as a manager describes it: turns in order (None = an open slot), the length,
    and the first hand-off (a local date and time in `timezone`)."""

    members: tuple[int | None, ...]
    length: str
    length_hours: int | None
    start: datetime  # the first hand-off, UTC
    timezone: str

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> RotationSpec:
        """From a form or JSON: members (user ids; None for an open slot), length
        (weekly|daily|custom), length_hours (custom), handoff_day (0 = Monday; weekly),
        handoff_time (HH:MM), start_date (YYYY-MM-DD: the first hand-off is on or after it),
        timezone."""
        members = tuple(data.get("members") or ())
        if not 1 <= len(members) <= MAX_TURNS:
            raise _bad(f"a rotation needs between 1 and {MAX_TURNS} turns")
        if any(m is not None and not is_id(m) for m in members):
            raise _bad("turns must be user ids, or empty for an open slot")
        length = data.get("length", "weekly")
        if length not in LENGTHS:
            raise _bad(f"length must be one of {', '.join(LENGTHS)}")
        hours = None
        if length == "custom":
            try:
                hours = int(data.get("length_hours") or 0)
            except (TypeError, ValueError):
                hours = 0
            if not 1 <= hours <= MAX_CUSTOM_HOURS:
                raise _bad(f"a custom length is between 1 and {MAX_CUSTOM_HOURS} hours")
        tz_name = _zone_name(data.get("timezone") or "Europe/Paris")
        try:
            minutes = parse_hhmm(data.get("handoff_time"), "the hand-off time")
            first = date.fromisoformat(str(data.get("start_date", "")))
        except ValueError as e:
            raise _bad(str(e) if "hand-off" in str(e) else "start_date must be a date (YYYY-MM-DD)") from None
        day = first
        if length == "weekly":
            try:
                weekday = int(data.get("handoff_day", first.weekday()))
            except (TypeError, ValueError):
                weekday = -1
            if not 0 <= weekday <= 6:
                raise _bad("handoff_day must be 0 (Monday) to 6 (Sunday)")
            day += timedelta(days=(weekday - first.weekday()) % 7)
        wall = time(minutes // 60, minutes % 60)
        tz = zone(tz_name)
        start = local_to_utc(day, wall, tz)
        if length != "custom":
            # The hand-off time does not exist on that day (the spring-forward night): the
            # rotation would keep the end of the DST gap as its hand-off time for ever. Start
            # one period later instead, on a day where the wall clock shows the time asked for.
            step = timedelta(days=7 if length == "weekly" else 1)
            while start.astimezone(tz).time() != wall:
                day += step
                start = local_to_utc(day, wall, tz)
        return cls(members, length, hours, start, tz_name)

    def same_as(self, v: LayerRotation) -> bool:
        return (self.members, self.length, self.length_hours, self.start, self.timezone) == (
            tuple(m.user_id for m in v.members), v.length, v.length_hours, v.start, v.timezone)


def describe(v: LayerRotation) -> str:
    """"weekly, Mondays at 09:00 (Europe/Paris)" - how a rotation reads on a screen."""
    local = v.start.astimezone(zone(v.timezone))
    when = local.strftime("%H:%M")
    if v.length == "weekly":
        return f"weekly, {WEEKDAYS[local.weekday()]}s at {when} ({v.timezone})"
    if v.length == "daily":
        return f"daily at {when} ({v.timezone})"
    return f"every {v.length_hours} h from {local.strftime('%Y-%m-%d %H:%M')} ({v.timezone})"


def form_values(v: LayerRotation) -> dict[str, Any]:
    """The fields of RotationSpec.parse that describe an existing version (to edit it)."""
    local = v.start.astimezone(zone(v.timezone))
    return {"members": [m.user_id for m in v.members], "length": v.length, "length_hours": v.length_hours,
            "handoff_day": local.weekday(), "handoff_time": local.strftime("%H:%M"),
            "start_date": local.date().isoformat(), "timezone": v.timezone}


def coverage_spec(value: Any) -> dict[str, Any] | None:
    """A stored coverage dict (None = 24/7), validated."""
    if value is None or value == {} or (isinstance(value, Mapping) and value.get("kind") == "always"):
        return None
    try:
        return Coverage.from_dict(value).to_dict()
    except (ValueError, TypeError) as e:
        raise _bad(str(e)) from None


# --- schedules ------------------------------------------------------------------------------------


def save_schedule(session: Session, actor: User, schedule_id: int | None, *, name: Any, pool_id: Any,
                  timezone: Any, coverage: Any, now: datetime) -> Schedule:
    require_manager(actor)
    name = clean_text(name, 1000)
    if not name or len(name) > 200:
        raise _bad("a schedule needs a name (up to 200 characters)")
    pool = session.get(Pool, pool_id) if is_id(pool_id) else None
    if pool is None:
        raise _bad("choose the pool this schedule staffs")
    tz = _zone_name(timezone or "Europe/Paris")
    spec = coverage_spec(coverage)
    clash = session.execute(select(Schedule.id).where(Schedule.name == name)).scalar()
    if clash is not None and clash != schedule_id:
        raise ActionError(f"a schedule named {name!r} already exists", 409)
    if schedule_id is None:
        row = Schedule(name=name, pool_id=pool.id, timezone=tz, coverage=spec, created_at=now)
        session.add(row)
    else:
        found = session.get(Schedule, schedule_id) if is_id(schedule_id) else None
        if found is None:
            raise ActionError("schedule not found", 404)
        row = found
        row.name, row.pool_id, row.timezone, row.coverage = name, pool.id, tz, spec
    session.flush()
    _changed(session, row, now)
    return row


def delete_schedule(session: Session, actor: User, schedule_id: int, now: datetime) -> None:
    require_manager(actor)
    row = session.get(Schedule, schedule_id) if is_id(schedule_id) else None
    if row is None:
        raise ActionError("schedule not found", 404)
    for layer in row.layers:
        _refuse_if_paged(session, layer)
    session.delete(row)
    session.flush()


# --- layers ----------------------------------------------------------------------------------------


def save_layer(session: Session, actor: User, schedule_id: int, layer_id: int | None, *, name: Any,
               rotation: RotationSpec, now: datetime) -> ScheduleLayer:
    """Create a layer, or rename it and change its rotation from now on (see the module doc)."""
    require_manager(actor)
    schedule = session.get(Schedule, schedule_id) if is_id(schedule_id) else None
    if schedule is None:
        raise ActionError("schedule not found", 404)
    name = clean_text(name, 1000)
    if not name or len(name) > 100:
        raise _bad("a layer needs a name (up to 100 characters), e.g. Primary")
    if any(x.name == name and x.id != layer_id for x in schedule.layers):
        raise ActionError(f"{schedule.name} already has a layer named {name!r}", 409)
    _check_members(session, schedule, rotation.members)
    if layer_id is None:
        layer = ScheduleLayer(name=name, position=len(schedule.layers), created_at=now)
        schedule.layers.append(layer)
        session.flush()
    else:
        found = session.get(ScheduleLayer, layer_id) if is_id(layer_id) else None
        if found is None or found.schedule_id != schedule.id:
            raise ActionError("layer not found", 404)
        layer = found
        layer.name = name
    _new_version(session, layer, rotation, actor, now)
    _changed(session, schedule, now)
    return layer


def _new_version(session: Session, layer: ScheduleLayer, spec: RotationSpec, actor: User, now: datetime) -> None:
    versions = sorted(layer.rotations, key=lambda v: v.effective_from)
    if versions and spec.same_as(versions[-1]):
        return
    begun = [v for v in versions if v.effective_from <= now]
    # A version that has not applied yet (a rotation planned for later) is simply replaced;
    # one that has begun is kept for the past, and the new one takes over from now - or from
    # its own first hand-off if that is later. Without a begun version the layer begins then.
    effective = max(now, spec.start) if begun else spec.start
    for v in versions:
        if v not in begun or v.effective_from == effective:
            layer.rotations.remove(v)
    session.flush()  # the unique (layer, effective_from) must not see the replaced row
    version = LayerRotation(effective_from=effective, start=spec.start, length=spec.length,
                            length_hours=spec.length_hours, timezone=spec.timezone, created_at=now,
                            created_by_id=actor.id)
    version.members = [RotationMember(position=i, user_id=uid) for i, uid in enumerate(spec.members)]
    layer.rotations.append(version)
    session.flush()


def _check_members(session: Session, schedule: Schedule, members: tuple[int | None, ...]) -> None:
    wanted = {m for m in members if m is not None}
    if not wanted:
        return
    ok = set(session.execute(
        select(User.id).join(PoolMember, PoolMember.user_id == User.id)
        .where(PoolMember.pool_id == schedule.pool_id, User.id.in_(wanted), User.active)
    ).scalars())
    if wanted - ok:
        raise _bad(f"every turn must be an active engineer of {schedule.pool.name} (or an open slot)")


def delete_layer(session: Session, actor: User, layer_id: int, now: datetime) -> None:
    require_manager(actor)
    layer = session.get(ScheduleLayer, layer_id) if is_id(layer_id) else None
    if layer is None:
        raise ActionError("layer not found", 404)
    _refuse_if_paged(session, layer)
    schedule = layer.schedule
    schedule.layers.remove(layer)
    session.flush()
    _changed(session, schedule, now)


def _refuse_if_paged(session: Session, layer: ScheduleLayer) -> None:
    used = session.execute(
        select(EscalationPolicy.name).join(EscalationStep, EscalationStep.policy_id == EscalationPolicy.id)
        .join(EscalationTarget, EscalationTarget.step_id == EscalationStep.id)
        .where(EscalationTarget.layer_id == layer.id).distinct()
    ).scalars().all()
    if used:
        raise ActionError(f"{layer.name} is paged by {', '.join(sorted(used))}: change those policies first", 409)


def _changed(session: Session, schedule: Schedule, now: datetime) -> None:
    events.publish(session, "schedule.changed", now=now, data={"schedule": {"id": schedule.id, "name": schedule.name}})
