"""The WebSocket: authenticated by the session, refuses other origins, replays what a client
missed, and carries events across worker processes through Redis."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from websockets.sync.client import connect as ws_connect

from app import migrate
from app.accounts.users import use_hash_profile
from app.db import Database
from tests.helpers import PASSWORD, build_world, free_port, requires_redis

ROOT = Path(__file__).resolve().parent.parent


class Web:
    """One gunicorn (one gevent worker) serving Vigil on loopback."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(env, VIGIL_BASE_URL=self.url)
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "-b", f"127.0.0.1:{self.port}",
                 "--graceful-timeout", "2", "app.wsgi:app"], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{self.url}/login", timeout=2)
                return
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise RuntimeError(log.read_text()) from None
                time.sleep(0.1)

    def login(self, who: str) -> str:
        s = requests.Session()
        page = s.get(f"{self.url}/login", timeout=5).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        r = s.post(f"{self.url}/login", data={"email": f"{who}@vigil.test", "password": PASSWORD, "csrf_token": token},
                   allow_redirects=False, timeout=5)
        assert r.status_code == 302, r.text
        return "; ".join(f"{c.name}={c.value}" for c in s.cookies)

    def socket(self, cookie: str, since: int | None = None) -> Any:
        # The `websockets` client: simple_websocket's client leaves frames that arrive in the
        # same read as the handshake answer unread until more data comes (seen under load).
        url = f"ws://127.0.0.1:{self.port}/ws" + (f"?since={since}" if since is not None else "")
        return ws_connect(url, origin=self.url, additional_headers={"Cookie": cookie}, open_timeout=10)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[dict[str, str], Any]]:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    db = Database(url)
    migrate.upgrade(db)
    use_hash_profile("CHEAPEST")
    world = build_world(db, datetime.now(UTC))
    env = dict(os.environ, VIGIL_DATABASE_URL=url, VIGIL_INSTANCE_PATH=str(tmp_path / "instance"),
               VIGIL_SECRET_KEY="live-test", VIGIL_PASSWORD_PROFILE="CHEAPEST", PYTHONPATH=str(ROOT))
    yield env, world
    db.dispose()


