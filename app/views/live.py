"""Live updates over a WebSocket: the events the user may see, from the event bus.

The client connects to /ws?since=<last event id it saw>; the server replays what it missed from
the events table, then streams new events. Application-level pings every 15 s carry the engine's
health (and keep idle connections alive through proxies, as do the protocol-level pings)."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, g, request
from flask_login import current_user
from flask_sock import ConnectionClosed, Sock

from .. import access
from ..engine.heartbeat import engine_status
from ..web import error_response, vigil
from ..web.httpsec import check_origin

sock = Sock()
PING_SECONDS = 15.0


def _health() -> dict[str, Any]:
    v = vigil()
    from sqlalchemy.orm import Session

    with Session(v.db.read_engine) as s:
        ok, last = engine_status(s, v.clock.now(), current_app.config["ENGINE_STALE_SECONDS"])
    return {"ok": ok, "last_heartbeat": last.isoformat() if last else None}


def refuse_before_handshake() -> Any:
    """Refuse strangers and foreign origins with a plain HTTP answer, before any upgrade."""
    if request.path != "/ws":
        return None
    if not current_user.is_authenticated:
        return error_response(401, "log in first")
    if not check_origin(request):
        return error_response(403, "cross-origin WebSocket refused")
    return None


@sock.route("/ws")
def events_socket(ws: Any) -> None:
    session = g.pop("db_session", None)
    visible = access.visible_client_ids(session or vigil().db.session(), current_user)
    if session is not None:
        session.close()  # never hold a database connection for the life of a socket

    def may_see(client_id: int | None) -> bool:
        return visible is None or client_id in visible

    bus = vigil().bus
    sub = bus.subscribe()  # before the replay, so nothing falls between the two
    try:
        since = request.args.get("since", type=int)
        if since is not None:
            since = min(max(since, 0), 2**63 - 1)  # like /api/v1/events: no overflow in the database
        last = since if since is not None else bus.last_id
        ws.send(json.dumps({"type": "hello", "last_id": last, "engine": _health()}))
        while since is not None:
            batch = bus.replay(last, 500, may_see)
            for ev in batch:
                ws.send(json.dumps({"type": "event", "event": ev}))
                last = ev["id"]
            if len(batch) < 500:
                break
        while True:
            ev = sub.get(timeout=PING_SECONDS)
            if sub.overflowed:
                ws.close(reason=1013, message="too far behind: reconnect and catch up")
                return
            if ev is None:
                ws.send(json.dumps({"type": "ping", "engine": _health()}))
            elif ev["id"] > last and may_see(ev["client_id"]):
                ws.send(json.dumps({"type": "event", "event": ev}))
                last = ev["id"]
    except ConnectionClosed:
        pass
    finally:
        sub.close()
