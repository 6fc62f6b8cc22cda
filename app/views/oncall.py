"""Who is on call, my shifts, open slots and their claim (JSON for the PWA, and the engineers'
pages), and the calendar feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from ..access import Denied, check_manage_client, visible_pool_ids
from ..errors import ActionError
from ..schedules import client_coverage, ical, open_slots, whos_on
from ..web import db_session, exempt, fail, json_body, now, user

bp = Blueprint("oncall", __name__)


def parse_instant(value: str | None, what: str = "at") -> datetime:
    """An ISO 8601 instant with its offset ("Z" allowed): a bare local time is ambiguous."""
    if not value:
        return now()
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        fail(400, f"{what} must be an ISO 8601 instant such as 2026-03-02T03:00:00Z")
    if t.tzinfo is None:
        fail(400, f"{what} needs a time zone offset (Z or +01:00)")
    return t


def parse_weeks(default: int = 4) -> int:
    try:
        weeks = int(request.args.get("weeks", default))
    except ValueError:
        fail(400, "weeks must be an integer")
    if not 1 <= weeks <= 26:
        fail(400, "weeks must be between 1 and 26")
    return weeks


@bp.get("/api/v1/oncall")
@login_required
def oncall_api() -> Any:
    return jsonify(whos_on.oncall(db_session(), user(), parse_instant(request.args.get("at"))))


@bp.get("/api/v1/me/shifts")
@login_required
def my_shifts_api() -> Any:
    visible_pool_ids(db_session(), user())  # client viewers hold no shift and see no schedule
    return jsonify(whos_on.my_shifts(db_session(), user(), now(), parse_weeks()))


@bp.get("/api/v1/open-slots")
@login_required
def open_slots_api() -> Any:
    t = now()
    found = open_slots.open_slots(db_session(), user(), t, parse_weeks())
    return jsonify({"open_slots": [slot.as_dict(t) for slot in found]})


@bp.post("/api/v1/open-slots/claim")
@login_required
def claim_api() -> Any:
    body = json_body()
    raw = body.get("start")
    if not isinstance(raw, str) or not raw:
        fail(400, "start is required: the slot's start, ISO 8601")
    start = parse_instant(raw, "start")
    s = db_session()
    out = open_slots.claim(s, user(), body.get("layer_id"), start, now())
    s.commit()
    return jsonify(out)


@bp.put("/api/v1/clients/<int:client_id>/coverage")
@login_required
def coverage_api(client_id: int) -> Any:
    s = db_session()
    check_manage_client(s, user(), client_id)  # a client the user cannot see: 404, before 403
    body = json_body()
    c = client_coverage.set_coverage(s, user(), client_id, body.get("coverage"), body.get("out_of_coverage", "hold"),
                                     body.get("timezone"), now())
    s.commit()
    return jsonify({"client": {"id": c.id, "name": c.name}, "timezone": c.timezone, "coverage": c.coverage,
                    "out_of_coverage": c.out_of_coverage,
                    "description": client_coverage.describe(c.coverage, c.timezone)})


# --- the engineers' pages ------------------------------------------------------------------------


@bp.get("/open-slots")
@login_required
def open_slots_page() -> Any:
    t = now()
    found = open_slots.open_slots(db_session(), user(), t, 6)
    return render_template("schedules/open_slots.html", slots=found, now=t)


@bp.post("/open-slots/claim")
@login_required
def claim_form() -> Any:
    s = db_session()
    try:
        layer_id = int(request.form.get("layer_id", ""))
        start = datetime.fromisoformat(request.form.get("start", ""))
        if start.tzinfo is None:
            raise ValueError
        out = open_slots.claim(s, user(), layer_id, start, now())
        s.commit()
        flash(out["message"], "ok")
    except ValueError:
        flash("That slot could not be read: reload the page.", "error")
    except (ActionError, Denied) as e:
        s.rollback()
        if e.status == 404:  # a layer the user may not see: the same answer as one that does not exist
            raise Denied(e.message, 404) from None
        flash(e.message, "error")
    return redirect(url_for("oncall.open_slots_page"))


@bp.get("/me/shifts")
@login_required
def my_shifts_page() -> Any:
    s = db_session()
    u = user()
    visible_pool_ids(s, u)
    data = whos_on.my_shifts(s, u, now(), 6)
    secret = ical.token(current_app.config["SECRET_KEY"], u)
    feed = url_for("oncall.ical_feed", secret=secret, _external=False) if secret else None
    base = current_app.config.get("BASE_URL", "").rstrip("/")
    return render_template("schedules/my_shifts.html", shifts=data["shifts"],
                           feed_url=f"{base}{feed}" if feed else None)


@bp.post("/me/calendar")
@login_required
def calendar_link() -> Any:
    s = db_session()
    visible_pool_ids(s, user())
    if request.form.get("action") == "disable":
        ical.disable(s, user())
        flash("Your calendar link no longer works.", "ok")
    else:
        ical.regenerate(s, user())
        flash("Here is your new calendar link; the old one, if any, no longer works.", "ok")
    s.commit()
    return redirect(url_for("oncall.my_shifts_page"))


@bp.get("/ical/<secret>.ics")
@exempt
def ical_feed(secret: str) -> Any:
    s = db_session()
    found = ical.find_user(s, current_app.config["SECRET_KEY"], secret)
    if found is None:
        abort(404)
    body = ical.feed(s, found, now(), current_app.config.get("BASE_URL", ""))
    r = Response(body, mimetype="text/calendar")
    r.headers["Cache-Control"] = "private, max-age=300"
    r.headers["Content-Disposition"] = 'inline; filename="vigil-shifts.ics"'
    return r
