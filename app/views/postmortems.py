"""An incident's post-mortem: the printable page (engineers edit its fields there), Markdown,
PDF, and the JSON API. Whoever sees the incident reads it; whoever may act on it edits it."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from .. import access
from ..errors import ActionError
from ..models import Incident
from ..reports import postmortem
from ..web import db_session, json_body, now, user
from ..web.timefmt import zone

bp = Blueprint("postmortems", __name__)


def _incident(incident_id: int, *, edit: bool = False) -> Incident:
    s = db_session()
    check = access.check_act_on_incident if edit else access.check_see_incident
    return check(s, user(), s.get(Incident, incident_id))


def _as_json(st: postmortem.Story) -> dict[str, Any]:
    return {"incident_id": st.incident.id, **st.fields,
            "updated_at": st.updated_at.isoformat() if st.updated_at else None, "updated_by": st.updated_by}


@bp.get("/incidents/<int:incident_id>/postmortem")
@login_required
def page(incident_id: int) -> Any:
    inc = _incident(incident_id)
    tz = zone(user().timezone)
    st = postmortem.story(db_session(), inc)
    can_edit = user().has_role("admin", "manager", "engineer")
    return render_template("reports/postmortem.html", st=st, facts=postmortem.facts(st, tz), fields=postmortem.FIELDS,
                           can_edit=can_edit)


@bp.post("/incidents/<int:incident_id>/postmortem")
@login_required
def save_form(incident_id: int) -> Any:
    inc = _incident(incident_id, edit=True)
    s = db_session()
    try:
        postmortem.save(s, inc, user(), request.form, now())
        s.commit()
        flash("Post-mortem saved.", "ok")
    except ActionError as e:
        s.rollback()
        flash(e.message, "error")
    return redirect(url_for("postmortems.page", incident_id=incident_id))


@bp.get("/incidents/<int:incident_id>/postmortem.<fmt>")
@login_required
def export(incident_id: int, fmt: str) -> Any:
    if fmt not in ("md", "pdf"):
        abort(404)
    inc = _incident(incident_id)
    tz = zone(user().timezone)
    st = postmortem.story(db_session(), inc)
    name = f"postmortem-{inc.number}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "md":
        return Response(postmortem.markdown(st, tz), mimetype="text/markdown", headers=disposition)
    return Response(postmortem.pdf(st, tz), mimetype="application/pdf", headers=disposition)


@bp.get("/api/v1/incidents/<int:incident_id>/postmortem")
@login_required
def api_get(incident_id: int) -> Any:
    return jsonify(_as_json(postmortem.story(db_session(), _incident(incident_id))))


@bp.put("/api/v1/incidents/<int:incident_id>/postmortem")
@login_required
def api_put(incident_id: int) -> Any:
    inc = _incident(incident_id, edit=True)
    body = json_body()
    s = db_session()
    postmortem.save(s, inc, user(), body, now())
    s.commit()
    return jsonify(_as_json(postmortem.story(s, inc)))
