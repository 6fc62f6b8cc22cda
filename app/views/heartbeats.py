"""Heartbeat monitors: the ping URLs (no login: the uuid in the address is the credential) and the
managers' screen of a service's monitors (create, change, delete; state and last pings)."""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from .. import access, audit
from ..batching import Busy
from ..errors import EditError
from ..intake import heartbeat_schedule, heartbeats
from ..intake.mail.recipients import configured_domain
from ..models import HeartbeatMonitor, Service
from ..web import db_session, now, user

bp = Blueprint("heartbeats", __name__)
log = logging.getLogger("vigil.heartbeats")



# --- the ping URLs --------------------------------------------------------------------------------
# The hot path (a URL in a runaway loop, a fleet of cron jobs at midnight), answered before Flask:
# a ping needs no session, login, CSRF check, URL map or template, and Flask's request context cost
# about a third of a ping's CPU. PingPath sits inside ProxyFix (a proxy's client address still
# counts) and hands every other request on untouched.

_PING_PATH = re.compile(r"/hb/([^/]+)(?:/([^/]+))?")
_KINDS = {None: "success", "start": "start", "fail": "fail"}
_REASONS = {200: "OK", 404: "NOT FOUND", 405: "METHOD NOT ALLOWED", 500: "INTERNAL SERVER ERROR",
            503: "SERVICE UNAVAILABLE"}


class PingPath:
    """WSGI middleware answering `GET/POST/HEAD /hb/<uuid>` and `/hb/<uuid>/start|fail`. The
    answers say nothing but whether the ping counted: the same tiny shape either way."""

    # What it serves, as the routes it stands for (the authorization matrix checks them too).
    ROUTES = frozenset({("/hb/<token>", "GET"), ("/hb/<token>", "POST"), ("/hb/<token>/<kind>", "GET"),
                        ("/hb/<token>/<kind>", "POST")})

    def __init__(self, wsgi_app: Any, state: Any) -> None:
        self.wsgi_app, self.state = wsgi_app, state

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/hb/") or (m := _PING_PATH.fullmatch(path)) is None:
            return self.wsgi_app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store"),
                   ("X-Content-Type-Options", "nosniff")]
        if method not in ("GET", "POST", "HEAD"):
            status, text = 405, "method not allowed"
            headers.append(("Allow", "GET, HEAD, POST"))
        elif m.group(2) not in _KINDS:
            status, text = 404, "not found"
        else:
            try:
                status, text = self._ping(m.group(1), _KINDS[m.group(2)], method, environ)
            except Exception:  # answered like any other request's failure, and logged
                log.exception("heartbeat ping failed")
                status, text = 500, "error"
        body = (text + "\n").encode()
        start_response(f"{status} {_REASONS[status]}", [*headers, ("Content-Length", str(len(body)))])
        return [b""] if method == "HEAD" else [body]

    def _ping(self, token: str, kind: str, method: str, environ: dict[str, Any]) -> tuple[int, str]:
        # Noise never reaches the database; an unknown uuid is read once per few seconds, outside
        # any write transaction.
        monitor_id = heartbeats.known_id(self.state.db.read_engine, token) if heartbeats.is_token(token) else None
        if monitor_id is None:
            return 404, "not found"
        body, remote = _body_excerpt(method, environ), environ.get("REMOTE_ADDR") or ""
        stamp = self.state.clock.now()

        def step(s: Any) -> heartbeats.Pinged | None:
            return heartbeats.ping(s, token, kind, stamp, "http", body, remote)

        try:
            # Concurrent pings (and alerts) share a transaction (batching.GroupCommit): a hammered
            # URL costs a fraction of a commit per ping. The lock order: monitor rows by id (as the
            # engine takes them, incidents/heartbeats.py), before any incident row (alerts' keys
            # are (service id >= 1, dedup key)).
            (done,) = self.state.intake.run([((0, f"{monitor_id:012d}"), step)])
        except Busy:
            return 503, "busy, ping again"
        return (200, "OK") if done is not None else (404, "not found")


def _body_excerpt(method: str, environ: dict[str, Any]) -> str | None:
    """The first BODY_EXCERPT bytes of the body, whatever its size or type (a cron job piping its
    log, `curl -d` sends it as a form): read straight from the stream, so a body over the app's
    limit still counts as a ping. A chunked body (`curl -T -`) is read when the server has
    de-chunked it (gunicorn says so with wsgi.input_terminated)."""
    if method != "POST":
        return None
    try:
        length: int | None = max(0, int(environ["CONTENT_LENGTH"]))
    except (KeyError, ValueError):
        length = None
    if length is None and not environ.get("wsgi.input_terminated"):
        return None
    size = heartbeats.BODY_EXCERPT if length is None else min(length, heartbeats.BODY_EXCERPT)
    raw = environ["wsgi.input"].read(size) if size > 0 else b""
    return raw.decode("utf-8", "replace") or None


