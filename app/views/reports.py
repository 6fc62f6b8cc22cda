"""Reports: incident history, response figures (with breaches and charts), load per engineer;
each as a page, CSV and JSON (a chart as SVG, and the table of its numbers as CSV and JSON).
Readers see the clients they may see (a client viewer, their own); load per engineer is for
managers and admins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, jsonify, render_template, request
from flask_login import login_required
from sqlalchemy import select

from .. import access
from ..errors import Denied
from ..models import Client, Role, Service, User
from ..reports import charts, figures, history, load, period, tables
from ..reports.sql import THRESHOLDS
from ..web import db_session, now, user
from ..web.timefmt import zone

bp = Blueprint("reports", __name__)


@bp.app_template_filter("minutes")
def minutes(seconds: float | None) -> str:
    """1380.0 -> "23 min", 5400 -> "1 h 30"."""
    if seconds is None:
        return "–"
    m = round(seconds / 60)
    return f"{m} min" if m < 60 else f"{m // 60} h {m % 60:02d}"


@bp.app_template_filter("percent")
def percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.0f} %"


@dataclass
class Ctx:
    visible: set[int] | None
    tz: ZoneInfo
    period: period.Period
    client_id: int | None
    by: str


def _ctx() -> Ctx:
    s, u = db_session(), user()
    tz = zone(u.timezone)
    p = period.parse(request.args, tz, now())
    by = request.args.get("by", "client")
    if by not in figures.GROUPS:
        abort(400, f"by must be one of {', '.join(figures.GROUPS)}")
    client_id = None
    raw = (request.args.get("client") or "").strip()
    if raw:
        if not raw.isdecimal() or int(raw) >= 2**31 or not access.can_see_client(s, u, int(raw)):
            raise Denied("client not found", 404)
        client_id = int(raw)
    return Ctx(access.visible_client_ids(s, u), tz, p, client_id, by)


def _history_filters() -> history.Filters:
    s, u = db_session(), user()
    f = history.Filters.parse(request.args, zone(u.timezone))
    if f.client_id is not None and not access.can_see_client(s, u, f.client_id):
        raise Denied("client not found", 404)
    return f


def _link_args() -> dict[str, str]:
    """The reader's query, carried into the page's links (CSV, the other reports), without `name`:
    the links' own route argument, which given twice to url_for was a 500."""
    return {k: v for k, v in request.args.items() if k != "name"}


def _staff_only() -> None:
    if not user().has_role(Role.admin, Role.manager):
        raise Denied("Load per engineer is for managers and admins.")


def _figures(c: Ctx) -> list[figures.Row]:
    return figures.compute(db_session(), start=c.period.start, end=c.period.end, now=now(), by=c.by,
                           visible=c.visible, client_id=c.client_id)


def _breaches(c: Ctx) -> list[figures.Breach]:
    return figures.breaches(db_session(), start=c.period.start, end=c.period.end, now=now(), visible=c.visible,
                            client_id=c.client_id)


def _load(c: Ctx) -> list[load.Load]:
    return load.compute(db_session(), start=c.period.start, end=c.period.end, now=now(), visible=c.visible)


def _charts(c: Ctx, with_load: bool) -> list[charts.Chart]:
    s = db_session()
    hours = charts.by_hour(s, c.period.start, c.period.end, now(), c.visible, c.client_id)
    out = [charts.ack_distribution(s, c.period.start, c.period.end, c.visible, c.client_id),
           charts.sla_per_month(hours, c.tz), charts.per_hour_of_day(hours, c.tz), charts.per_day_of_week(hours, c.tz)]
    if with_load:
        out.append(charts.load_chart(_load(c)))
    return out


CHARTS = ("ack", "sla", "hours", "days", "load")


def _chart(c: Ctx, name: str) -> charts.Chart:
    """One chart (CHARTS) as the figures page draws it: 404 for another name, 403 for load per
    engineer unless a manager or admin."""
    if name not in CHARTS:
        abort(404)
    if name == "load":
        _staff_only()
        return charts.load_chart(_load(c))
    return next(ch for ch in _charts(c, with_load=False) if ch.name == name)


def _clients_and_people() -> tuple[list[Client], list[Service], list[User]]:
    s, c = db_session(), access.visible_client_ids(db_session(), user())
    cq = select(Client).order_by(Client.name)
    if c is not None:
        cq = cq.where(Client.id.in_(sorted(c)))
    clients = list(s.execute(cq).scalars())
    services = [sv for cl in clients for sv in cl.services]
    people = [] if user().has_role(Role.client_viewer) else list(s.execute(
        select(User).where(User.role != Role.client_viewer.value).order_by(User.name)).scalars())
    return clients, services, people


# --- pages -----------------------------------------------------------------------------------


