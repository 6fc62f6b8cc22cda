"""Request plumbing shared by the views: the per-request session, time, JSON in and out, errors,
login and CSRF."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any, NoReturn

from flask import Flask, Response, current_app, g, jsonify, make_response, request, session
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from . import audit as _audit  # noqa: F401  (registers the append-only guards)
from . import httpsec, logins
from .access import Denied
from .db import retry_transient
from .httpsec import check_origin  # noqa: F401  (for the WebSocket handshake)
from .incidents import ActionError, Outcome
from .models import User

login_manager = LoginManager()
csrf = CSRFProtect()

JSON_PREFIXES = ("/api/", "/v2/", "/healthz")


class App(Flask):
    """Flask, and one thing more: a request whose transaction lost a race on PostgreSQL (a
    deadlock the server broke, a serialisation failure) runs again on a rolled-back session
    (db.retry_transient), so racing requests get their 200 or 409, never a 500. Nothing of the
    failed attempt was committed; views commit once, at the end."""

    def dispatch_request(self) -> Any:
        return retry_transient(super().dispatch_request, before_retry=_roll_back_request)


def _roll_back_request() -> None:
    s = g.get("db_session")
    if s is not None:
        s.rollback()


def vigil() -> Any:
    return current_app.extensions["vigil"]


def db_session() -> Session:
    if "db_session" not in g:
        g.db_session = vigil().db.session()
    return g.db_session


def now() -> datetime:
    return vigil().clock.now()


def user() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES) or request.accept_mimetypes.best == "application/json"


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def fail(status: int, message: str, **extra: Any) -> NoReturn:
    raise ApiError(status, message, **extra)


def json_body(*, require_object: bool = True) -> Any:
    """The request's JSON body, or a clear 4xx: 415 wrong type, 400 malformed, 413 too big."""
    mimetype = request.mimetype or ""
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        fail(415, "send a JSON body with Content-Type: application/json")
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        body = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError) as e:
        fail(400, f"malformed JSON: {e}")
    if require_object and not isinstance(body, dict):
        fail(400, "the JSON body must be an object")
    return scrub(body)


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def scrub(value: Any) -> Any:
    """Make decoded JSON storable everywhere: JSON may carry lone surrogates ("\\ud800") and NUL
    characters, which PostgreSQL text refuses. They become U+FFFD, so the alert is kept."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value) if _UNSTORABLE.search(value) else value
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    return value


def optional_json_object() -> dict[str, Any]:
    """For action endpoints where every field is optional: an empty body is an empty object."""
    if not request.get_data(cache=True):
        return {}
    body = json_body()
    assert isinstance(body, dict)
    return body


def outcome_response(out: Outcome) -> Response:
    return make_response(jsonify(out.as_dict()), out.status)


def error_response(status: int, message: str, **extra: Any) -> Response:
    return make_response(jsonify({"error": _reason(status), "message": message, **extra}), status)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_")
    except ValueError:
        return "error"


class BoundedInt(IntegerConverter):
    """<int:...> in URLs: an id beyond 32 bits (the ids' type on PostgreSQL) is simply not found,
    instead of overflowing in the database (a 500 found by the API fuzz test). A route on a
    64-bit id says so: <int(max=9223372036854775807):id>."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedInt  # before any route is added
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    csrf.init_app(app)
    httpsec.init_app(app)  # before protect_csrf: a request with an API token skips the check
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
        if not uid.isdigit():
            return None
        u = db_session().get(User, int(uid))
        if u is None or not u.active or str(u.session_version) != version:
            return None
        # The device's session must still be live (logging out revokes it server-side).
        if logins.live_session(db_session(), u, session.get("sid"), now()) is None:
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


def error_page(status: int, message: str) -> Response:
    """A page in the app's look (a phone viewport, the navigation), or plain text when even that
    cannot be drawn (the database is gone, say)."""
    from flask import render_template

    title = {403: "Not allowed", 404: "Page not found", 500: "Something went wrong"}.get(
        status, _reason(status).replace("_", " ").capitalize())
    try:
        return make_response(render_template("error.html", status=status, title=title, message=message), status)
    except Exception:  # noqa: BLE001 - the page about an error must not fail in turn
        current_app.logger.exception("the error page could not be drawn")
        return make_response(f"{title}. {message}", status)


_PAGE_MESSAGES = {
    404: "There is no page at this address (or no longer). Check the link, or start again from the first screen.",
    405: "This address does not take that kind of request. Start again from the first screen.",
    413: "What you sent is too large. Send something smaller.",
}


def _page_message(e: HTTPException) -> str:
    return _PAGE_MESSAGES.get(e.code or 500, e.description or e.name)


def exempt(view: Any) -> Any:
    """Mark a view as authenticated by something other than the session cookie."""
    view.csrf_exempt = True
    return view