# --- the managers' screen -----------------------------------------------------------------------


def _service(service_id: int) -> Service:
    s = db_session()
    svc = s.get(Service, service_id) or abort(404)
    access.check_manage_client(s, user(), svc.client_id)
    return svc


def _monitor(svc: Service, monitor_id: int) -> HeartbeatMonitor:
    m = db_session().get(HeartbeatMonitor, monitor_id)
    if m is None or m.service_id != svc.id:
        abort(404)
    return m


def _spec() -> heartbeats.MonitorInput:
    f = request.form

    def seconds(name: str, unit: int) -> int:
        try:
            value = float(f.get(name, "")) * unit
        except ValueError:
            raise EditError(f"the {name} must be a number of {'hours' if unit == 3600 else 'minutes'}") from None
        # inf, nan and absurd sizes: out of range, refused by Schedule.of with the range to use
        return round(value) if math.isfinite(value) and abs(value) < 2**31 else 0

    return heartbeats.MonitorInput(name=f.get("name", ""), period_seconds=seconds("period", 3600),
                                   grace_seconds=seconds("grace", 60), timezone=f.get("timezone", "UTC").strip(),
                                   cron=f.get("cron") or None)


def ping_url(token: str) -> str:
    return f"{current_app.config['BASE_URL'].rstrip('/')}/hb/{token}"


def _page(svc: Service, error: str | None = None, status: int = 200) -> Any:
    s, at = db_session(), now()
    rows = []
    for m in heartbeats.monitors_of(s, [svc.id]):
        schedule = heartbeats.schedule_of(m)
        state = heartbeat_schedule.status(schedule, m.state, m.last_ping_at, m.last_start_at, at)
        rows.append({"m": m, "state": state, "url": ping_url(m.token), "pings": heartbeats.last_pings(s, m.id, 10),
                     "expects": heartbeat_schedule.describe(schedule)})
    domain = configured_domain(s, current_app.config)  # the listener's (VIGIL_MAIL_DOMAIN, or the demo's)
    return render_template("heartbeats.html", svc=svc, rows=rows, error=error, values=request.form,
                           mail_domain=domain), status


@bp.get("/services/<int:service_id>/heartbeats")
@login_required
def monitor_list(service_id: int) -> Any:
    return _page(_service(service_id))


@bp.post("/services/<int:service_id>/heartbeats")
@login_required
def monitor_create(service_id: int) -> Any:
    svc = _service(service_id)
    s = db_session()
    try:
        m = heartbeats.create(s, svc, _spec(), now())
    except EditError as e:
        s.rollback()
        return _page(svc, str(e), 400)
    audit.record(s, "heartbeat.created", actor=user(), client_id=svc.client_id, at=now(), target=f"heartbeat:{m.id}",
                 name=m.name, service=svc.name)
    s.commit()
    flash(f"Heartbeat {m.name} created. It alerts once it has pinged: send a first ping to its URL.", "ok")
    return redirect(url_for("heartbeats.monitor_list", service_id=svc.id), 303)


@bp.post("/services/<int:service_id>/heartbeats/<int:monitor_id>")
@login_required
def monitor_change(service_id: int, monitor_id: int) -> Any:
    svc = _service(service_id)
    m = _monitor(svc, monitor_id)
    s = db_session()
    try:
        heartbeats.change(s, m, _spec(), now())
    except EditError as e:
        s.rollback()
        return _page(svc, str(e), 400)
    audit.record(s, "heartbeat.changed", actor=user(), client_id=svc.client_id, at=now(), target=f"heartbeat:{m.id}",
                 name=m.name, service=svc.name)
    s.commit()
    flash(f"Heartbeat {m.name} saved.", "ok")
    return redirect(url_for("heartbeats.monitor_list", service_id=svc.id), 303)


@bp.post("/services/<int:service_id>/heartbeats/<int:monitor_id>/delete")
@login_required
def monitor_delete(service_id: int, monitor_id: int) -> Any:
    svc = _service(service_id)
    m = _monitor(svc, monitor_id)
    s = db_session()
    name = m.name
    audit.record(s, "heartbeat.deleted", actor=user(), client_id=svc.client_id, at=now(), target=f"heartbeat:{m.id}",
                 name=name, service=svc.name)
    heartbeats.remove(s, m)
    s.commit()
    flash(f"Heartbeat {name} deleted: its URL answers 404 now. An incident it opened stays open.", "ok")
    return redirect(url_for("heartbeats.monitor_list", service_id=svc.id), 303)
