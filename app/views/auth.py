"""Logging in and out: password, then (when enrolled or required) the TOTP second step."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import login_required, login_user, logout_user

from ..accounts import logins, totp
from ..clients.crypto import vault_for
from ..models import User
from ..web import db_session, now

bp = Blueprint("auth", __name__)
PENDING_SECONDS = 600  # time allowed between the password and the second step


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never bounce a freshly logged-in user to another origin.
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return url_for("pages.home")
    return target


def _client() -> tuple[str | None, str | None]:
    return request.remote_addr, request.headers.get("User-Agent")


def _complete(u: User, factor: str, next_url: str | None) -> Any:
    s = db_session()
    ip, ua = _client()
    session.clear()  # a fresh session on login: no fixation
    session.permanent = True
    session["sid"] = logins.start_session(s, u, now(), ip, ua, factor, keep_days=current_app.config["SESSION_DAYS"])
    login_user(u, remember=False)
    s.commit()
    return redirect(_safe_next(next_url))


def _pending(step: str) -> User | None:
    p = session.get("pending_login")
    if not isinstance(p, dict) or p.get("step") != step or time.time() - float(p.get("at", 0)) > PENDING_SECONDS:
        return None
    return logins.pending_user(db_session(), p.get("uid"), p.get("v"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("login.html", error=None)
    ip, ua = _client()
    step = logins.password_step(db_session(), current_app.config, request.form.get("email", ""),
                                request.form.get("password", ""), now(), ip, ua)
    if step.outcome == "in":
        assert step.user is not None
        return _complete(step.user, "password", request.args.get("next"))
    if step.outcome in ("totp", "enrol"):
        assert step.user is not None
        session.clear()
        session["pending_login"] = {"uid": step.user.id, "v": step.user.session_version, "step": step.outcome,
                                    "at": time.time(), "next": request.args.get("next")}
        return redirect(url_for("auth.second_factor" if step.outcome == "totp" else "auth.enrol"))
    return render_template("login.html", error=step.message, email=request.form.get("email", "")[:254]), (
        429 if step.outcome == "locked" else 401)


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor() -> Any:
    u = _pending("totp")
    if u is None:
        session.pop("pending_login", None)
        return redirect(url_for("auth.login"))
    error, status = None, 200
    if request.method == "POST":
        ip, ua = _client()
        step = logins.totp_step(db_session(), current_app.config, vault_for(current_app), u,
                                request.form.get("code", ""), now(), ip, ua)
        if step.outcome == "in":
            return _complete(u, "password+totp", session["pending_login"].get("next"))
        error, status = step.message, (429 if step.outcome == "locked" else 401)
    return render_template("login_code.html", error=error), (status if error else 200)


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol() -> Any:
    """An admin requires a second factor for this role: set it up before the first login."""
    u = _pending("enrol")
    if u is None:
        session.pop("pending_login", None)
        return redirect(url_for("auth.login"))
    secret = session.get("enrol_secret") or totp.new_secret()
    session["enrol_secret"] = secret
    error = None
    if request.method == "POST":
        ip, ua = _client()
        step = logins.enrol_step(db_session(), current_app.config, vault_for(current_app), u, secret,
                                 request.form.get("code", ""), now(), ip, ua)
        if step.outcome == "in":
            return _complete(u, "password+totp", session["pending_login"].get("next"))
        error = step.message
    uri = totp.provisioning_uri(secret, u)
    return render_template("totp_enrol.html", secret=secret, uri=uri, qr=totp.qr_data_url(uri), error=error,
                           action=url_for("auth.enrol"), forced=True), (401 if error else 200)


@bp.post("/logout")
@login_required
def logout() -> Any:
    s = db_session()
    logins.end_session(s, session.get("sid"), now())
    s.commit()
    logout_user()
    session.clear()
    resp = redirect(url_for("auth.login"))
    # The phone may be shared or lost: drop what the app cached (pages, the outbox, the worker).
    resp.headers["Clear-Site-Data"] = '"cache", "storage"'
    return resp
