"""Manager screens: clients, services, pools, users and escalation policies.

Server-rendered forms (they work on a phone, with or without JavaScript); every refusal comes
back as a message on the form."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..access import Denied, require_role
from ..accounts.users import UserError, create_user
from ..clients import directory
from ..db import MAX_ID
from ..incidents import policies
from ..incidents.escalation import TargetSpec
from ..incidents.policies import PRESETS, PolicyError
from ..models import TIERS, Client, EscalationPolicy, Pool, Role, Schedule, ScheduleLayer, User
from ..web import db_session, now, user

bp = Blueprint("admin", __name__, url_prefix="/admin")
MAX_STEPS = 6


def managers_only(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    @login_required
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_role(user(), Role.admin, Role.manager)
        return view(*args, **kwargs)

    return wrapper


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _id(value: str | None) -> int | None:
    """A row id from a form: a number beyond the database's integers names no row (0), rather
    than overflowing in the database."""
    n = _int(value)
    return n if n is None or 0 < n <= MAX_ID else 0


def _choices() -> dict[str, Any]:
    s = db_session()
    return {
        "pools": s.execute(select(Pool).order_by(Pool.name)).scalars().all(),
        "policies": s.execute(select(EscalationPolicy).order_by(EscalationPolicy.name)).scalars().all(),
        "people": s.execute(select(User).where(User.role != Role.client_viewer.value, User.active).order_by(User.name)).scalars().all(),
        "clients": s.execute(select(Client).order_by(Client.name)).scalars().all(),
        # Escalation can target "whoever holds this layer when the step fires".
        "layers": [
            {"id": layer.id, "label": f"{layer.name} on call, {sched.name}"}
            for layer, sched in s.execute(
                select(ScheduleLayer, Schedule).join(Schedule, ScheduleLayer.schedule_id == Schedule.id)
                .order_by(Schedule.name, ScheduleLayer.position)
            ).all()
        ],
        "tiers": TIERS,
        "roles": [r.value for r in Role],
    }


@bp.get("")
@managers_only
def index() -> Any:
    s = db_session()
    clients = s.execute(select(Client).options(selectinload(Client.services)).order_by(Client.name)).scalars().all()
    users = s.execute(select(User).order_by(User.role, User.name)).scalars().all()
    pools = s.execute(select(Pool).options(selectinload(Pool.members)).order_by(Pool.name)).scalars().all()
    choices = _choices()
    return render_template("admin/index.html", clients=clients, users=users, pools=pools,
                           policies=choices["policies"], tiers=TIERS)


@bp.route("/clients/new", methods=["GET", "POST"])
@bp.route("/clients/<int:client_id>", methods=["GET", "POST"])
@managers_only
def client_form(client_id: int | None = None) -> Any:
    s = db_session()
    client = s.get(Client, client_id) if client_id is not None else None
    if client_id is not None and client is None:
        abort(404)
    error = None
    if request.method == "POST":
        f = request.form
        try:
            client = directory.save_client(
                s, now=now(), client=client, name=f.get("name", ""), slug=f.get("slug", ""), tier=f.get("tier", ""),
                pool_id=_id(f.get("pool_id")), policy_id=_id(f.get("policy_id")),
                timezone=f.get("timezone", "Europe/Paris"), handover_email=f.get("handover_email"),
            )
            s.commit()
            flash(f"{client.name} saved.", "ok")
            return redirect(url_for("admin.client_form", client_id=client.id))
        except directory.DirectoryError as e:
            s.rollback()
            error = str(e)
    return render_template("admin/client.html", client=client, error=error, form=request.form, **_choices()), (400 if error else 200)


@bp.post("/clients/<int:client_id>/services")
@managers_only
def add_service(client_id: int) -> Any:
    s = db_session()
    client = s.get(Client, client_id) or abort(404)
    try:
        directory.add_service(s, client, request.form.get("name", ""), now=now(), policy_id=_id(request.form.get("policy_id")))
        s.commit()
        flash("Service added.", "ok")
    except directory.DirectoryError as e:
        s.rollback()
        flash(str(e), "error")
    return redirect(url_for("admin.client_form", client_id=client_id))


@bp.route("/users/new", methods=["GET", "POST"])
@managers_only
def user_form() -> Any:
    s = db_session()
    error = None
    if request.method == "POST":
        f = request.form
        role = f.get("role", "engineer")
        try:
            if role == Role.admin.value and not user().has_role(Role.admin):
                raise Denied("only an admin can create an admin")
            u = create_user(s, email=f.get("email", ""), name=f.get("name", ""), role=role,
                            password=f.get("password") or None, now=now(), phone=f.get("phone") or None,
                            client_id=_id(f.get("client_id")) if role == Role.client_viewer.value else None)
            s.commit()
            flash(f"{u.name} can now log in as {u.email}.", "ok")
            return redirect(url_for("admin.index"))
        except UserError as e:
            s.rollback()
            error = str(e)
    return render_template("admin/user.html", error=error, form=request.form, **_choices()), (400 if error else 200)


@bp.route("/pools/new", methods=["GET", "POST"])
@bp.route("/pools/<int:pool_id>", methods=["GET", "POST"])
@managers_only
def pool_form(pool_id: int | None = None) -> Any:
    s = db_session()
    pool = s.get(Pool, pool_id) if pool_id is not None else None
    if pool_id is not None and pool is None:
        abort(404)
    error = None
    if request.method == "POST":
        try:
            ids = [i for i in (_id(v) for v in request.form.getlist("members")) if i]
            pool = directory.save_pool(s, request.form.get("name", ""), ids, now=now(), pool=pool)
            s.commit()
            flash(f"{pool.name} saved.", "ok")
            return redirect(url_for("admin.index"))
        except directory.DirectoryError as e:
            s.rollback()
            error = str(e)
    members = {m.user_id for m in pool.members} if pool else set()
    return render_template("admin/pool.html", pool=pool, members=members, error=error, **_choices()), (400 if error else 200)


def _targets(values: list[str]) -> tuple[TargetSpec, ...]:
    """Form values look like "user:7" or "layer:3"."""
    out = []
    for v in values:
        kind, _, ident = v.partition(":")
        if kind in ("user", "layer") and ident.isdecimal():
            out.append(TargetSpec(kind, _id(ident) or 0))  # policies.create refuses unknown ones
    return tuple(out)


@bp.route("/policies/new", methods=["GET", "POST"])
@managers_only
def policy_form() -> Any:
    s = db_session()
    error = None
    if request.method == "POST":
        f = request.form
        try:
            if f.get("preset"):
                preset = PRESETS.get(f["preset"]) or abort(400)
                roles = {r: t[0] for r in preset.roles if (t := _targets([f.get(f"role_{r}", "")]))}
                policy = policies.create_preset(s, preset.tier, f.get("name", ""), roles, now=now())
            else:
                steps = []
                for i in range(MAX_STEPS):
                    targets = _targets(f.getlist(f"step{i}_targets"))
                    if targets:
                        steps.append(policies.StepInput(_int(f.get(f"step{i}_delay")) or 0, targets))
                policy = policies.create(
                    s, f.get("name", ""), steps, now=now(), repeat=_int(f.get("repeat")) or 0,
                    response_minutes=_int(f.get("response_minutes")) or 240,
                    ack_timeout_minutes=_int(f.get("ack_timeout_minutes")),
                )
            s.commit()
            flash(f"Policy {policy.name} created.", "ok")
            return redirect(url_for("admin.index"))
        except PolicyError as e:
            s.rollback()
            error = "; ".join(e.errors)
    return render_template("admin/policy.html", error=error, form=request.form, presets=PRESETS,
                           steps=range(MAX_STEPS), **_choices()), (400 if error else 200)


@bp.app_context_processor
def nav() -> dict[str, Any]:
    from flask_login import current_user

    return {"is_manager": current_user.is_authenticated and current_user.has_role(Role.admin, Role.manager)}



