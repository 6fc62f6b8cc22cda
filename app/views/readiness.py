"""Every shift starts ready: "I'm ready" (the one-time link's page, the service worker's
lock-screen action, the home screen's button), the outgoing engineer's hand-off note, and a
manager's test of someone's phones."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from ..access import require_role
from ..models import Role, ShiftStart, User
from ..notify import onetime
from ..notify.contacts import queue_tests_for
from ..schedules import handoff_notes, readiness
from ..web import db_session, exempt, fail, now, optional_json_object, user

bp = Blueprint("readiness", __name__)


def _page(token: str, status: int = 200, *, refusal: onetime.LinkRefused | None = None,
          done: ShiftStart | None = None) -> Any:
    s = db_session()
    link = onetime.find(s, token, "ready")
    row = link.shift_start if link else None
    if refusal is None and done is None:
        refusal = onetime.state(link, now())
        if refusal is not None and row is not None and row.ready_at is not None:
            refusal, done = None, row  # already confirmed: say so, not "used"
    html = render_template("handoff/ready.html", row=done or row, refusal=refusal, done=done)
    response = make_response(html, refusal.status if refusal else status)
    response.headers.update({"Cache-Control": "no-store", "Referrer-Policy": "same-origin",
                             "X-Robots-Tag": "noindex, nofollow"})
    return response


@bp.get("/r/<token>")
def ready_page(token: str) -> Any:
    return _page(token)


@bp.post("/r/<token>")
def ready_form(token: str) -> Any:
    s = db_session()
    try:
        row = readiness.confirm_link(s, token, now())
    except onetime.LinkRefused as e:
        s.rollback()
        return _page(token, refusal=e)
    s.commit()
    return _page(token, done=row)


@bp.post("/api/v1/ready-links/<token>")
@exempt
def ready_json(token: str) -> Any:
    """The lock screen's "I'm ready" (the service worker): no session, the token is all."""
    optional_json_object()
    s = db_session()
    try:
        row = readiness.confirm_link(s, token, now())
    except onetime.LinkRefused as e:
        fail(e.status, e.message, reason=e.reason)
    s.commit()
    return jsonify({"outcome": "ready", "message": f"Ready for {row.label}. Thank you.",
                    "shift_start": {"id": row.id, "label": row.label, "ready_at": row.ready_at.isoformat()}})


@bp.post("/shifts/<int:shift_start_id>/ready")
@login_required
def ready_in_app(shift_start_id: int) -> Any:
    s = db_session()
    row = readiness.confirm_mine(s, user(), shift_start_id, now())
    s.commit()
    flash(f"You are ready for {row.label}.", "ok")
    return redirect(url_for("pages.home"))


@bp.post("/handoff-notes")
@login_required
def write_note() -> Any:
    s = db_session()
    handoff_notes.write(s, user(), request.form.get("layer_id"), request.form.get("body"), now())
    s.commit()
    flash("Hand-off note saved: whoever takes over next sees it.", "ok")
    return redirect(request.referrer if (request.referrer or "").startswith(request.host_url) else url_for("pages.home"))


@bp.post("/people/<int:user_id>/test-phones")
@login_required
def test_phones(user_id: int) -> Any:
    """A manager sends a test to every phone channel of someone whose phone is in doubt."""
    require_role(user(), Role.admin, Role.manager)
    s = db_session()
    person = s.get(User, user_id) if user_id < 2**31 else None
    if person is None:
        fail(404, "no such person")
    sent = queue_tests_for(s, person, now(), readiness.PHONE_KINDS)
    s.commit()
    flash(f"{sent} test notification{'s' if sent != 1 else ''} queued for {person.name}." if sent
          else f"Nothing to test: {person.name} has no phone channel switched on, or one was tested moments ago.",
          "ok" if sent else "error")
    return redirect(url_for("pages.home"))

