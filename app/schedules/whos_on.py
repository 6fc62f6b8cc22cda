"""Who is on call: now or at any instant (per schedule and per client), my coming shifts, and
the day-by-day timeline of a schedule's coming weeks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .. import access
from ..access import visible_pool_ids
from ..models import Client, User
from . import rotations as pure
from .coverage import Coverage, covers, next_start, wall_to_utc, zone
from .rosters import MARGIN, Person, Roster, load, people, pieces_around

TICK = timedelta(microseconds=1)


def _iso(t: datetime) -> str:
    return t.isoformat()


def shift_dict(roster: Roster, p: pure.Shift, who: dict[int, Person]) -> dict[str, Any]:
    person = who.get(p.user_id) if p.user_id is not None else None
    return {
        "schedule": {"id": roster.id, "name": roster.name},
        "layer": {"id": p.layer_id, "name": roster.layer_names.get(p.layer_id, "")},
        "user": person.as_dict() if person else None,
        "open_slot": p.user_id is None,
        "start": _iso(p.start),
        "end": _iso(p.end),
        "source": p.source,
        "override_id": p.override_id,
    }


def oncall(session: Session, user: User, at: datetime) -> dict[str, Any]:
    """Per schedule and layer, who holds it at `at` (and that shift's start and end); per client
    (through its pool), who is on call and whether the client is covered then."""
    pools = visible_pool_ids(session, user)
    rosters = load(session, at - MARGIN, at + MARGIN, pool_ids=pools)
    holding = {r.id: pieces_around(r, at, at + TICK) for r in rosters}
    who = people(session, (p.user_id for ps in holding.values() for p in ps))
    schedules = []
    by_pool: dict[int, list[dict[str, Any]]] = {}
    for r in rosters:
        now = {p.layer_id: p for p in holding[r.id]}
        layers = []
        for layer_id, name in r.layer_names.items():
            p = now.get(layer_id)
            entry = shift_dict(r, p, who) if p else None
            layers.append({"id": layer_id, "name": name, "on_call": entry})
            if entry and entry["user"]:
                by_pool.setdefault(r.pool_id, []).append(
                    {"user": entry["user"], "schedule": entry["schedule"], "layer": entry["layer"],
                     "end": entry["end"]})
        schedules.append({
            "id": r.id, "name": r.name, "timezone": r.tz, "pool": {"id": r.pool_id, "name": r.pool_name},
            "covered": r.coverage is None or covers(r.coverage, at), "layers": layers,
        })
    return {"at": _iso(at), "schedules": schedules, "clients": _clients(session, user, at, by_pool)}


def _clients(session: Session, user: User, at: datetime, by_pool: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    q = select(Client).options(selectinload(Client.pool)).order_by(Client.name)
    visible = access.visible_client_ids(session, user)
    if visible is not None:
        q = q.where(Client.id.in_(visible))
    out = []
    for c in session.execute(q).scalars():
        cov = Coverage.from_dict({"tz": c.timezone, **(c.coverage or {"kind": "always"})})
        covered = covers(cov, at)
        starts = None if covered else next_start(cov, at)
        out.append({
            "id": c.id, "name": c.name, "slug": c.slug,
            "pool": {"id": c.pool.id, "name": c.pool.name} if c.pool else None,
            "covered": covered, "out_of_coverage": c.out_of_coverage,
            "coverage_starts_at": _iso(starts) if starts else None,
            "on_call": by_pool.get(c.pool_id, []) if c.pool_id else [],
        })
    return out


def user_shifts(session: Session, user_id: int, start: datetime, end: datetime) -> list[tuple[Roster, pure.Shift]]:
    """Every shift a user holds overlapping [start, end), on any schedule (an override can put
    anyone on any layer), with its true start and end, in time order."""
    out = []
    for r in load(session, start - MARGIN, end + MARGIN):
        out += [(r, p) for p in pieces_around(r, start, end) if p.user_id == user_id]
    out.sort(key=lambda rp: (rp[1].start, rp[1].layer_id))
    return out


def my_shifts(session: Session, user: User, now: datetime, weeks: int) -> dict[str, Any]:
    found = user_shifts(session, user.id, now, now + timedelta(weeks=weeks))
    who = {user.id: Person(user.id, user.name, user.active)}
    return {"from": _iso(now), "weeks": weeks, "shifts": [shift_dict(r, p, who) for r, p in found]}


# --- the coming weeks, day by day -----------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One holder of a layer during part of a local day."""

    name: str  # the holder, or "Open slot"
    start: str  # local HH:MM
    end: str  # local HH:MM ("24:00" at the end of the day)
    override: bool
    open: bool  # nobody (an open slot)
    unreachable: bool  # deactivated holder


@dataclass(frozen=True)
class DayRow:
    day: date
    cells: dict[int, list[Cell]]  # layer id -> who held it that day (empty: not covered)


def timeline(session: Session, roster: Roster, first: date, days: int) -> list[DayRow]:
    """Days as rows, in the schedule's zone; each layer's holders that day, cut at midnight."""
    tz = zone(roster.tz)
    mids = [wall_to_utc(first + timedelta(days=i), 0, tz) for i in range(days + 1)]
    pieces = pure.shifts(roster.plan, mids[0], mids[-1])
    who = people(session, (p.user_id for p in pieces))
    rows = []
    for i in range(days):
        a, b = mids[i], mids[i + 1]
        cells: dict[int, list[Cell]] = {lid: [] for lid in roster.layer_names}
        for p in pieces:
            if p.end <= a or p.start >= b:
                continue
            person = who.get(p.user_id) if p.user_id is not None else None
            s, e = max(p.start, a), min(p.end, b)
            cells.setdefault(p.layer_id, []).append(Cell(
                name=person.name if person else ("Open slot" if p.user_id is None else f"user #{p.user_id}"),
                start=s.astimezone(tz).strftime("%H:%M"),
                end="24:00" if e == b else e.astimezone(tz).strftime("%H:%M"),
                override=p.source == "override", open=p.user_id is None,
                unreachable=person is not None and not person.active,
            ))
        rows.append(DayRow(first + timedelta(days=i), cells))
    return rows