@bp.get("/history")
@login_required
def history_page() -> Any:
    s, u = db_session(), user()
    f = _history_filters()
    page = history.search(s, f, now=now(), visible=access.visible_client_ids(s, u))
    clients, services, people = _clients_and_people()
    rows = [history.as_dict(i, now()) for i in page.incidents]
    next_args = {**f.args(), **{k: v for k, v in request.args.items() if k in ("from", "to", "limit")},
                 "before": page.next_before}
    return render_template("reports/history.html", f=f, page=page, rows=rows, args=_link_args(), clients=clients,
                           services=services, people=people, next_args=next_args)


@bp.get("/reports")
@login_required
def figures_page() -> Any:
    c = _ctx()
    rows = _figures(c)
    clients, _, _ = _clients_and_people()
    drawn = [(ch, charts.svg(ch)) for ch in _charts(c, with_load=False)]
    this_month = now().astimezone(c.tz).date().replace(day=1)
    last_month = (this_month - timedelta(days=1)).strftime("%Y-%m")
    return render_template("reports/figures.html", c=c, rows=rows, breaches=_breaches(c), charts=drawn,
                           thresholds=THRESHOLDS, clients=clients, groups=figures.GROUPS, args=_link_args(),
                           last_month=last_month)


@bp.get("/reports/load")
@login_required
def load_page() -> Any:
    _staff_only()
    c = _ctx()
    rows = _load(c)
    chart = charts.load_chart(rows)
    return render_template("reports/load.html", c=c, rows=rows, chart=chart, drawn=charts.svg(chart), args=_link_args())


@bp.get("/reports/charts/<name>.svg")
@login_required
def chart_svg(name: str) -> Any:
    body = '<?xml version="1.0" encoding="UTF-8"?>\n' + charts.svg(_chart(_ctx(), name), standalone=True)
    # Alone, the SVG styles itself (its own <style>, no script): allow that, and only that.
    return Response(body, mimetype="image/svg+xml",
                    headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


# --- CSV -------------------------------------------------------------------------------------


@bp.get("/reports/<name>.csv")
@login_required
def report_csv(name: str) -> Any:
    if name == "history":
        s, u = db_session(), user()
        f = _history_filters()
        page = history.search(s, f, now=now(), visible=access.visible_client_ids(s, u))
        body = tables.to_csv(history.CSV_COLUMNS, [history.csv_row(history.as_dict(i, now())) for i in page.incidents])
    elif name == "figures":
        body = tables.to_csv(figures.TABLE_COLUMNS, [figures.table_row(r) for r in _figures(_ctx())])
    elif name == "breaches":
        body = tables.to_csv(figures.BREACH_COLUMNS, [figures.breach_row(b.as_dict()) for b in _breaches(_ctx())])
    elif name == "load":
        _staff_only()
        rows_l = _load(_ctx())
        body = tables.to_csv(["engineer", "timezone", "incidents_handled", "pages", "night_pages", "weekend_pages",
                              "seconds_on_incidents"],
                             [[r.name, r.timezone, r.handled, r.pages, r.night, r.weekend, r.seconds_on_incidents]
                              for r in rows_l])
    else:
        abort(404)
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="vigil-{name}.csv"'})


@bp.get("/reports/charts/<name>.csv")
@login_required
def chart_csv(name: str) -> Any:
    ch = _chart(_ctx(), name)
    return Response(tables.to_csv(ch.header(), ch.table()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="vigil-chart-{name}.csv"'})


# --- JSON ------------------------------------------------------------------------------------


@bp.get("/api/v1/reports/history")
@login_required
def history_api() -> Any:
    s, u = db_session(), user()
    f = _history_filters()
    page = history.search(s, f, now=now(), visible=access.visible_client_ids(s, u))
    return jsonify({"incidents": [history.as_dict(i, now()) for i in page.incidents], "next_before": page.next_before})


@bp.get("/api/v1/reports/figures")
@login_required
def figures_api() -> Any:
    c = _ctx()
    return jsonify({"from": c.period.first.isoformat(), "to": c.period.last.isoformat(), "timezone": c.tz.key,
                    "by": c.by, "groups": [r.as_dict() for r in _figures(c)]})


@bp.get("/api/v1/reports/breaches")
@login_required
def breaches_api() -> Any:
    c = _ctx()
    return jsonify({"from": c.period.first.isoformat(), "to": c.period.last.isoformat(),
                    "breaches": [b.as_dict() for b in _breaches(c)]})


@bp.get("/api/v1/reports/charts/<name>")
@login_required
def chart_api(name: str) -> Any:
    c = _ctx()
    return jsonify({"from": c.period.first.isoformat(), "to": c.period.last.isoformat(), "timezone": c.tz.key,
                    **_chart(c, name).as_dict()})


@bp.get("/api/v1/reports/load")
@login_required
def load_api() -> Any:
    _staff_only()
    c = _ctx()
    return jsonify({"from": c.period.first.isoformat(), "to": c.period.last.isoformat(),
                    "engineers": [r.as_dict() for r in _load(c)]})
