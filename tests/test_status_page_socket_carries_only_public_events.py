"""A status page's WebSocket (one gevent worker, on loopback): it carries the page's new public
state the moment something public changes, and nothing else: an internal event of the same
client (an engineer's logged action) never reaches it, nor another client's incident."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from websockets.sync.client import connect as ws_connect

from app.db import Database
from app.models import StatusPage
from tests.helpers import PASSWORD
from tests.test_live_socket import Web, setup  # noqa: F401  (the fixture)


def frames(ws: Any, within: float) -> list[dict[str, Any]]:
    got, deadline = [], time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        try:
            got.append(json.loads(ws.recv(timeout=left)))
        except TimeoutError:
            break
    return got


def first_page(ws: Any, within: float = 5.0) -> tuple[dict[str, Any], float]:
    start = time.monotonic()
    while time.monotonic() - start < within:
        msg = json.loads(ws.recv(timeout=within))
        if msg["type"] == "page":
            return msg, time.monotonic() - start
    raise AssertionError("no page update")


@pytest.fixture
def web(setup, tmp_path):  # noqa: F811
    env, world = setup
    db = Database(env["VIGIL_DATABASE_URL"])
    now = datetime.now(UTC)
    with db.transaction() as s:
        s.merge(StatusPage(client_id=world.acme, visibility="public", title="", color="#1f5fbf", created_at=now,
                           updated_at=now))
    db.dispose()
    w = Web(env, tmp_path / "web.log")
    yield w, world
    w.stop()


def test_the_page_socket_sends_public_changes_and_never_an_internal_event(web) -> None:
    w, world = web
    with ws_connect(f"ws://127.0.0.1:{w.port}/status/acme/ws", open_timeout=10) as ws:
        _follow(ws, w, world)


def _follow(ws: Any, w: Any, world: Any) -> None:
    assert json.loads(ws.recv(timeout=5))["type"] == "hello"

    r = requests.post(f"{w.url}/api/v1/intake/generic/{world.keys['acme_generic']}",
                      json={"summary": "db-7 password hunter2", "dedup_key": "x"}, timeout=5)
    iid = r.json()["results"][0]["incident"]
    page, took = first_page(ws)
    assert took < 1.0 and "Disruption of Web shop" in page["html"] and "hunter2" not in page["html"]

    s = requests.Session()
    page_html = s.get(f"{w.url}/login", timeout=5).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page_html).group(1)  # type: ignore[union-attr]
    s.post(f"{w.url}/login", data={"email": "alice@vigil.test", "password": PASSWORD, "csrf_token": token}, timeout=5)
    csrf = s.get(f"{w.url}/api/v1/me", timeout=5).json()["csrf_token"]
    s.headers["X-CSRFToken"] = csrf
    assert s.post(f"{w.url}/api/v1/incidents/{iid}/actions", json={"text": "ssh root@10.0.0.9 secret-note"},
                  timeout=5).status_code == 200
    # another client's incident, too
    requests.post(f"{w.url}/api/v1/intake/generic/{world.keys['globex_generic']}", json={"summary": "globex"}, timeout=5)
    said = frames(ws, 1.5)
    assert said == [] or all(m["type"] == "ping" for m in said), said

    assert s.post(f"{w.url}/api/v1/incidents/{iid}/public-updates",
                  json={"status": "monitoring", "body": "A fix is deployed."}, timeout=5).status_code == 201
    page, took = first_page(ws)
    assert took < 1.0 and "A fix is deployed." in page["html"] and "secret-note" not in page["html"]
    assert s.post(f"{w.url}/api/v1/incidents/{iid}/resolve", json={"summary": "internal: rotated"}, timeout=5).ok
    page, _ = first_page(ws)
    assert "Resolved" in page["html"] and "rotated" not in page["html"]


def test_the_socket_of_a_private_page_is_refused_before_the_handshake(web) -> None:
    w, _ = web
    r = requests.get(f"{w.url}/status/initech/ws", headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                                             "Sec-WebSocket-Version": "13",
                                                             "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="},
                     timeout=5)
    assert r.status_code == 404


def test_a_page_made_private_closes_its_anonymous_readers_sockets(web) -> None:
    from websockets.exceptions import ConnectionClosed

    w, world = web
    s = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(f"{w.url}/login", timeout=5).text).group(1)  # type: ignore[union-attr]
    s.post(f"{w.url}/login", data={"email": "maya@vigil.test", "password": PASSWORD, "csrf_token": token}, timeout=5)
    s.headers["X-CSRFToken"] = s.get(f"{w.url}/api/v1/me", timeout=5).json()["csrf_token"]
    with ws_connect(f"ws://127.0.0.1:{w.port}/status/acme/ws", open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        assert s.put(f"{w.url}/api/v1/clients/{world.acme}/status", json={"visibility": "private"}, timeout=5).ok
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                assert json.loads(ws.recv(timeout=5))["type"] != "page"
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_a_logged_in_reader_follows_its_page_blocks_nobody_and_cannot_open_anothers(web) -> None:
    w, world = web
    s = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(f"{w.url}/login", timeout=5).text).group(1)  # type: ignore[union-attr]
    s.post(f"{w.url}/login", data={"email": "victor@acme.test", "password": PASSWORD, "csrf_token": token}, timeout=5)
    cookie = "; ".join(f"{c.name}={c.value}" for c in s.cookies)
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as refused:
        ws_connect(f"ws://127.0.0.1:{w.port}/status/globex/ws", origin=w.url, additional_headers={"Cookie": cookie},
                   open_timeout=10)
    assert refused.value.response.status_code == 404  # another client's page
    with ws_connect(f"ws://127.0.0.1:{w.port}/status/acme/ws", origin=w.url, additional_headers={"Cookie": cookie},
                    open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        # while its socket is open, the same reader's pages still answer at once
        start = time.monotonic()
        assert s.get(f"{w.url}/status/acme", timeout=5).status_code == 200
        assert time.monotonic() - start < 1.0
        requests.post(f"{w.url}/api/v1/intake/generic/{world.keys['acme_generic']}", json={"summary": "x"}, timeout=5)
        page, took = first_page(ws)
        assert took < 1.0 and "Disruption of Web shop" in page["html"]
