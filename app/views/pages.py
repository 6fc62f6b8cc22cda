"""Server-rendered pages (the PWA's shell and screens)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select

from .. import access, incidents
from ..clients import connections, handover, runbooks
from ..clients import mail as client_mails
from ..engine.heartbeat import engine_status
from ..errors import ActionError
from ..incidents import Actor
from ..incidents.next_page import next_page
from ..intake.mail.recipients import configured_domain
from ..models import OPEN_STATUSES, Event, Incident
from ..notify import channels as server_channels
from ..schedules.home import build
from ..web import db_session, now, user
from .overview import overview_page

bp = Blueprint("pages", __name__)


@bp.app_context_processor
def page_context() -> dict[str, Any]:
    """Every screen says so when the escalation engine is down, and knows the last event id it
    reflects, so its live connection resumes from there."""
    if not current_user.is_authenticated:
        return {"engine_ok": True}
    s = db_session()
    ok, last = engine_status(s, now(), current_app.config["ENGINE_STALE_SECONDS"])
    last_event = s.execute(select(func.max(Event.id))).scalar()
    return {"engine_ok": ok, "engine_last": last, "last_event_id": last_event or 0}


@bp.get("/")
@login_required
def home() -> Any:
    """On call now: the app's first screen (managers and admins: the overview)."""
    if user().has_role("admin", "manager"):
        return overview_page()
    return render_template("home.html", home=build(db_session(), user(), now(), current_app.config["UNREACHABLE_DAYS"]),
                           now=now())


@bp.get("/me")
@login_required
def me() -> Any:
    """Everything about me and my phone, in one menu (the app's "More" tab)."""
    return render_template("me.html")


@bp.get("/settings/notifications")
@login_required
def notification_settings() -> Any:
    access.check_paged(user())  # as the notification API: client viewers are never paged
    found = server_channels.channels(current_app.config, db_session())
    return render_template("settings_notifications.html", channels=found,
                           channels_sentence=server_channels.sentence(found))


@bp.get("/incidents")
@login_required
def incident_list() -> Any:
    rows = access.visible_incidents(db_session(), user(), OPEN_STATUSES, limit=200)
    resolved = access.visible_incidents(db_session(), user(), ("resolved",), limit=15)
    return render_template("incidents.html", incidents=rows, resolved=resolved)


@bp.get("/incidents/<int:incident_id>")
@login_required
def incident_detail(incident_id: int) -> Any:
    s = db_session()
    inc = access.check_see_incident(s, user(), s.get(Incident, incident_id))
    timeline = incidents.timeline_of(s, inc.id)
    u = user()
    try:
        conns = connections.list_for_client(s, u, inc.client_id)
    except access.Denied:
        conns = []  # a client viewer is not told that connection info exists
    found = handover.state(s, inc)
    staff_view = not u.has_role("client_viewer")
    return render_template("incident.html", inc=inc, timeline=timeline, connections=conns,
                           runbooks=runbooks.for_incident(s, u, inc), next=next_page(s, inc),
                           handover=found, chain=found.chain if found else [],
                           mails=client_mails.of_incident(s, inc.id) if staff_view else [], staff_view=staff_view)


ACTIONS = {
    "ack": lambda s, i, a, f, t: incidents.acknowledge(s, i, a, t, op_id=f.get("op_id") or None),
    "claim": lambda s, i, a, f, t: incidents.claim_slot(s, i, a, f.get("slot"), t),
    "escalate": lambda s, i, a, f, t: incidents.escalate_now(s, i, a, t),
    "log": lambda s, i, a, f, t: incidents.log_action(s, i, a, f.get("text"), t),
    "handover": lambda s, i, a, f, t: incidents.hand_over(s, i, a, f.get("reason"), t),
    "resolve": lambda s, i, a, f, t: incidents.resolve(s, i, a, f.get("summary"), t),
    "client-mail": lambda s, i, a, f, t: incidents.write_to_client(
        s, i, a, f.get("text"), t, reply_domain=configured_domain(s, current_app.config) or ""),
}


@bp.post("/incidents/<int:incident_id>/<action>")
@login_required
def incident_action(incident_id: int, action: str) -> Any:
    """The no-JavaScript path for every incident action (forms post here)."""
    fn = ACTIONS.get(action)
    if fn is None:
        return "unknown action", 404
    s = db_session()
    access.check_see_incident(s, user(), s.get(Incident, incident_id))  # before an op_id is recorded
    try:
        out = fn(s, incident_id, Actor.of(user()), request.form, now())
        s.commit()
        message = out.message
        if action == "claim" and out.status < 400:
            message = f"You are responder #{request.form.get('slot')} on incident #{incident_id}."
        flash(message, "ok" if out.status < 400 else "error")
    except ActionError as e:
        s.rollback()
        if e.status == 404:
            raise
        flash(e.message, "error")
    return redirect(url_for("pages.incident_detail", incident_id=incident_id))
