"""Every shift starts ready: at each shift start the incoming engineer gets a hand-off
notification on every channel their rules use (the open incidents of their pools, the last
shift's notes, and "I'm ready"); a start not confirmed in time is reported to the managers (and,
as the team chooses, to the outgoing engineer, who stays responsible until then); and a phone
that could not be reached lately is flagged to its owner and to the managers before the shift.

`run` is one of the engine's periodic jobs (engine/jobs.py). Every (layer, start, engineer) has
one ShiftStart row, unique, and each thing said about it is a compare-and-set on that row
(`notified_at`, `unreachable_warned_at`, `reported_at` from NULL to now), so neither a restart
nor a second engine says anything twice, and an engine down for a few minutes catches up.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..errors import ActionError
from ..live import events
from ..models import (
    OPEN_STATUSES,
    Client,
    ContactMethod,
    Incident,
    Notification,
    ShiftStart,
    User,
)
from ..notify import onetime
from ..notify.plan import plan_message, staff_ids
from .handoff_notes import notes_for
from .rosters import load, pieces_around

PHONE_KINDS = ("push", "sms", "voice", "recording")  # what wakes a phone (recording: tests, demos)
_T = ShiftStart.__table__
_INSERT = {
    # Two engines may find the same shift start at once: the unique (layer, start, user) keeps one.
    "postgresql": pg_insert(_T).on_conflict_do_nothing(index_elements=["layer_id", "starts_at", "user_id"]),
    "sqlite": sqlite_insert(_T).on_conflict_do_nothing(index_elements=["layer_id", "starts_at", "user_id"]),
}


@dataclass(frozen=True)
class Settings:
    confirm: timedelta  # "I'm ready" expected within this of the start
    tell_outgoing: bool  # the outgoing engineer is told too when it is not
    unreachable_days: int  # a phone nothing reached in this many days is flagged...
    warn_ahead: timedelta  # ...this long before the shift
    catch_up: timedelta  # a start this far in the past is still announced (an engine was down)

    @classmethod
    def of(cls, config: dict[str, Any]) -> Settings:
        confirm = timedelta(minutes=float(config.get("HANDOFF_CONFIRM_MINUTES", 15)))
        return cls(confirm, _flag(config.get("HANDOFF_TELL_OUTGOING", True)),
                   int(config.get("UNREACHABLE_DAYS", 7)),
                   timedelta(hours=float(config.get("UNREACHABLE_WARN_HOURS", 24))), confirm)


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Found:
    """A shift start computed from the schedules."""

    schedule_id: int
    layer_id: int
    user_id: int
    previous_user_id: int | None
    start: datetime
    end: datetime
    label: str
    pool_id: int
    tz: str


def starts(session: Session, start: datetime, end: datetime) -> list[Found]:
    """Every engineer starting a shift in [start, end), with who held the layer before. A piece
    that continues the same person's previous one (a one-person rotation's next turn) is no
    start; nor is an open slot (the gap warnings cover those)."""
    out = []
    for r in load(session, start - timedelta(days=8), end + timedelta(days=8)):
        by_layer: dict[int, list[Any]] = defaultdict(list)
        for p in pieces_around(r, start - timedelta(minutes=1), end):
            by_layer[p.layer_id].append(p)
        for layer_id, pieces in by_layer.items():
            ending = {p.end: p for p in pieces}
            for p in pieces:
                if p.user_id is None or not start <= p.start < end:
                    continue
                before = ending.get(p.start)
                if before is not None and before.user_id == p.user_id:
                    continue
                out.append(Found(r.id, layer_id, p.user_id, before.user_id if before else None, p.start, p.end,
                                 r.label(layer_id), r.pool_id, r.tz))
    return out


def run(session: Session, now: datetime, settings: Settings) -> int:
    """The engine's job: record the shift starts around now, flag unreachable phones of the
    coming ones, announce those that started, report those not confirmed in time."""
    found = starts(session, now - settings.catch_up, now + settings.warn_ahead)
    insert = _INSERT[session.get_bind().dialect.name]
    for f in found:
        session.execute(insert.values(
            layer_id=f.layer_id, schedule_id=f.schedule_id, user_id=f.user_id, previous_user_id=f.previous_user_id,
            starts_at=f.start, ends_at=f.end, label=f.label[:300], found_at=now))
    rows = {(r.layer_id, r.starts_at, r.user_id): r for r in session.execute(
        select(ShiftStart).where(ShiftStart.starts_at >= now - settings.catch_up,
                                 ShiftStart.starts_at < now + settings.warn_ahead)).scalars()}
    done = 0
    for f in found:
        row = rows.get((f.layer_id, f.start, f.user_id))
        if row is None:
            continue
        if f.start <= now:
            if row.notified_at is None and _claim(session, row.id, "notified_at", now, confirm_by=now + settings.confirm):
                announce(session, row, f, now)
                done += 1
        elif row.unreachable_warned_at is None:
            why = phone_problem(session, f.user_id, now, settings.unreachable_days)
            if why and _claim(session, row.id, "unreachable_warned_at", now):
                flag_unreachable(session, row, f, why, now)
                done += 1
    return done + report_unconfirmed(session, now, settings)


def _claim(session: Session, row_id: int, column: str, now: datetime, **also: Any) -> bool:
    """Compare-and-set `column` from NULL to now: True for the one engine that did it."""
    col = _T.c[column]
    return session.execute(update(_T).where(_T.c.id == row_id, col.is_(None))
                           .values({column: now, **also})).rowcount == 1


# --- the hand-off notification --------------------------------------------------------------------


def announce(session: Session, row: ShiftStart, f: Found, now: datetime) -> None:
    """The incoming engineer's hand-off notification, on every channel their rules use now."""
    user = session.get(User, f.user_id)
    if user is None or not user.active:
        return
    text = handoff_text(session, row, f, user)
    plan_message(session, [user.id], text, now, purpose="handoff", kinds=None, once=f"handoff:{row.id}")
    events.publish(session, "shift.started", now=now, data={
        "shift_start": row.id, "user": {"id": user.id, "name": user.name}, "label": f.label,
        "start": f.start.isoformat()})


