"""Hand-overs to the client's team: the client's contact chain (managers edit it), the incident's
hand-over as JSON, and the "we have it" page a client's contact opens from their message (no
login: the link's token is the credential; a GET never changes anything)."""

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

from .. import access
from ..clients import contacts, handover
from ..errors import ActionError
from ..models import Incident
from ..notify.onetime import LinkRefused
from ..web import db_session, now, user

bp = Blueprint("handover", __name__)


# --- the contact chain (managers, from the client screen) ------------------------------------------


def _chain_page(slug: str, error: str | None = None, status: int = 200, form: Any = None) -> Any:
    s = db_session()
    client = access.client_by_slug(s, user(), slug)
    access.check_manage_client(s, user(), client.id)
    return render_template("handoff/contacts.html", client=client, chain=contacts.chain(s, client.id), error=error,
                           form=form or {}, hours_text=contacts.hours_text, how=contacts.how,
                           channels=contacts.CHANNELS, days=contacts.DAYS), status


@bp.get("/clients/<slug>/contacts")
@login_required
def chain_page(slug: str) -> Any:
    return _chain_page(slug)


@bp.post("/clients/<slug>/contacts")
@login_required
def add_contact(slug: str) -> Any:
    s = db_session()
    client = access.client_by_slug(s, user(), slug)
    try:
        contacts.add(s, user(), client.id, contacts.form_body(request.form), now())
    except ActionError as e:
        s.rollback()
        return _chain_page(slug, e.message, e.status, request.form)
    s.commit()
    flash("Contact added to the chain.", "ok")
    return redirect(url_for("handover.chain_page", slug=slug))


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@login_required
def edit_contact(contact_id: int) -> Any:
    s = db_session()
    row = contacts.mine(s, user(), contact_id)
    error = None
    if request.method == "POST":
        try:
            contacts.update(s, user(), contact_id, contacts.form_body(request.form))
            s.commit()
            flash("Contact saved.", "ok")
            return redirect(url_for("handover.chain_page", slug=row.client.slug))
        except ActionError as e:
            s.rollback()
            error = e.message
            row = contacts.mine(s, user(), contact_id)
    return render_template("handoff/contact_edit.html", c=row, client=row.client, error=error,
                           channels=contacts.CHANNELS, days=contacts.DAYS), (400 if error else 200)


@bp.post("/contacts/<int:contact_id>/delete")
@login_required
def delete_contact(contact_id: int) -> Any:
    s = db_session()
    client = contacts.remove(s, user(), contact_id)
    s.commit()
    flash("Contact removed from the chain.", "ok")
    return redirect(url_for("handover.chain_page", slug=client.slug))


@bp.post("/contacts/<int:contact_id>/move")
@login_required
def move_contact(contact_id: int) -> Any:
    s = db_session()
    client = contacts.move(s, user(), contact_id, -1 if request.form.get("to") == "up" else 1)
    s.commit()
    return redirect(url_for("handover.chain_page", slug=client.slug))


# --- the incident's hand-over, as JSON (the PWA, a status page) ------------------------------------


@bp.get("/api/v1/incidents/<int:incident_id>/handover/state")
@login_required
def state_json(incident_id: int) -> Any:
    s = db_session()
    inc = access.check_see_incident(s, user(), s.get(Incident, incident_id))
    found = handover.state(s, inc)
    return jsonify({"handover": found.as_dict() if found else None})


# --- "we have it": the client's contact, no login --------------------------------------------------


def _page(token: str, status: int = 200, *, refusal: LinkRefused | None = None, message: str | None = None) -> Any:
    link, h, inc, why = handover.show(db_session(), token, now())
    refusal = refusal or (why if message is None else None)
    html = render_template("handoff/we_have_it.html", h=h, inc=inc if link else None, refusal=refusal, message=message,
                           contact=link.contact if link else "")
    response = make_response(html, refusal.status if refusal and status == 200 else status)
    # The address is a credential: not cached, not indexed, not sent on as a referrer.
    response.headers.update({"Cache-Control": "no-store", "Referrer-Policy": "same-origin",
                             "X-Robots-Tag": "noindex, nofollow"})
    return response


@bp.get("/h/<token>")
def we_have_it_page(token: str) -> Any:
    return _page(token)


@bp.post("/h/<token>")
def we_have_it(token: str) -> Any:
    s = db_session()
    try:
        taken = handover.take(s, token, request.form.get("name"), now())
    except LinkRefused as e:
        s.rollback()
        return _page(token, e.status, refusal=e)
    s.commit()
    return _page(token, message=taken.message)
