"""Managers open, change and retire what they created: escalation policies and people."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..accounts import people
from ..errors import EditError
from ..incidents import policies
from ..incidents.policies import StepInput
from ..models import EscalationPolicy, Role, User
from ..web import db_session, now, user
from .admin import MAX_STEPS, _choices, _int, _targets, managers_only

bp = Blueprint("manage", __name__, url_prefix="/admin")


def _steps_from_form(f: Any) -> list[StepInput]:
    steps = []
    for i in range(MAX_STEPS):
        targets = _targets(f.getlist(f"step{i}_targets"))
        if targets:
            steps.append(StepInput(_int(f.get(f"step{i}_delay")) or 0, targets))
    return steps


@bp.route("/policies/<int:policy_id>", methods=["GET", "POST"])
@managers_only
def policy(policy_id: int) -> Any:
    s = db_session()
    p = s.get(EscalationPolicy, policy_id) or abort(404)
    error = None
    if request.method == "POST":
        f = request.form
        try:
            policies.update_policy(s, user(), p, name=f.get("name", ""), steps=_steps_from_form(f),
                               repeat=_int(f.get("repeat")) or 0, response_minutes=_int(f.get("response_minutes")) or 0,
                               ack_timeout_minutes=_int(f.get("ack_timeout_minutes")), now=now())
            s.commit()
            flash(f"Policy {p.name} saved. Incidents escalating under it follow the new steps from their next one.", "ok")
            return redirect(url_for("manage.policy", policy_id=p.id))
        except EditError as e:
            s.rollback()
            p = s.get(EscalationPolicy, policy_id) or abort(404)
            error = str(e)
    chosen = [{f"{t.kind}:{t.user_id if t.kind == 'user' else t.layer_id}" for t in step.targets} for step in p.steps]
    return render_template("admin/policy_edit.html", policy=p, chosen=chosen, used_by=policies.users_of(s, p), error=error,
                           steps=range(MAX_STEPS), **_choices()), (400 if error else 200)


@bp.post("/policies/<int:policy_id>/delete")
@managers_only
def policy_delete(policy_id: int) -> Any:
    s = db_session()
    p = s.get(EscalationPolicy, policy_id) or abort(404)
    name = p.name
    try:
        policies.delete_policy(s, user(), p, now())
        s.commit()
        flash(f"Policy {name} deleted.", "ok")
        return redirect(url_for("admin.index"))
    except EditError as e:
        s.rollback()
        flash(f"Policy not deleted: {e}.", "error")
        return redirect(url_for("manage.policy", policy_id=policy_id))


@bp.route("/people/<int:user_id>", methods=["GET", "POST"])
@managers_only
def person(user_id: int) -> Any:
    s = db_session()
    u = s.get(User, user_id) or abort(404)
    error = None
    if request.method == "POST":
        f = request.form
        try:
            people.update_user(s, user(), u, name=f.get("name", ""), email=f.get("email", ""), role=f.get("role", u.role),
                             phone=f.get("phone"), client_id=_int(f.get("client_id")), now=now())
            s.commit()
            flash(f"{u.name} saved.", "ok")
            return redirect(url_for("manage.person", user_id=u.id))
        except EditError as e:
            s.rollback()
            u = s.get(User, user_id) or abort(404)
            error = str(e)
    return render_template("admin/person.html", person=u, error=error, paged_by=policies.policies_paging(s, u),
                           can_edit=user().has_role(Role.admin) or not u.has_role(Role.admin), **_choices()), (400 if error else 200)


@bp.post("/people/<int:user_id>/active")
@managers_only
def person_active(user_id: int) -> Any:
    s = db_session()
    u = s.get(User, user_id) or abort(404)
    active = request.form.get("active") == "1"
    try:
        people.set_active(s, user(), u, active, now())
        s.commit()
        flash(f"{u.name} is active again: they can log in and be paged." if active else
              f"{u.name} is deactivated: they cannot log in and are never paged. Their history stays.", "ok")
    except EditError as e:
        s.rollback()
        flash(f"Nothing changed: {e}.", "error")
    return redirect(url_for("manage.person", user_id=user_id))