def handoff_text(session: Session, row: ShiftStart, f: Found, user: User) -> str:
    zone = ZoneInfo(user.timezone or "UTC")
    lines = [f"Your shift starts: {f.label}, {f.start.astimezone(zone):%a %H:%M} to "
             f"{f.end.astimezone(zone):%a %d %b %H:%M} ({zone.key})."]
    open_ = open_incidents(session, f.pool_id)
    lines.append(f"Open incidents in your pool: {len(open_)}." if open_ else "No open incident in your pool.")
    lines += [f"- #{i.id} {i.client.name}: {i.summary[:100]} ({i.status.replace('_', ' ')})" for i in open_[:5]]
    notes = notes_for(session, f.layer_id, f.start)
    for n in notes[-3:]:
        lines.append(f"Note from {n.author.name if n.author else 'the last shift'}: {n.body[:400]}")
    if not notes:
        lines.append("No note from the last shift.")
    lines.append("Confirm that you are ready (I'm ready).")
    return "\n".join(lines)


def open_incidents(session: Session, pool_id: int) -> list[Incident]:
    return list(session.execute(
        select(Incident).join(Client, Incident.client_id == Client.id)
        .where(Client.pool_id == pool_id, Incident.status.in_(OPEN_STATUSES)).order_by(Incident.id)).scalars())


def link_maker(config: dict[str, Any]) -> Any:
    """The engine's hook: a fresh one-time "I'm ready" link for each hand-off notification it
    sends (the lock screen's action and the one-tap link in an SMS or e-mail)."""
    hours = float(config.get("READY_LINK_HOURS", 12.0))
    base_url = str(config.get("BASE_URL", ""))

    def make(session: Session, n: Notification, now: datetime) -> onetime.Link | None:
        parts = (n.once_key or "").split(":")
        if n.purpose != "handoff" or len(parts) < 2 or not parts[1].isdigit():
            return None
        return onetime.mint(session, "ready", now=now, hours=hours, base_url=base_url, shift_start_id=int(parts[1]),
                            notification_id=n.id, contact=n.kind)

    return make


# --- "I'm ready" ----------------------------------------------------------------------------------


def confirm(session: Session, row: ShiftStart, now: datetime, via: str) -> bool:
    """Mark the start confirmed (once; a second confirmation is no error). True if it was new."""
    if not _claim(session, row.id, "ready_at", now, ready_via=via[:32]):
        return False
    session.refresh(row)
    events.publish(session, "shift.ready", now=now, data={
        "shift_start": row.id, "user": {"id": row.user_id, "name": row.user.name}, "label": row.label,
        "late": row.reported_at is not None})
    if row.reported_at is not None:  # the managers were told it was not: tell them it is now
        plan_message(session, staff_ids(session), f"{row.user.name} is ready for {row.label} after all "
                                                  f"({now:%H:%M} UTC).", now)
    return True


def confirm_mine(session: Session, user: User, shift_start_id: int, now: datetime) -> ShiftStart:
    row = session.get(ShiftStart, shift_start_id) if 0 < shift_start_id < 2**62 else None
    if row is None or row.user_id != user.id:
        raise ActionError("no such shift start of yours", 404)
    confirm(session, row, now, "app")
    return row


def confirm_link(session: Session, token: str, now: datetime) -> ShiftStart:
    """The one-time link (the lock screen's "I'm ready", an SMS, an e-mail): no login. A second
    tap of the same link after it worked gets the same answer (a replayed request)."""
    link = onetime.find(session, token, "ready", lock=True)
    row = link.shift_start if link is not None else None
    if link is not None and row is not None and link.used_at is not None and row.ready_at is not None:
        return row
    why = onetime.state(link, now)
    if why is not None or row is None:
        raise why or onetime.LinkRefused(404, "unknown", "This link is not valid.")
    link.used_at, link.used_by = now, row.user.name
    confirm(session, row, now, "link")
    return row


