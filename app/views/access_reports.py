"""The per-client access report: a page, and the same as CSV (?format=csv)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_login import login_required
from sqlalchemy import select

from .. import access, audit
from ..clients import access_report as reports
from ..clients import directory
from ..models import Client, Role
from ..web import db_session, now, user

bp = Blueprint("access_reports", __name__)


@bp.get("/reports/access")
@login_required
def access_report() -> Any:
    s = db_session()
    access.require_role(user(), Role.admin, Role.manager)
    clients = list(s.execute(select(Client).order_by(Client.name)).scalars())
    slug = request.args.get("client", "")
    client = next((c for c in clients if c.slug == slug), None)
    if slug and client is None:
        abort(404)
    error, report = None, None
    if client is not None:
        try:
            first, last = reports.parse_period(request.args.get("from"), request.args.get("to"), directory.today(client, now()))
            report = reports.build(s, user(), client, first, last)
        except reports.ReportError as e:
            error = str(e)
    if report is not None and request.args.get("format") == "csv":
        audit.record(s, "report.exported", actor=user(), client_id=report.client.id, at=now(),
                     client=report.client.name, start=report.first_day.isoformat(), end=report.last_day.isoformat())
        s.commit()
        name = f"vigil-access-{report.client.slug}-{report.first_day}-{report.last_day}.csv"
        return Response(reports.to_csv(report), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
    return render_template("access_report.html", clients=clients, client=client, report=report, error=error,
                           args=request.args, describe=audit.describe), (400 if error else 200)
