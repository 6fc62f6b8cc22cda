"""Request plumbing shared by the views: the request that runs again after losing a race, the
per-request session, time, JSON in and out, errors, ids in URLs."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any, NoReturn

from flask import Flask, Response, current_app, g, jsonify, make_response, request
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.routing import IntegerConverter

from ..db import retry_transient
from ..incidents import Outcome
from ..models import User

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


# Requests that only read: a WebSocket handshake (who is asking, what they may see). On SQLite
# they take no write lock, so a crowd of viewers reconnecting at once (a restart) never queues
# behind, or starves, the requests that write.
READ_ONLY_PATHS = frozenset({"/ws"})


def db_session() -> Session:
    if "db_session" not in g:
        db = vigil().db
        g.db_session = db.Session(bind=db.read_engine) if request.path in READ_ONLY_PATHS else db.session()
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


# Deeper JSON is refused (400): no monitoring tool nests this far, and every walk over the body
# (ours, the JSON encoders', the pages') must stay far from Python's recursion limit.
MAX_JSON_DEPTH = 100


class TooDeep(ValueError):
    pass


def json_body(*, require_object: bool = True) -> Any:
    """The request's JSON body, or a clear 4xx: 415 wrong type, 400 malformed or nested deeper
    than MAX_JSON_DEPTH, 413 too big. Every endpoint reads its body here."""
    mimetype = request.mimetype or ""
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        fail(415, "send a JSON body with Content-Type: application/json")
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        body = decode_json(raw)
    except TooDeep as e:
        fail(400, str(e))
    except (ValueError, UnicodeDecodeError) as e:
        fail(400, f"malformed JSON: {e}")
    if require_object and not isinstance(body, dict):
        fail(400, "the JSON body must be an object")
    return body


def decode_json(raw: bytes | str) -> Any:
    """Decoded JSON that every database can store. Python's json (and others) write NaN,
    Infinity and -Infinity, and 1e999 reads back as infinity: PostgreSQL's json type refuses
    them all, so they are kept as the text the sender wrote ("NaN", "1e999"), and the alert is
    kept. Lone surrogates and NUL characters become U+FFFD (see scrub). TooDeep past
    MAX_JSON_DEPTH levels."""
    try:
        value = json.loads(raw or b"", parse_constant=str, parse_float=_finite_or_text)
    except RecursionError:  # the decoder's own limit, far beyond ours
        raise TooDeep(_too_deep()) from None
    return scrub(value)


def _finite_or_text(text: str) -> float | str:
    number = float(text)
    return number if math.isfinite(number) else text


def _too_deep() -> str:
    return f"the JSON is nested too deeply (at most {MAX_JSON_DEPTH} levels of objects and arrays)"


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def scrub(value: Any, depth: int = 0) -> Any:
    """Make decoded JSON storable everywhere: JSON may carry lone surrogates ("\\ud800") and NUL
    characters, which PostgreSQL text refuses. They become U+FFFD, so the alert is kept.
    TooDeep for objects and arrays nested deeper than MAX_JSON_DEPTH."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value) if _UNSTORABLE.search(value) else value
    if isinstance(value, list | dict):
        if depth >= MAX_JSON_DEPTH:
            raise TooDeep(_too_deep())
        if isinstance(value, list):
            return [scrub(v, depth + 1) for v in value]
        return {scrub(k): scrub(v, depth + 1) for k, v in value.items()}
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


def exempt(view: Any) -> Any:
    """Mark a view as authenticated by something other than the session cookie."""
    view.csrf_exempt = True
    return view