def receive_event(ws: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            break
        if msg["type"] == "event":
            return msg["event"]
    raise AssertionError(f"no event within {timeout} s")


def post_alert(web: Web, world: Any, dedup: str) -> int:
    r = requests.post(f"{web.url}/api/v1/intake/generic/{world.keys['acme_generic']}",
                      json={"summary": "Disk full", "dedup_key": dedup}, timeout=5)
    assert r.status_code == 202
    return int(r.json()["results"][0]["incident"])


def test_the_socket_refuses_strangers_and_other_origins(setup, tmp_path) -> None:
    env, world = setup
    web = Web(dict(env, VIGIL_EVENT_POLL_SECONDS="0.1"), tmp_path / "web.log")
    try:
        for cookie, origin, status in [(None, web.url, 401), (web.login("alice"), "https://evil.example", 403)]:
            # A real handshake, refused before the upgrade (plain HTTP, so nothing to leak).
            headers = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                       "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(), "Origin": origin}
            if cookie:
                headers["Cookie"] = cookie
            r = requests.get(f"{web.url}/ws", headers=headers, timeout=5)
            assert r.status_code == status and r.json()["message"]
        with web.socket(web.login("alice")) as ws:  # and the same user from our own origin gets in
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"
    finally:
        web.stop()


def test_a_reconnecting_client_gets_what_it_missed_and_only_what_it_may_see(setup, tmp_path) -> None:
    env, world = setup
    web = Web(dict(env, VIGIL_EVENT_POLL_SECONDS="0.1"), tmp_path / "web.log")
    try:
        first = post_alert(web, world, "a1")
        with web.socket(web.login("alice"), since=0) as ws:
            assert receive_event(ws, 5)["incident_id"] == first
        second = post_alert(web, world, "a2")  # happens while Alice is away
        with web.socket(web.login("alice"), since=0) as ws:
            got = [receive_event(ws, 5)["incident_id"], receive_event(ws, 5)["incident_id"]]
        assert got == [first, second]
        with web.socket(web.login("dave"), since=0) as dave, pytest.raises(AssertionError):
            receive_event(dave, 1.0)  # Dave is not in the pool covering Acme
        with web.socket(web.login("alice"), since=10**30) as ws:  # beyond any id: nothing to replay
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"
            with pytest.raises(TimeoutError):
                ws.recv(timeout=5.0)  # and the socket stays open (it was closed by an overflow)
    finally:
        web.stop()


@requires_redis
def test_an_event_raised_in_one_worker_reaches_a_socket_held_by_another_through_redis(setup, tmp_path) -> None:
    env, world = setup
    # The poll is set to an hour: an event that reaches the other worker at all came through Redis.
    env = dict(env, VIGIL_REDIS_URL=os.environ["VIGIL_TEST_REDIS_URL"], VIGIL_EVENT_POLL_SECONDS="3600")
    a = Web(env, tmp_path / "a.log")
    b = Web(env, tmp_path / "b.log")
    try:
        with b.socket(b.login("alice")) as ws:
            hello = json.loads(ws.recv(timeout=5))
            assert hello["type"] == "hello"
            # b's follower subscribes to Redis in its own time (another process: no handle on it),
            # so alerts are raised in a until one of their events reaches b's socket.
            raised: list[int] = []
            for n in range(20):
                raised.append(post_alert(a, world, f"cross-process-{n}"))
                try:
                    ev = receive_event(ws, 3)
                    break
                except AssertionError:
                    continue
            else:
                raise AssertionError(f"none of {len(raised)} events reached the other worker")
            assert ev["incident_id"] in raised and ev["kind"] == "incident.triggered"
    finally:
        a.stop()
        b.stop()


def test_a_full_worker_refuses_one_more_socket_with_a_reason_and_intake_still_answers(setup, tmp_path) -> None:
    env, world = setup
    web = Web(dict(env, VIGIL_EVENT_POLL_SECONDS="0.1", VIGIL_WS_MAX_PER_WORKER="2"), tmp_path / "web.log")
    try:
        cookie = web.login("alice")
        with web.socket(cookie) as one, web.socket(cookie) as two:
            for ws in (one, two):
                assert json.loads(ws.recv(timeout=5))["type"] == "hello"
            headers = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                       "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(), "Origin": web.url,
                       "Cookie": cookie}
            r = requests.get(f"{web.url}/ws", headers=headers, timeout=5)
            assert r.status_code == 503 and r.headers["Retry-After"] == "5"
            assert "already holds its 2 live connections" in r.json()["message"]
            # The sockets take none of intake's room: an alert is taken, and both viewers see it.
            iid = post_alert(web, world, "while-full")
            assert receive_event(one, 5)["incident_id"] == iid and receive_event(two, 5)["incident_id"] == iid
        deadline = time.monotonic() + 10
        while True:  # the server notices the two closes in its own time; then a new viewer gets in
            try:
                with web.socket(cookie) as again:
                    assert json.loads(again.recv(timeout=5))["type"] == "hello"
                break
            except Exception:
                assert time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        web.stop()


def test_the_socket_declines_compression_and_sends_the_same_frame_to_every_viewer(setup, tmp_path) -> None:
    env, world = setup
    web = Web(dict(env, VIGIL_EVENT_POLL_SECONDS="0.1"), tmp_path / "web.log")
    try:
        cookie = web.login("alice")
        with web.socket(cookie) as one, web.socket(cookie) as two:
            # The `websockets` client offers permessage-deflate, as browsers do: it is declined.
            assert one.response.headers.get("Sec-WebSocket-Extensions") is None
            assert "permessage-deflate" in one.request.headers["Sec-WebSocket-Extensions"]
            for ws in (one, two):
                assert json.loads(ws.recv(timeout=5))["type"] == "hello"
            post_alert(web, world, "same-frame")
            frames = [ws.recv(timeout=5) for ws in (one, two)]
        assert frames[0] == frames[1] and json.loads(frames[0])["event"]["kind"] == "incident.triggered"
    finally:
        web.stop()


def test_a_viewer_connects_while_a_writer_holds_sqlites_write_lock(setup, tmp_path) -> None:
    """The handshake only reads (who is asking, what they may see), so a crowd reconnecting after a
    restart neither queues behind the writers nor fails when the lock is busy for long."""
    import sqlite3

    env, world = setup
    web = Web(dict(env, VIGIL_EVENT_POLL_SECONDS="0.1"), tmp_path / "web.log")
    try:
        cookie = web.login("alice")
        with web.socket(cookie) as ws:  # a first visit: the session's last-seen time is settled
            json.loads(ws.recv(timeout=5))
        holder = sqlite3.connect(env["VIGIL_DATABASE_URL"].removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with web.socket(cookie) as ws:
                assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert "unhandled error" not in (tmp_path / "web.log").read_text()
    finally:
        web.stop()
