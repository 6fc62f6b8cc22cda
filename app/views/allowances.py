"""The on-call allowance report (a page managers read, and CSV for payroll) and the pools' rates."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select

from ..access import check_see_pool
from ..errors import ActionError, Denied
from ..models import Pool
from ..schedules import allowance_report
from ..web import db_session, now, user

bp = Blueprint("allowances", __name__)


def _last_month(today: date) -> tuple[date, date]:
    first_this = today.replace(day=1)
    last = first_this - timedelta(days=1)
    return last.replace(day=1), last


@bp.get("/reports/allowances.csv")
@login_required
def allowances_csv() -> Any:
    return allowances(as_csv=True)


@bp.get("/reports/allowances")
@login_required
def allowances(as_csv: bool = False) -> Any:
    s, u = db_session(), user()
    if not u.has_role("admin", "manager"):
        raise Denied("The allowance report is for managers and admins. Your own shifts are on My shifts "
                     "(/me/shifts); ask your manager for your allowance figures.")
    pools = s.execute(select(Pool).order_by(Pool.id)).scalars().all()
    default_from, default_to = _last_month(now().date())
    args = request.args
    as_csv = as_csv or args.get("format") == "csv"
    try:
        pool_id = int(args.get("pool", pools[0].id if pools else 0))
        first, last = allowance_report.period(args.get("from", default_from.isoformat()),
                                              args.get("to", default_to.isoformat()))
        report = allowance_report.build(s, u, pool_id, first, last) if pools else None
    except (ActionError, ValueError) as e:
        message = e.message if isinstance(e, ActionError) else "pool must be a pool id"
        if as_csv:
            return Response(message + "\n", status=400, mimetype="text/plain")
        flash(message, "error")
        return render_template("schedules/allowances.html", report=None, pools=pools, args=args,
                               first=default_from, last=default_to), 400
    if as_csv:
        if report is None:
            return Response("no pool yet\n", status=404, mimetype="text/plain")
        name = f"allowances-{report.pool.name.replace(' ', '_')}-{first}-{last}.csv"
        return Response(report.csv(), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return render_template("schedules/allowances.html", report=report, pools=pools, args=args, first=first, last=last)


@bp.post("/pools/<int:pool_id>/rates")
@login_required
def rates(pool_id: int) -> Any:
    s, f = db_session(), request.form
    check_see_pool(s, user(), pool_id)  # a pool the user is not in: 404, before 403
    try:
        allowance_report.set_rates(s, user(), pool_id, weekday=f.get("weekday"), weekend=f.get("weekend"),
                                   holiday=f.get("holiday"), currency=f.get("currency"), country=f.get("country"))
        s.commit()
        flash("Allowance rates saved.", "ok")
    except ActionError as e:
        s.rollback()
        flash(e.message, "error")
    return redirect(url_for("allowances.allowances", pool=pool_id, **{k: v for k, v in f.items() if k in ("from", "to")}))
