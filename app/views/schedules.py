"""The schedule screens: the list with coming gaps, a schedule's coming weeks day by day, and the
managers' forms (schedules, layers, overrides, swaps, clients' coverage hours)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select

from ..access import check_manage_client, check_see_schedule, require_manager, visible_pool_ids
from ..db import is_id
from ..errors import ActionError
from ..models import Client, Pool, PoolMember, Role, ScheduleLayer, ScheduleOverride, User
from ..schedules import client_coverage, open_slots, overrides, whos_on
from ..schedules import store as schedule_store
from ..schedules.coverage import local_to_utc, zone
from ..schedules.rosters import load, pieces_around
from ..web import db_session, now, timefmt, user

bp = Blueprint("schedules", __name__)
WEEKS_SHOWN = 4


def _saved(action: Callable[[], Any], ok: str, then: str, fail_to: str | None = None) -> Any:
    """Run a change, commit, say so and redirect; a refusal is a message on the page."""
    s = db_session()
    try:
        action()
        s.commit()
        flash(ok, "ok")
    except ActionError as e:
        s.rollback()
        flash(e.message, "error")
        return redirect(fail_to or then)
    return redirect(then)


def _back(schedule_id: int) -> str:
    return url_for("schedules.detail", schedule_id=schedule_id)


def _local(value: str | None, tz: str, what: str) -> datetime:
    """A datetime-local field, read on the schedule's clock (DST rules of coverage.local_to_utc)."""
    try:
        naive = datetime.fromisoformat(value or "")
    except ValueError:
        raise ActionError(f"{what} must be a date and time", 400) from None
    return local_to_utc(naive.date(), naive.time(), zone(tz))


@bp.app_template_filter("local")
def local_time(value: datetime | str, tz: str | None = None) -> str:
    """An instant on the viewer's own clock, in their locale's format; the zone is named when the
    schedule's (`tz`) is another one, so "09:00" is never read on the wrong clock."""
    from .profile import viewer_locale, viewer_zone_name

    t = datetime.fromisoformat(value) if isinstance(value, str) else value
    mine = viewer_zone_name()
    return timefmt.format_instant(t, "datetime", tz=mine, loc=viewer_locale(), name_zone=bool(tz) and tz != mine)


def _is_manager() -> bool:
    return user().has_role(Role.admin, Role.manager)


@bp.get("/schedules")
@login_required
def index() -> Any:
    s, u, t = db_session(), user(), now()
    board = whos_on.oncall(s, u, t)
    arg = request.args.get("weeks", "4")
    weeks = min(max(int(arg), 1), 26) if arg.isdecimal() else 4
    gaps = open_slots.gaps(s, t, t + timedelta(weeks=weeks), visible_pool_ids(s, u)) if _is_manager() else []
    clients = s.execute(select(Client).order_by(Client.name)).scalars().all() if _is_manager() else []
    coverage = {c.id: client_coverage.describe(c.coverage, c.timezone) for c in clients}
    return render_template("schedules/index.html", board=board, gaps=gaps, weeks=weeks, clients=clients,
                           coverage=coverage, manager=_is_manager())


@bp.get("/schedules/<int:schedule_id>")
@login_required
def detail(schedule_id: int) -> Any:
    s, t = db_session(), now()
    row = check_see_schedule(s, user(), schedule_id)
    tz = zone(row.timezone)
    try:
        first = date.fromisoformat(request.args["from"]) if "from" in request.args else t.astimezone(tz).date()
    except ValueError:
        first = t.astimezone(tz).date()
    start = local_to_utc(first, datetime.min.time(), tz)
    (roster,) = load(s, start - timedelta(days=35), start + timedelta(weeks=WEEKS_SHOWN, days=35), schedule_ids=[row.id])
    days = whos_on.timeline(s, roster, first, WEEKS_SHOWN * 7)
    members = s.execute(select(User).join(PoolMember, PoolMember.user_id == User.id)
                        .where(PoolMember.pool_id == row.pool_id, User.active).order_by(User.name)).scalars().all()
    names = {m.id: m.name for m in members}
    shifts: dict[int, list[Any]] = {layer.id: [] for layer in row.layers}
    for p in pieces_around(roster, start, start + timedelta(weeks=WEEKS_SHOWN), staffed=True):
        shifts.setdefault(p.layer_id, []).append((p, names.get(p.user_id, "Open slot" if p.user_id is None else "?")))
    return render_template(
        "schedules/detail.html", schedule=row, days=days, first=first, tz=tz, manager=_is_manager(), now_utc=t,
        describe=schedule_store.describe, members=members, shifts=shifts,
        overrides=overrides.listed(s, row.id, t - timedelta(days=1)) if _is_manager() else [],
        coverage=client_coverage.describe(row.coverage, row.timezone),
        previous=first - timedelta(weeks=WEEKS_SHOWN), following=first + timedelta(weeks=WEEKS_SHOWN),
    )


