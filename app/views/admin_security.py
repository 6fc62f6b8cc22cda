"""Admin screens: users (password reset, second factor removal), security settings, the audit
log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select

from .. import audit
from ..access import Denied, require_role
from ..accounts import recovery, throttle, totp
from ..accounts.users import UserError
from ..models import AuditEntry, Role
from ..web import db_session, now, user
from ..web.httpsec import no_store

bp = Blueprint("admin_security", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def admins_only() -> None:
    require_role(user(), Role.admin)


@bp.get("/users")
def users() -> Any:
    s = db_session()
    rows = recovery.users(s)
    locked = {u.id: throttle.locked_until(s, u.email, now()) for u in rows}
    return render_template("admin_users.html", users=rows, locked=locked, totp=totp)


@bp.route("/users/<int:user_id>/reset", methods=["GET", "POST"])
def reset(user_id: int) -> Any:
    s = db_session()
    try:
        target = recovery.find(s, user_id)
    except UserError:
        raise Denied("no such user", 404) from None
    if request.method == "GET":
        return render_template("admin_reset.html", target=target, enabled=totp.enabled(target), error=None, password=None)
    try:
        password = recovery.reset_password(
            s, user(), target, now(), password=request.form.get("password") or None,
            clear_totp=bool(request.form.get("clear_totp")), revoke_tokens=bool(request.form.get("revoke_tokens")))
    except UserError as e:
        s.rollback()
        return render_template("admin_reset.html", target=target, enabled=totp.enabled(target), error=str(e),
                               password=None), 400
    s.commit()
    no_store()
    shown = None if request.form.get("password") else password
    return render_template("admin_reset.html", target=target, enabled=totp.enabled(target), error=None, password=shown,
                           done=True)


@bp.route("/security", methods=["GET", "POST"])
def security() -> Any:
    s = db_session()
    if request.method == "POST":
        totp.set_required_roles(s, user(), set(request.form.getlist("totp_roles")), now())
        s.commit()
        flash("Saved. Users of the checked roles set up a second factor at their next login.", "ok")
        return redirect(url_for("admin_security.security"))
    return render_template("admin_security.html", required=totp.required_roles(s), roles=totp.STAFF_ROLES)


@bp.get("/audit")
def audit_log() -> Any:
    """The latest entries, newest first; ?action=login. filters by prefix, ?before=<id> pages."""
    s = db_session()
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(200)
    prefix = request.args.get("action", "").strip()
    if prefix:
        q = q.where(AuditEntry.action.startswith(prefix, autoescape=True))
    before = request.args.get("before", "")
    if before.isdecimal():
        q = q.where(AuditEntry.id < min(int(before), 2**63 - 1))  # beyond 64 bits: every entry (not an overflow)
    rows = list(s.execute(q).scalars())
    return render_template("admin_audit.html", entries=rows, prefix=prefix, describe=audit.describe)
