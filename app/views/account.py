"""The user's own security settings: API tokens, the second factor, logged-in devices."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import login_required

from ..accounts import logins, tokens, totp
from ..clients.crypto import vault_for
from ..web import db_session, now, user
from ..web.httpsec import no_store

bp = Blueprint("account", __name__, url_prefix="/settings")
EXPIRY_CHOICES = {"": None, "30": 30, "90": 90, "365": 365}


@bp.get("/tokens")
@login_required
def token_list() -> Any:
    s = db_session()
    return render_template("tokens.html", tokens=tokens.list_for(s, user()), scopes=tokens.allowed_scopes(user()),
                           created=None, now=now())


@bp.post("/tokens")
@login_required
def token_create() -> Any:
    s = db_session()
    days = EXPIRY_CHOICES.get(request.form.get("expires", ""), None)
    try:
        row, plain = tokens.create(s, user(), request.form.get("name", ""), request.form.getlist("scopes"), now(), days=days)
    except tokens.TokenError as e:
        s.rollback()
        flash(str(e), "error")
        return redirect(url_for("account.token_list"))
    s.commit()
    no_store()  # the only time the token is ever shown
    return render_template("tokens.html", tokens=tokens.list_for(s, user()), scopes=tokens.allowed_scopes(user()),
                           created=(row, plain), now=now()), 201


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def token_revoke(token_id: int) -> Any:
    s = db_session()
    try:
        row = tokens.revoke(s, user(), token_id, now())
    except tokens.TokenError:
        return "no such token", 404
    s.commit()
    flash(f"Token {row.name} ({row.prefix}…) revoked.", "ok")
    return redirect(url_for("account.token_list"))


def _enrol_secret() -> str:
    secret = session.get("enrol_secret") or totp.new_secret()
    session["enrol_secret"] = secret
    return str(secret)


@bp.get("/security")
@login_required
def security() -> Any:
    s = db_session()
    u = user()
    context: dict[str, Any] = {"enabled": totp.enabled(u), "required": totp.required_for(s, u),
                               "devices": logins.devices(s, u), "current_sid": session.get("sid")}
    if not context["enabled"] and not u.has_role("client_viewer"):
        secret = _enrol_secret()
        uri = totp.provisioning_uri(secret, u)
        context.update(secret=secret, uri=uri, qr=totp.qr_data_url(uri))
        no_store()
    return render_template("security.html", **context)


@bp.post("/totp")
@login_required
def totp_enable() -> Any:
    s = db_session()
    u = user()
    if totp.enabled(u):
        return redirect(url_for("account.security"))
    if totp.enable(s, vault_for(current_app), u, _enrol_secret(), request.form.get("code", ""), now()):
        s.commit()
        session.pop("enrol_secret", None)
        flash("Second factor on: every login now asks for a code from your app.", "ok")
    else:
        flash("That code is not right: check the phone's clock, and type the code now shown.", "error")
    return redirect(url_for("account.security"))


@bp.post("/totp/disable")
@login_required
def totp_disable() -> Any:
    s = db_session()
    u = user()
    if totp.required_for(s, u):
        flash("Your team requires a second factor for your role.", "error")
    elif not totp.verify(s, vault_for(current_app), u, request.form.get("code", ""), now()):
        s.commit()  # a used step stays used
        flash("That code is not right: turning the second factor off needs a current code.", "error")
    else:
        totp.disable(s, u, u, now())
        s.commit()
        flash("Second factor off.", "ok")
    return redirect(url_for("account.security"))


@bp.post("/sessions/end-others")
@login_required
def end_other_sessions() -> Any:
    s = db_session()
    keep = session.get("sid")
    for d in logins.devices(s, user()):
        if d.id != keep:
            logins.end_session(s, d.id, now())
    s.commit()
    flash("Every other device is logged out.", "ok")
    return redirect(url_for("account.security"))