# --- schedules -------------------------------------------------------------------------------------


@bp.route("/schedules/new", methods=["GET", "POST"])
@bp.route("/schedules/<int:schedule_id>/edit", methods=["GET", "POST"])
@login_required
def edit(schedule_id: int | None = None) -> Any:
    s, u = db_session(), user()
    row = check_see_schedule(s, u, schedule_id) if schedule_id else None  # hidden: 404, before 403
    require_manager(u)
    pools = s.execute(select(Pool).order_by(Pool.name)).scalars().all()
    values: dict[str, Any] = {"name": row.name, "pool_id": row.pool_id, "timezone": row.timezone,
                              "coverage": row.coverage or {"kind": "always"}} if row else \
        {"name": "", "pool_id": pools[0].id if pools else None, "timezone": "Europe/Paris", "coverage": {"kind": "always"}}
    if request.method == "POST":
        f = request.form
        values = {"name": f.get("name", ""), "pool_id": int(f["pool_id"]) if f.get("pool_id", "").isdecimal() else None,
                  "timezone": f.get("timezone", ""), "coverage": client_coverage.spec_from_form(f)}
        try:
            saved = schedule_store.save_schedule(s, u, schedule_id, now=now(), **values)
            s.commit()
            flash(f"{saved.name} saved.", "ok")
            return redirect(url_for("schedules.detail", schedule_id=saved.id))
        except ActionError as e:
            s.rollback()
            flash(e.message, "error")
    return render_template("schedules/edit.html", schedule=row, values=values, pools=pools), \
        (400 if request.method == "POST" else 200)


@bp.post("/schedules/<int:schedule_id>/delete")
@login_required
def delete(schedule_id: int) -> Any:
    check_see_schedule(db_session(), user(), schedule_id)
    require_manager(user())
    return _saved(lambda: schedule_store.delete_schedule(db_session(), user(), schedule_id, now()),
                  "Schedule deleted.", url_for("schedules.index"), _back(schedule_id))


# --- layers ---------------------------------------------------------------------------------------


@bp.route("/schedules/<int:schedule_id>/layers/new", methods=["GET", "POST"])
@bp.route("/schedules/<int:schedule_id>/layers/<int:layer_id>/edit", methods=["GET", "POST"])
@login_required
def edit_layer(schedule_id: int, layer_id: int | None = None) -> Any:
    s, u, t = db_session(), user(), now()
    row = check_see_schedule(s, u, schedule_id)
    require_manager(u)
    layer = s.get(ScheduleLayer, layer_id) if layer_id and is_id(layer_id) else None
    if layer_id and (layer is None or layer.schedule_id != row.id):
        return "layer not found", 404
    current = max(layer.rotations, key=lambda v: v.effective_from) if layer and layer.rotations else None
    values = schedule_store.form_values(current) if current else {
        "members": [], "length": "weekly", "length_hours": 12, "handoff_day": 0, "handoff_time": "09:00",
        "start_date": t.astimezone(zone(row.timezone)).date().isoformat(), "timezone": row.timezone}
    values["name"] = layer.name if layer else ""
    if request.method == "POST":
        f = request.form
        turns = [f.get(f"turn_{i}", "") for i in range(schedule_store.MAX_TURNS)]
        values = {**{k: f.get(k, "") for k in ("name", "length", "length_hours", "handoff_day", "handoff_time",
                                                "start_date", "timezone")},
                  "members": [None if v == "open" else int(v) for v in turns if v == "open" or v.isdecimal()]}
        try:
            spec = schedule_store.RotationSpec.parse(values)
            saved = schedule_store.save_layer(s, u, row.id, layer_id, name=values["name"], rotation=spec, now=t)
            s.commit()
            flash(f"{saved.name} saved: the change applies from now on; the past stays as it was.", "ok")
            return redirect(url_for("schedules.detail", schedule_id=row.id))
        except ActionError as e:
            s.rollback()
            flash(e.message, "error")
    members = s.execute(select(User).join(PoolMember, PoolMember.user_id == User.id)
                        .where(PoolMember.pool_id == row.pool_id, User.active).order_by(User.name)).scalars().all()
    slots = max(8, len(values["members"]) + 2)
    return render_template("schedules/layer.html", schedule=row, layer=layer, values=values, members=members,
                           slots=min(slots, schedule_store.MAX_TURNS), weekdays=schedule_store.WEEKDAYS), \
        (400 if request.method == "POST" else 200)


