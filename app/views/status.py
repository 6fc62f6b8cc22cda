"""Clients' status pages, public side: the page, its fragment (polling), its WebSocket, the
Statuspage-shaped JSON API, the feeds, and subscribing. Readers are anonymous (a public page,
or a private page's secret link `?key=`) or logged in (a login that sees the client). Whatever
refuses answers 404.

A page's state is computed once per change and shared by every reader in this process (the
cache is keyed by the newest event id and a 10-second slice of the clock: time alone changes a
page, a deadline passing), so thousands of viewers cost one computation per change."""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    has_request_context,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_sock import ConnectionClosed
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import ActionError
from ..models import Client, Event, StatusPage
from ..status import feeds, pages, snapshot, statuspage, subscribers
from ..web import db_session, error_response, exempt, markdown, now, vigil
from ..web.httpsec import check_origin
from . import live
from .live import sock

bp = Blueprint("status", __name__)


@bp.app_template_filter("uptime_bars")
def uptime_bars(days: dict[str, Any]) -> Markup:
    """A component's 90 bars as HTML, built here rather than by a template loop (a page has
    thousands of them); the same bars (all operational, say) are built once."""
    return _bars(days["from"], tuple(days["state"]), tuple(days["uptime"]))


@functools.lru_cache(maxsize=1024)
def _bars(first: str, states: tuple[str, ...], uptimes: tuple[float, ...]) -> Markup:
    start = date.fromisoformat(first)
    # Every value is ours: a date, a state name from a fixed list, a number.
    # An operational day is a bare <i> (the page has thousands): only the others say more.
    return Markup("".join("<i></i>" if st == "operational" else  # noqa: S704
                          f'<i class="{st}" title="{start + timedelta(days=i)}: {up}%"></i>'
                          for i, (st, up) in enumerate(zip(states, uptimes, strict=True))))


@bp.app_template_filter("incident_html")
def incident_html(i: dict[str, Any]) -> Markup:
    """An incident's article, rendered once while it does not change (past incidents never do):
    keyed by what the article shows that can change."""
    p = i["promise"]
    key = (i["id"], i["updated_at"], i["status"], i["name"], p["kept"], p["waiting_on_your_team_since"],
           p["acknowledged_at"], tuple(u["id"] for u in i["updates"]))
    cache: dict[tuple[Any, ...], Markup] = current_app.extensions.setdefault("vigil_status_incidents", {})
    html = cache.get(key)
    if html is None:
        html = Markup(current_app.jinja_env.get_template("status/_incident.html").render(i=i))  # noqa: S704
        if len(cache) > 5000:
            cache.clear()
        cache[key] = html
    return html


@bp.app_template_filter("utc_time")
@functools.lru_cache(maxsize=8192)
def utc_time(iso: str) -> Markup:
    """An instant of the page (ISO 8601, UTC) as a <time> element; the page's script shows it
    in the reader's zone."""
    return Markup(f'<time datetime="{escape(iso)}">{escape(iso[:16].replace("T", " "))} UTC</time>')  # noqa: S704


@bp.app_template_filter("update_text")
@functools.lru_cache(maxsize=4096)
def update_text(text: str) -> Markup:
    """A public update's Markdown, rendered safely once per text (web.markdown)."""
    return markdown.render(text)
PING_SECONDS = 25.0
API_DOCS = ("summary", "status", "components", "incidents", "incidents/unresolved", "scheduled-maintenances",
            "scheduled-maintenances/upcoming", "scheduled-maintenances/active")

_cache_lock = threading.Lock()


def _cache() -> dict[tuple[int, int, int, str], tuple[str, dict[str, Any], str]]:
    """The app's cache of page states (one per app: tests build many apps on one process)."""
    return current_app.extensions.setdefault("vigil_status_pages", {})  # type: ignore[no-any-return]


def _reader() -> Any:
    return current_user._get_current_object() if current_user.is_authenticated else None


def _open(slug: str) -> tuple[Client, StatusPage]:
    return pages.open_page(db_session(), slug, _reader(), request.args.get("key"), now())


