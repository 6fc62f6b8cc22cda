"""The manager's first screen (the overview, at "/" for managers and admins) and everyone's own
on-call screen (/on-call: the engineer's home, which a manager who takes shifts also needs)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import login_required
from sqlalchemy import select

from .. import access
from ..access import require_role
from ..engine.heartbeat import engine_status
from ..models import Incident, Role
from ..reports import overview
from ..schedules import readiness
from ..schedules.home import build
from ..web import db_session, now, timefmt, user
from ..web.plumbing import error_page

bp = Blueprint("overview", __name__)


def overview_page() -> Any:
    u = user()
    require_role(u, Role.admin, Role.manager)
    stale = current_app.config["ENGINE_STALE_SECONDS"]
    data = overview.build(db_session(), u, now(), timefmt.zone(u.timezone), stale,
                          readiness.Settings.of(current_app.config), health=engine_status(db_session(), now(), stale))
    return render_template("overview.html", o=data, now=now())


@bp.get("/on-call")
@login_required
def my_oncall() -> Any:
    return render_template("home.html", home=build(db_session(), user(), now(), current_app.config["UNREACHABLE_DAYS"]),
                           now=now())


@bp.get("/incidents/by-key/<path:dedup_key>")
@login_required
def by_key(dedup_key: str) -> Any:
    """The incident an alert with this de-duplication key opened (the open one, else the latest):
    the link `vigil demo` prints next to its curl."""
    s, u = db_session(), user()
    q = select(Incident).where(Incident.dedup_key == dedup_key[:255]).order_by(
        (Incident.status == "resolved").asc(), Incident.id.desc())
    visible = access.visible_client_ids(s, u)
    if visible is not None:
        q = q.where(Incident.client_id.in_(visible))
    inc = s.execute(q.limit(1)).scalar_one_or_none()
    if inc is None:
        return error_page(404, f"No incident has the key “{dedup_key[:255]}” yet: send the alert first (the curl "
                               "that `vigil demo` printed), then reload this page.")
    return redirect(url_for("pages.incident_detail", incident_id=inc.id))