@bp.post("/schedules/<int:schedule_id>/layers/<int:layer_id>/delete")
@login_required
def delete_layer(schedule_id: int, layer_id: int) -> Any:
    row = check_see_schedule(db_session(), user(), schedule_id)
    require_manager(user())
    if layer_id not in {x.id for x in row.layers}:
        return "layer not found", 404
    return _saved(lambda: schedule_store.delete_layer(db_session(), user(), layer_id, now()),
                  "Layer deleted.", _back(schedule_id))


# --- overrides --------------------------------------------------------------------------------------


@bp.post("/schedules/<int:schedule_id>/overrides")
@login_required
def add_override(schedule_id: int) -> Any:
    s, f = db_session(), request.form
    row = check_see_schedule(s, user(), schedule_id)
    require_manager(user())

    def act() -> None:
        who = f.get("user_id", "")
        start, end = _local(f.get("start"), row.timezone, "the start"), _local(f.get("end"), row.timezone, "the end")
        layer_id = int(f["layer_id"]) if f.get("layer_id", "").isdecimal() else None
        if layer_id not in {x.id for x in row.layers}:
            raise ActionError("choose a layer of this schedule", 400)
        overrides.create(s, user(), layer_id, int(who) if who.isdecimal() else None, start, end, now(), f.get("note"))

    return _saved(act, "Override saved.", _back(schedule_id))


@bp.post("/schedules/<int:schedule_id>/swap")
@login_required
def swap(schedule_id: int) -> Any:
    s, f = db_session(), request.form
    row = check_see_schedule(s, user(), schedule_id)
    require_manager(user())

    def act() -> None:
        layer_id = int(f["layer_id"]) if f.get("layer_id", "").isdecimal() else None
        if layer_id not in {x.id for x in row.layers}:
            raise ActionError("choose a layer of this schedule", 400)
        try:
            a, b = datetime.fromisoformat(f.get("a", "")), datetime.fromisoformat(f.get("b", ""))
        except ValueError:
            a = b = None  # type: ignore[assignment]
        if a is None or b is None or a.tzinfo is None or b.tzinfo is None:
            raise ActionError("choose the two shifts to swap", 400)
        overrides.swap(s, user(), layer_id, a, b, now())

    return _saved(act, "Shifts swapped.", _back(schedule_id))


@bp.post("/schedules/<int:schedule_id>/overrides/<int:override_id>/delete")
@login_required
def delete_override(schedule_id: int, override_id: int) -> Any:
    s = db_session()
    row = check_see_schedule(s, user(), schedule_id)
    require_manager(user())
    found = s.get(ScheduleOverride, override_id)
    if found is None or found.layer_id not in {x.id for x in row.layers}:
        return "override not found", 404
    return _saved(lambda: overrides.delete(db_session(), user(), override_id, now()),
                  "Override removed.", _back(schedule_id))


# --- clients' coverage hours ------------------------------------------------------------------------


@bp.route("/clients/<int:client_id>/coverage", methods=["GET", "POST"])
@login_required
def client_hours(client_id: int) -> Any:
    s, u = db_session(), user()
    client = check_manage_client(s, u, client_id)  # a client the user cannot see: 404, before 403
    values = {"coverage": client.coverage or {"kind": "always"}, "timezone": client.timezone,
              "out_of_coverage": client.out_of_coverage}
    if request.method == "POST":
        f = request.form
        values = {"coverage": client_coverage.spec_from_form(f), "timezone": f.get("timezone", ""),
                  "out_of_coverage": f.get("out_of_coverage", "")}
        try:
            client_coverage.set_coverage(s, u, client.id, values["coverage"], values["out_of_coverage"],
                                         values["timezone"], now())
            s.commit()
            flash(f"{client.name}'s coverage hours saved.", "ok")
            return redirect(url_for("schedules.index"))
        except ActionError as e:
            s.rollback()
            flash(e.message, "error")
    return render_template("schedules/client_coverage.html", client=client, values=values,
                           choices=client_coverage.CHOICES), (400 if request.method == "POST" else 200)
