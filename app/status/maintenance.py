"""Maintenance windows: planned work on a client's services (or all of them), shown on the page
ahead and while it runs. While one runs, intake records alerts for those services but holds their
pages until it ends, unless the window lets pages through (the decision is
schedules.client_coverage.coverage_decision, fed by intake.keys.maintenance_spans).

A window can start early and end early (its held incidents then escalate at once) or be
cancelled. `walk` is the engine's periodic job that moves windows on by the clock (scheduled ->
in progress -> completed) with a compare-and-set on `state`, so any number of engines move each
window, and tell its subscribers, once."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from .. import access
from ..db import is_id
from ..errors import ActionError, Denied
from ..incidents import holds
from ..intake.keys import forget_cached_keys
from ..live import events
from ..models import MaintenanceWindow, Role, Service, User
from . import subscribers

MAX_DAYS = 14  # a longer "maintenance" is an outage by another name


def _parse_time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise ActionError(f"{name} is an ISO 8601 instant with its offset, e.g. 2026-03-02T22:00:00+01:00", 400)
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise ActionError(f"{name} is an ISO 8601 instant with its offset, e.g. 2026-03-02T22:00:00+01:00", 400) from None
    if t.tzinfo is None:
        raise ActionError(f"{name} needs its UTC offset (or Z)", 400)
    if not 2000 <= t.year <= 2200:
        raise ActionError(f"{name} must fall between the years 2000 and 2200", 400)
    return t


def _check_actor(session: Session, actor: User, client_id: int) -> None:
    if not access.can_see_client(session, actor, client_id):
        raise Denied("client not found", 404)
    if not actor.has_role(Role.admin, Role.manager, Role.engineer):
        raise Denied("your role cannot plan maintenance")


def create(session: Session, actor: User, client_id: int, fields: dict[str, Any], now: datetime, base_url: str,
           secret_key: str) -> MaintenanceWindow:
    _check_actor(session, actor, client_id)
    access.check_client_exists(session, client_id)
    title = fields.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        raise ActionError("title is text of 1 to 200 characters", 400)
    body = fields.get("body", "") or ""
    if not isinstance(body, str) or len(body) > 5000:
        raise ActionError("body is text of at most 5000 characters", 400)
    starts, ends = _parse_time(fields.get("starts_at"), "starts_at"), _parse_time(fields.get("ends_at"), "ends_at")
    if ends <= starts:
        raise ActionError("ends_at must be after starts_at", 400)
    if ends - starts > timedelta(days=MAX_DAYS):
        raise ActionError(f"a window lasts at most {MAX_DAYS} days", 400)
    if ends <= now:
        raise ActionError("this window would be over already", 400)
    ids = fields.get("service_ids") or []
    if not isinstance(ids, list) or not all(is_id(i) for i in ids):
        raise ActionError("service_ids is a list of the client's service ids (empty: all of them)", 400)
    known = set(session.execute(select(Service.id).where(Service.client_id == client_id)).scalars())
    if not set(ids) <= known:
        raise ActionError("service_ids may only name this client's services", 400)
    hold = fields.get("hold_pages", True)
    if not isinstance(hold, bool):
        raise ActionError("hold_pages is true (alerts recorded, not paged) or false", 400)
    w = MaintenanceWindow(public_id=secrets.token_urlsafe(9), client_id=client_id, title=title.strip(), body=body.strip(),
                          service_ids=sorted(set(ids)), starts_at=starts, ends_at=ends, hold_pages=hold,
                          state="scheduled", created_by_id=actor.id, created_at=now, updated_at=now)
    session.add(w)
    session.flush()
    forget_cached_keys()  # intake keeps each client's windows with its keys
    events.publish(session, "status.maintenance_changed", now=now, client_id=client_id, data={"maintenance": w.public_id})
    subscribers.tell(session, client_id, f"Scheduled maintenance: {w.title}",
                     f"{w.title}\nFrom {w.starts_at.isoformat()} to {w.ends_at.isoformat()}.\n\n{w.body}".strip(),
                     f"maintenance-scheduled:{w.id}", now, base_url, secret_key)
    return w


def _window(session: Session, actor: User, window_id: int) -> MaintenanceWindow:
    w = session.get(MaintenanceWindow, window_id) if is_id(window_id) else None
    if w is None or not access.can_see_client(session, actor, w.client_id):
        raise Denied("maintenance window not found", 404)
    _check_actor(session, actor, w.client_id)
    return w


def start_now(session: Session, actor: User, window_id: int, now: datetime) -> MaintenanceWindow:
    w = _window(session, actor, window_id)
    if w.state != "scheduled":
        raise ActionError(f"this window is {w.state.replace('_', ' ')}: only a scheduled one can start", 409)
    w.starts_at = min(w.starts_at, now)
    _move(session, w, "in_progress", now)
    return w


def end_now(session: Session, actor: User, window_id: int, now: datetime) -> MaintenanceWindow:
    """End a running window early (or cancel one not started yet): the incidents it held escalate now."""
    w = _window(session, actor, window_id)
    if w.state not in ("scheduled", "in_progress"):
        raise ActionError(f"this window is {w.state} already", 409)
    planned_end = w.ends_at
    if w.state == "scheduled" and w.starts_at > now:
        _move(session, w, "cancelled", now)
        return w
    w.ends_at = min(w.ends_at, now)
    _move(session, w, "completed", now)
    holds.release(session, w.client_id, w.service_ids, planned_end,
                  f"The maintenance window \u201c{w.title}\u201d ended early: escalating now.", now)
    return w


def _move(session: Session, w: MaintenanceWindow, state: str, now: datetime) -> None:
    if state == "in_progress":
        w.started_at = w.started_at or now
    if state in ("completed", "cancelled"):
        w.completed_at = now
    w.state, w.updated_at = state, now
    session.flush()
    forget_cached_keys()
    events.publish(session, "status.maintenance_changed", now=now, client_id=w.client_id,
                   data={"maintenance": w.public_id, "state": state})


def walk(session: Session, now: datetime, base_url: str = "", secret_key: str = "") -> int:
    """The engine's job: start the windows whose time came, complete the ones that ended."""
    m = MaintenanceWindow.__table__.c
    due = session.execute(select(MaintenanceWindow).where(or_(
        (m.state == "scheduled") & (m.starts_at <= now),
        (m.state == "in_progress") & (m.ends_at <= now),
    )).limit(100)).scalars().all()
    moved = 0
    for w in due:
        state = "completed" if w.ends_at <= now else "in_progress"
        # Compare-and-set: another engine may have moved it a moment ago.
        done = session.execute(update(MaintenanceWindow).where(m.id == w.id, m.state == w.state).values(
            state=state, updated_at=now,
            started_at=w.started_at or min(now, w.starts_at) if state == "in_progress" else w.started_at or w.starts_at,
            completed_at=now if state == "completed" else None).execution_options(synchronize_session=False)).rowcount
        if not done:
            continue
        moved += 1
        events.publish(session, "status.maintenance_changed", now=now, client_id=w.client_id,
                       data={"maintenance": w.public_id, "state": state})
        word = "has started" if state == "in_progress" else "is complete"
        subscribers.tell(session, w.client_id, f"Maintenance {word}: {w.title}", f"{w.title} {word}.",
                         f"maintenance-{state}:{w.id}", now, base_url, secret_key)
    if moved:
        session.expire_all()
    return moved


def listing(session: Session, actor: User, client_id: int, now: datetime) -> list[MaintenanceWindow]:
    """Windows ahead and running (and the last week's), for the engineers' screen."""
    if not access.can_see_client(session, actor, client_id):
        raise Denied("client not found", 404)
    m = MaintenanceWindow.__table__.c
    return list(session.execute(select(MaintenanceWindow).where(
        m.client_id == client_id, m.ends_at >= now - timedelta(days=7)).order_by(m.starts_at)).scalars())
