"""The monthly client report (page, PDF, a CSV per table and JSON: whoever sees the client, a
client viewer included) and its recipients, the client's report contacts (managers and admins)."""

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
from sqlalchemy import select

from .. import access
from ..clients import directory
from ..errors import ActionError, Denied
from ..models import Client, ReportContact
from ..reports import monthly, tables
from ..web import db_session, now, user

bp = Blueprint("monthly", __name__)


def _report(slug: str, month: str) -> monthly.Report:
    s = db_session()
    client = access.client_by_slug(s, user(), slug)
    return monthly.build(s, client, monthly.month_of(month), now())


@bp.get("/reports/monthly/<slug>/<month>")
@login_required
def page(slug: str, month: str) -> Any:
    r = _report(slug, month)
    contacts = list(db_session().execute(select(ReportContact).where(ReportContact.client_id == r.client.id)
                                         .order_by(ReportContact.id)).scalars()) if access.is_staff(user()) else []
    return render_template("reports/monthly.html", r=r, lines=monthly.summary_lines(r), contacts=contacts,
                           previous=monthly.previous_month(r.month), following=monthly.next_month(r.month))


@bp.get("/reports/monthly/<slug>/<month>.pdf")
@login_required
def pdf(slug: str, month: str) -> Any:
    r = _report(slug, month)
    return Response(monthly.pdf(r), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="vigil-{r.client.slug}-{r.month:%Y-%m}.pdf"'})


@bp.get("/reports/monthly/<slug>/<month>/<name>.csv")
@login_required
def table_csv(slug: str, month: str, name: str) -> Any:
    if name not in monthly.TABLES:
        abort(404)
    r = _report(slug, month)
    body = tables.to_csv(*monthly.table(r, name, now()))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="vigil-{r.client.slug}-{r.month:%Y-%m}-{name}.csv"'})


@bp.get("/api/v1/reports/monthly/<slug>/<month>")
@login_required
def report_api(slug: str, month: str) -> Any:
    return jsonify(monthly.as_dict(_report(slug, month), now()))


def _back(client: Client) -> Any:
    # The month the client last finished, in its own time zone (at 00:30 on 1 January in Paris,
    # December; UTC is still in December).
    last = monthly.previous_month(directory.today(client, now()).replace(day=1))
    return redirect(url_for("monthly.page", slug=client.slug, month=f"{last:%Y-%m}"))


@bp.post("/clients/<slug>/report-contacts")
@login_required
def add_contact(slug: str) -> Any:
    s = db_session()
    client = access.client_by_slug(s, user(), slug)
    if not access.is_staff(user()):
        raise Denied("only managers and admins choose who receives the monthly report")
    try:
        c = monthly.add_contact(s, client, request.form.get("name"), request.form.get("email"), now())
        s.commit()
        flash(f"{c.email} will receive the monthly report.", "ok")
    except ActionError as e:
        s.rollback()
        flash(e.message, "error")
    return _back(client)


@bp.post("/report-contacts/<int:contact_id>/delete")
@login_required
def delete_contact(contact_id: int) -> Any:
    s = db_session()
    c = s.get(ReportContact, contact_id)
    if c is None or not access.can_see_client(s, user(), c.client_id):
        raise Denied("report contact not found", 404)
    if not access.is_staff(user()):
        raise Denied("only managers and admins choose who receives the monthly report")
    client = c.client
    s.delete(c)
    s.commit()
    flash(f"{c.email} will no longer receive the monthly report.", "ok")
    return _back(client)
