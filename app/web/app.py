"""The app's set-up (init_app): login, CSRF, HTTP security, the error answers, the Markdown
filter."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, Response, g, request, session
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from .. import audit as _audit  # noqa: F401  (registers the append-only guards)
from ..accounts import logins
from ..errors import ActionError, Denied
from ..models import User
from . import httpsec, markdown
from .plumbing import (
    READ_ONLY_PATHS,
    ApiError,
    BoundedInt,
    db_session,
    error_page,
    error_response,
    now,
    wants_json,
)

login_manager = LoginManager()
csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedInt  # before any route is added
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    csrf.init_app(app)
    httpsec.init_app(app)  # before protect_csrf: a request with an API token skips the check
    app.jinja_env.filters["markdown"] = markdown.render  # runbooks (and status updates), rendered safely
    app.permanent_session_lifetime = timedelta(days=app.config["SESSION_DAYS"])
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["SECURE_COOKIES"],
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=app.config["SECURE_COOKIES"],
    )

    @login_manager.user_loader
    def load_user(ident: str) -> User | None:
        if g.get("api_token") is not None or g.get("bearer_refused"):
            return None  # a request with a token is that token's, never the cookie's
        uid, _, version = ident.partition(":")
        if not uid.isdecimal():
            return None
        u = db_session().get(User, int(uid))
        if u is None or not u.active or str(u.session_version) != version:
            return None
        # The device's session must still be live (logging out revokes it server-side).
        touch = request.path not in READ_ONLY_PATHS  # its last-seen time: bookkeeping, not worth a write lock
        if logins.live_session(db_session(), u, session.get("sid"), now(), touch=touch) is None:
            return None
        return u

    @login_manager.request_loader
    def load_token_user(req: Any) -> User | None:
        token = g.get("api_token")
        return token.user if token is not None else None

    @login_manager.unauthorized_handler
    def unauthorized() -> Any:
        if wants_json():
            return error_response(401, "log in first")
        from flask import redirect, url_for

        return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))

    @app.before_request
    def protect_csrf() -> None:
        # Every state-changing request made with the session cookie must carry the CSRF token
        # (form field or X-CSRFToken header). Requests that authenticate otherwise (integration
        # keys, bearer tokens, signed ack links) are exempt: a browser never adds those by itself.
        if request.method in ("GET", "HEAD", "OPTIONS") or httpsec.uses_token():
            return
        view = app.view_functions.get(request.endpoint or "")
        if view is not None and getattr(view, "csrf_exempt", False):
            return
        csrf.protect()

    @app.teardown_appcontext
    def close_session(exc: BaseException | None) -> None:
        s = g.pop("db_session", None)
        if s is not None:
            if exc is not None:
                s.rollback()
            s.close()

    @app.errorhandler(ApiError)
    def on_api_error(e: ApiError) -> Response:
        return error_response(e.status, e.message, **e.extra)

    @app.errorhandler(ActionError)
    def on_action_error(e: ActionError) -> Response:
        return error_response(e.status, e.message, **e.data)

    @app.errorhandler(Denied)
    def on_denied(e: Denied) -> Any:
        if wants_json():
            return error_response(e.status, e.message)
        return error_page(e.status, e.message)

    @app.errorhandler(CSRFError)
    def on_csrf(e: CSRFError) -> Any:
        if wants_json():
            return error_response(400, f"CSRF check failed: {e.description}")
        return error_page(400, "This form had expired, or came from another page (CSRF check failed). Go back, "
                               "reload the page and send it again.")

    @app.errorhandler(HTTPException)
    def on_http(e: HTTPException) -> Any:
        if wants_json():
            msg = e.description or e.name
            if e.code == 413:
                msg = f"the body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes"
            return error_response(e.code or 500, msg)
        if (e.code or 500) >= 400:
            return error_page(e.code or 500, _page_message(e))
        return e

    @app.errorhandler(Exception)
    def on_crash(e: Exception) -> Any:
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return error_response(500, "internal error; it has been logged")
        return error_page(500, "Something went wrong on Vigil's side; it has been logged. Try again in a minute, "
                               "and tell your admin if it happens again.")


_PAGE_MESSAGES = {
    404: "There is no page at this address (or no longer). Check the link, or start again from the first screen.",
    405: "This address does not take that kind of request. Start again from the first screen.",
    413: "What you sent is too large. Send something smaller.",
}


def _page_message(e: HTTPException) -> str:
    return _PAGE_MESSAGES.get(e.code or 500, e.description or e.name)