def waiting_for(session: Session, user_id: int, now: datetime) -> list[ShiftStart]:
    """My shift starts announced and not confirmed yet (shifts not over)."""
    return list(session.execute(select(ShiftStart).where(
        ShiftStart.user_id == user_id, ShiftStart.notified_at.is_not(None), ShiftStart.ready_at.is_(None),
        ShiftStart.ends_at > now).order_by(ShiftStart.starts_at)).scalars())


# --- not confirmed in time ------------------------------------------------------------------------


def report_unconfirmed(session: Session, now: datetime, settings: Settings) -> int:
    due = session.execute(select(ShiftStart).where(
        ShiftStart.ready_at.is_(None), ShiftStart.confirm_by <= now, ShiftStart.reported_at.is_(None),
        ShiftStart.ends_at > now)).scalars().all()
    done = 0
    for row in due:
        outgoing = row.previous_user if row.previous_user and row.previous_user.active else None
        stays = outgoing is not None and settings.tell_outgoing
        if not _claim(session, row.id, "reported_at", now, outgoing_stays=stays):
            continue
        done += 1
        minutes = int(settings.confirm.total_seconds() // 60)
        text = (f"{row.user.name} has not confirmed the start of their shift ({row.label}, since "
                f"{row.starts_at:%H:%M} UTC) within {minutes} min: their phone may not wake them.")
        if stays:
            text += f" {outgoing.name} stays responsible until they do, and is paged with them."
        plan_message(session, staff_ids(session), text, now)
        if stays:
            plan_message(session, [outgoing.id], text, now, kinds=None)
        events.publish(session, "shift.unconfirmed", now=now, data={
            "shift_start": row.id, "user": {"id": row.user_id, "name": row.user.name}, "label": row.label,
            "message": text})
    return done


def unconfirmed(session: Session, now: datetime) -> list[ShiftStart]:
    """For the managers' overview: shifts under way whose engineer has not confirmed in time."""
    return list(session.execute(select(ShiftStart).where(
        ShiftStart.ready_at.is_(None), ShiftStart.confirm_by <= now, ShiftStart.ends_at > now)
        .order_by(ShiftStart.starts_at)).scalars())


# --- phones that could not be reached ------------------------------------------------------------


def phone_problem(session: Session, user_id: int, now: datetime, days: int) -> str | None:
    """Why this person's phone cannot be counted on, or None: no way to wake it at all, or, in
    the last `days` days, attempts that all failed and nothing delivered."""
    methods = session.execute(select(ContactMethod).where(
        ContactMethod.user_id == user_id, ContactMethod.kind.in_(PHONE_KINDS))).scalars().all()
    usable = [m for m in methods if m.enabled]
    if not usable:
        off = [m for m in methods if not m.enabled]
        return ("every way to wake their phone is switched off: " + (off[0].disabled_reason or "disabled")) if off else \
            "no way to wake their phone is set up (no push device, no SMS or voice number)"
    since = now - timedelta(days=days)
    if any(m.last_success_at is not None and m.last_success_at >= since for m in usable):
        return None
    failed = [m for m in usable if m.last_failure_at is not None and m.last_failure_at >= since]
    if not failed:
        return None  # nothing tried lately: nothing known against it
    names = ", ".join(sorted({m.kind for m in failed}))
    return f"nothing reached their phone in the last {days} days: every attempt failed ({names})"


def flag_unreachable(session: Session, row: ShiftStart, f: Found, why: str, now: datetime) -> None:
    user = session.get(User, f.user_id)
    if user is None:
        return
    when = f"{f.start:%a %d %b %H:%M} UTC"
    mine = (f"Vigil could not reach your phone: {why.replace('their', 'your')}. Your shift {f.label} starts {when}: "
            "open Vigil and send yourself a test (Me › Contact methods and rules).")
    # Every method the owner has, e-mail included: the phone's own channels are the ones failing.
    plan_message(session, [user.id], mine, now, kinds=("push", "sms", "voice", "email", "recording"))
    plan_message(session, staff_ids(session), f"{user.name}'s phone may not wake them: {why}. Their shift "
                                              f"{f.label} starts {when}.", now)
    events.publish(session, "shift.unreachable", now=now, data={
        "shift_start": row.id, "user": {"id": user.id, "name": user.name}, "label": f.label, "reason": why})


def unreachable_soon(session: Session, now: datetime, settings: Settings) -> list[tuple[ShiftStart, str]]:
    """For the managers' overview: coming (or current) shifts whose engineer's phone is in doubt."""
    rows = session.execute(select(ShiftStart).where(
        ShiftStart.starts_at < now + settings.warn_ahead, ShiftStart.ends_at > now, ShiftStart.ready_at.is_(None))
        .order_by(ShiftStart.starts_at)).scalars().all()
    out = []
    for r in rows:
        why = phone_problem(session, r.user_id, now, settings.unreachable_days)
        if why:
            out.append((r, why))
    return out