def _state(session: Session, client: Client, page: StatusPage) -> tuple[str, dict[str, Any], str]:
    """(etag, snapshot, HTML fragment) of the page now, from the cache when nothing changed."""
    t = now()
    marker = session.execute(select(func.max(Event.id))).scalar() or 0
    key = (client.id, marker, int(t.timestamp() // 10), page.updated_at.isoformat())
    cache = _cache()
    with _cache_lock:
        hit = cache.get(key)
    if hit is not None:
        return hit
    snap = snapshot.build(session, client, page, t, base_url=_base_url(), secret_key=current_app.config["SECRET_KEY"])
    etag = snapshot.etag_of(snap)
    # Rendered without the app's context processors: they read the database for logged-in
    # screens, and a socket must not open a session that lives as long as it does.
    html = current_app.jinja_env.get_template("status/_body.html").render(snap=snap, now=t)
    with _cache_lock:
        if len(cache) > 500:
            cache.clear()
        cache[key] = (etag, snap, html)
    return etag, snap, html


def _base_url() -> str:
    if current_app.config.get("BASE_URL") or not has_request_context():
        return str(current_app.config.get("BASE_URL") or "")
    return request.host_url.rstrip("/")


def _cacheable(resp: Response, page: StatusPage, etag: str) -> Response:
    resp.set_etag(etag)
    # A public page may sit in shared caches for a few seconds; a private one only in the reader's.
    resp.headers["Cache-Control"] = "public, max-age=5" if page.visibility == "public" else "private, no-cache"
    resp.headers["Vary"] = "Cookie"
    resp.headers["Referrer-Policy"] = "no-referrer"  # a secret link must not travel in a Referer
    return resp.make_conditional(request)


@bp.get("/status/<slug>")
def page_view(slug: str) -> Any:
    client, page = _open(slug)
    etag, snap, body = _state(db_session(), client, page)
    html = render_template("status/page.html", snap=snap, body=Markup(body),  # noqa: S704 (our own template's output)
                           slug=client.slug,
                           key=request.args.get("key") or "", etag=etag, reader=_reader())
    resp = _cacheable(make_response(html), page, etag)
    img = " https:" if page.logo_url else ""
    resp.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:{img}; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'")
    return resp


@bp.get("/status/<slug>/body")
def page_body(slug: str) -> Any:
    """The page's changing part, for readers whose WebSocket is blocked (they poll this)."""
    client, page = _open(slug)
    etag, _, body = _state(db_session(), client, page)
    return _cacheable(make_response(body), page, etag)


@bp.get("/status/<slug>/api/v2/<path:doc>.json")
def api_document(slug: str, doc: str) -> Any:
    client, page = _open(slug)
    etag, snap, _ = _state(db_session(), client, page)
    found = statuspage.document(snap, doc)
    if found is None:
        return error_response(404, f"no such document; there are {', '.join(d + '.json' for d in API_DOCS)}")
    resp = make_response(json.dumps(found, separators=(",", ":")))
    resp.mimetype = "application/json"
    resp.headers["Access-Control-Allow-Origin"] = "*" if page.visibility == "public" else "null"
    return _cacheable(resp, page, f"{etag}-{doc.replace('/', '-')}")


@bp.get("/status/<slug>/history.atom")
def atom_feed(slug: str) -> Any:
    client, page = _open(slug)
    etag, snap, _ = _state(db_session(), client, page)
    resp = make_response(feeds.atom(snap))
    resp.mimetype = "application/atom+xml"
    return _cacheable(resp, page, f"{etag}-atom")


@bp.get("/status/<slug>/history.rss")
def rss_feed(slug: str) -> Any:
    client, page = _open(slug)
    etag, snap, _ = _state(db_session(), client, page)
    resp = make_response(feeds.rss(snap))
    resp.mimetype = "application/rss+xml"
    return _cacheable(resp, page, f"{etag}-rss")


@bp.post("/status/<slug>/subscribe")
def subscribe(slug: str) -> Any:
    client, _ = _open(slug)
    email = request.get_json(silent=True).get("email") if request.is_json and isinstance(
        request.get_json(silent=True), dict) else request.form.get("email")
    s = db_session()
    try:
        subscribers.subscribe(s, client, email, now(), _base_url(), current_app.config["SECRET_KEY"])
    except ActionError as e:
        return error_response(e.status, e.message)
    s.commit()
    return make_response({"message": "If this address is not subscribed yet, a message asking to confirm is on its "
                                     "way. Nothing more is sent until you confirm."}, 202)


def _subscriber_page(slug: str, purpose: str, sub_id: int, token: str) -> Any:
    s = db_session()
    client = s.execute(select(Client).where(Client.slug == slug[:64])).scalar_one_or_none()
    if client is None:
        return error_response(404, "this link is not valid (any more)")
    secret = current_app.config["SECRET_KEY"]
    try:
        if request.method == "GET":  # a mail scanner may open links: GET shows a button, changes nothing
            subscribers.check(s, client, sub_id, purpose, token, secret)
            return render_template("status/subscriber.html", purpose=purpose, client=client, done=False)
        if purpose == "confirm":
            subscribers.confirm(s, client, sub_id, token, now(), secret)
        else:
            subscribers.unsubscribe(s, client, sub_id, token, now(), secret)
    except ActionError as e:
        return error_response(e.status, e.message)
    s.commit()
    if request.form.get("List-Unsubscribe") == "One-Click":  # RFC 8058: the mail client's button
        return make_response("", 200)
    return render_template("status/subscriber.html", purpose=purpose, client=client, done=True)


@bp.route("/status/<slug>/subscribers/<int:sub_id>/confirm/<token>", methods=["GET", "POST"])
@exempt  # the token in the address is the credential (as an ack link)
def confirm(slug: str, sub_id: int, token: str) -> Any:
    return _subscriber_page(slug, "confirm", sub_id, token)


@bp.route("/status/<slug>/subscribers/<int:sub_id>/unsubscribe/<token>", methods=["GET", "POST"])
@exempt  # RFC 8058: a mail client posts here without any session or form token
def unsubscribe(slug: str, sub_id: int, token: str) -> Any:
    return _subscriber_page(slug, "unsubscribe", sub_id, token)


# --- the page's WebSocket -------------------------------------------------------------------------


def refuse_before_handshake() -> Any:
    """A status page's socket: refused with a plain 404 before any upgrade when the reader may
    not see the page; a page opened by the session (not public, no key) only from our origin."""
    parts = request.path.split("/")
    if len(parts) != 4 or parts[1] != "status" or parts[3] != "ws":
        return None
    try:
        _, page = _open(parts[2])
    except Exception:  # noqa: BLE001 - Denied: nothing is said about the page
        return error_response(404, "status page not found")
    if page.visibility != "public" and not request.args.get("key") and not check_origin(request):
        return error_response(404, "status page not found")
    return None


@dataclass
class _Reader:
    by_session: bool  # let in by its login (else: the page was public, or by its secret key)
    key: str | None
    last: str  # the etag it has


class _PageHub:
    """The sockets of every status page in this process, and one follower of the event bus that
    sends each page's new state to all of its sockets. Socket handlers only wait for their
    socket to close: a change wakes one follower, not thousands of handlers. Sockets are sent to
    in chunks, each by a thread of its own (a greenlet under gevent), so one slow reader holds
    back only its chunk."""

    CHUNK = 250

    def __init__(self, app: Any) -> None:
        self.app = app
        self.pages: dict[int, dict[Any, _Reader]] = {}
        self.lock = threading.Lock()
        self.started = False

    def add(self, client_id: int, ws: Any, reader: _Reader) -> None:
        with self.lock:
            self.pages.setdefault(client_id, {})[ws] = reader
            if not self.started:
                self.started = True
                threading.Thread(target=self._follow, name="vigil-status-pages", daemon=True).start()

    def remove(self, client_id: int, ws: Any) -> None:
        with self.lock:
            readers = self.pages.get(client_id)
            if readers is not None:
                readers.pop(ws, None)
                if not readers:
                    del self.pages[client_id]

    def _follow(self) -> None:
        sub = vigil_of(self.app).bus.subscribe()
        while True:
            ev = sub.get(timeout=PING_SECONDS)
            with self.lock:
                if not self.pages:  # nobody watches any page: stop (the next socket starts it again)
                    self.started = False
                    sub.close()
                    return
            if sub.overflowed:  # fell behind: every page is sent afresh at the next change
                sub.close()
                sub = vigil_of(self.app).bus.subscribe()
                continue
            if ev is None or ev.get("kind") not in snapshot.PUBLIC_KINDS or ev.get("client_id") not in self.pages:
                continue
            try:
                self._publish(ev["client_id"], ev["id"])
            except Exception:  # a page that fails to build must not stop the others' updates
                self.app.logger.exception("status page %s: could not send its new state", ev["client_id"])

    def _publish(self, client_id: int, event_id: int) -> None:
        with self.app.app_context():
            etag, message, visibility, secret_hash = _live_state(client_id, event_id)
        with self.lock:
            readers = list(self.pages.get(client_id, {}).items())
        chunks = [readers[i:i + self.CHUNK] for i in range(0, len(readers), self.CHUNK)]
        threads = [threading.Thread(target=self._send, args=(client_id, c, etag, message, visibility, secret_hash),
                                    daemon=True) for c in chunks]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _send(self, client_id: int, readers: list[tuple[Any, _Reader]], etag: str, message: str, visibility: str,
              secret_hash: str | None) -> None:
        for ws, r in readers:
            try:
                if not r.by_session and visibility != "public" and not pages.key_matches(secret_hash, r.key):
                    self.remove(client_id, ws)
                    ws.close(reason=1008, message="this page is private now")
                elif etag != r.last:
                    ws.send(message)  # the same string for every socket, serialised once
                    r.last = etag
            except Exception:  # noqa: BLE001 - a socket that went away: its handler cleans up
                self.remove(client_id, ws)


def vigil_of(app: Any) -> Any:
    return app.extensions["vigil"]


def _hub() -> _PageHub:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with _live_lock:
        hub = app.extensions.get("vigil_status_hub")
        if hub is None:
            hub = app.extensions["vigil_status_hub"] = _PageHub(app)
    return hub  # type: ignore[no-any-return]


@sock.route("/status/<slug>/ws")
def status_socket(ws: Any, slug: str) -> None:
    """The page's state whenever it changes, and nothing else: events are only a signal; what is
    sent is the page's public fragment, built from public facts only (by _PageHub)."""
    session = g.pop("db_session", None) or vigil().db.session()
    key = request.args.get("key")
    try:
        client, page = _open_with(session, slug)
        client_id, last = client.id, _state(session, client, page)[0]
        # How this reader was let in: a page made private later closes a public reader's socket.
        by_session = page.visibility != "public" and not pages.key_opens(page, key)
    finally:
        session.close()  # never hold a database connection for the life of a socket
    hub = _hub()
    hub.add(client_id, ws, _Reader(by_session, key, last))
    with live.counted():  # one of the worker's sockets (views/live.py: bounded, memory given back)
        try:
            ws.send(json.dumps({"type": "hello", "etag": last}))
            while ws.connected:
                ws.receive(timeout=PING_SECONDS)  # readers send nothing; this waits for the socket to close
        except ConnectionClosed:
            pass
        finally:
            hub.remove(client_id, ws)


_live_lock = threading.Lock()


def _live_state(client_id: int, event_id: int) -> tuple[str, str, str, str | None]:
    """The page after event `event_id` (its etag, the socket message, and who may read it),
    computed by the first socket that asks and shared with the others (they wait on the lock,
    then find it)."""
    cache: dict[tuple[int, int], tuple[str, str, str, str | None]] = current_app.extensions.setdefault(
        "vigil_status_live", {})
    with _live_lock:
        hit = cache.get((client_id, event_id))
        if hit is not None:
            return hit
        with vigil().db.session() as s:
            client = s.get(Client, client_id)
            assert client is not None
            page = pages.page_of(s, client, now())
            etag, _, html = _state(s, client, page)
            message = json.dumps({"type": "page", "etag": etag, "html": html}, separators=(",", ":"))
            entry = (etag, message, page.visibility, page.secret_hash)
        if len(cache) > 200:
            cache.clear()
        cache[(client_id, event_id)] = entry
        return entry


def _open_with(session: Session, slug: str) -> tuple[Client, StatusPage]:
    g.db_session = session  # _open reads the request's session
    try:
        return pages.open_page(session, slug, _reader(), request.args.get("key"), now())
    finally:
        g.pop("db_session", None)


# --- a client viewer lands on their page -------------------------------------------------------

ENGINEER_SCREENS = frozenset({"pages.home", "pages.incident_list", "pages.incident_detail", "connections.clients",
                              "connections.client_page"})


def viewers_to_their_page() -> Any:
    """Client viewers no longer see the engineers' screens: they land on their status page."""
    if request.method != "GET" or request.endpoint not in ENGINEER_SCREENS or not current_user.is_authenticated:
        return None
    slug = pages.landing_slug(db_session(), current_user._get_current_object())
    return redirect(url_for("status.page_view", slug=slug)) if slug else None
