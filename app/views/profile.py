"""My profile: my time zone (or "follow this device") and my own password. Also the one way
pages format times (the `when` filter): in the viewer's zone and their browser's locale."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user

from .. import audit
from ..accounts import logins
from ..accounts.devices import describe
from ..accounts.users import UserError, check_password, hash_password, validate_password
from ..web import db_session, now, timefmt, user

bp = Blueprint("profile", __name__, url_prefix="/settings")


def viewer_zone_name() -> str:
    if current_user.is_authenticated and current_user.timezone:
        return str(current_user.timezone)
    return "UTC"


def viewer_locale() -> Any:
    lang = request.accept_languages.best if request else None
    return timefmt.locale(lang)


@bp.app_template_filter("when")
def when(t: datetime | str | None, kind: str = "datetime", zone: bool = False) -> Any:
    """{{ t|when }} → <time datetime data-t>Mon 7 Dec, 08:00</time> on the viewer's clock;
    `zone=True` names the zone (CET) where the time could be read in another one."""
    return timefmt.time_element(t, kind, tz=viewer_zone_name(), loc=viewer_locale(), name_zone=zone)


@bp.app_template_filter("day")
def day(d: Any, with_year: bool = False) -> str:
    return timefmt.format_day(d, loc=viewer_locale(), with_year=with_year)


@bp.app_template_filter("device")
def device(user_agent: str | None) -> str:
    return describe(user_agent)


@bp.app_template_filter("countdown")
def countdown(deadline: datetime) -> str:
    return timefmt.countdown(deadline, now())


@bp.app_context_processor
def time_context() -> dict[str, Any]:
    if not current_user.is_authenticated:
        return {"viewer_tz": None, "viewer_tz_auto": True}
    return {"viewer_tz": viewer_zone_name(), "viewer_tz_auto": bool(current_user.timezone_auto)}


@bp.get("/profile")
@login_required
def profile() -> Any:
    u = user()
    return render_template("profile.html", zones=timefmt.zone_names(), tz=u.timezone, auto=u.timezone_auto,
                           example=timefmt.format_instant(now(), "full", tz=u.timezone, loc=viewer_locale(),
                                                          name_zone=True))


@bp.post("/profile/timezone")
@login_required
def set_timezone() -> Any:
    """The profile form (a zone, or "follow this device"), or the page's script reporting the
    browser's zone (JSON {"timezone", "auto": true}: taken only while the person has not chosen)."""
    s, u = db_session(), user()
    data = request.get_json(silent=True) if request.is_json else request.form
    data = data or {}
    name = str(data.get("timezone") or "")
    auto = str(data.get("auto", "")).lower() in ("1", "true", "on", "yes")
    if request.is_json:
        if not u.timezone_auto:
            return {"timezone": u.timezone, "auto": False, "changed": False}
        try:
            u.timezone = timefmt.check_zone(name)
        except timefmt.ZoneError as e:
            return {"error": "bad_request", "message": str(e)}, 400
        s.commit()
        return {"timezone": u.timezone, "auto": True, "changed": True}
    try:
        if auto:
            u.timezone_auto = True
            if name:
                u.timezone = timefmt.check_zone(name)
            flash("Your times now follow this device's time zone.", "ok")
        else:
            u.timezone = timefmt.check_zone(name)
            u.timezone_auto = False
            flash(f"Your times are now shown in {u.timezone}.", "ok")
        s.commit()
    except timefmt.ZoneError as e:
        s.rollback()
        flash(f"Time zone not changed: {e}.", "error")
    return redirect(url_for("profile.profile"))


@bp.post("/password")
@login_required
def change_password() -> Any:
    """Change my own password: the current one, then the new one twice. Every other device is
    logged out; this one stays in."""
    s, u, t = db_session(), user(), now()
    f = request.form
    current, new, again = f.get("current", ""), f.get("new", ""), f.get("confirm", "")
    if not check_password(u, current):
        s.commit()  # a rehash is harmless; nothing else changed
        flash("Password not changed: the current password is not right. Type it again.", "error")
        return redirect(url_for("profile.profile") + "#password")
    try:
        validate_password(new)
        if new != again:
            raise UserError("the two new passwords differ: type the same one twice")
        if new == current:
            raise UserError("the new password is the current one: choose another")
    except UserError as e:
        flash(f"Password not changed: {e}.", "error")
        return redirect(url_for("profile.profile") + "#password")
    u.password_hash = hash_password(new)
    u.session_version += 1  # every other cookie of mine stops working…
    keep = session.get("sid")
    for d in logins.devices(s, u):
        if d.id != keep:
            logins.end_session(s, d.id, t)
    audit.record(s, "user.password_changed", actor=u, at=t, target=f"user:{u.id}", user=u.email)
    s.commit()
    login_user(u, remember=False)  # …and this one carries the new version
    flash("Password changed. Your other devices are logged out: log in there with the new one.", "ok")
    return redirect(url_for("profile.profile"))
