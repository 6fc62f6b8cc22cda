"""A client's team gives a webhook (their chat's, their tooling's) to their status page: a manager
adds it, and each piece of the page's news reaches it once, as JSON signed with the secret shown
when it was added, through the real engine and a real HTTP receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.engine.loop import Engine
from app.models import AuditEntry, Notification
from app.notify.base import OutboundMessage, TransportError
from app.notify.webhook import WebhookTransport
from tests.fakes.servers import WSGIServerThread
from tests.helpers import make_app, post_alert


class Receiver:
    """A webhook on loopback: records each POST; /busy answers 503 once, /gone 410, /moved 302."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size)
        path = environ["PATH_INFO"]
        with self.lock:
            self.got.append({"path": path, "body": body, "headers": {
                k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
                | {"Content-Type": environ.get("CONTENT_TYPE", "")}})
            seen = sum(1 for g in self.got if g["path"] == path)
        if path == "/busy" and seen == 1:
            start_response("503 Service Unavailable", [("Retry-After", "30")])
            return [b"try later"]
        if path == "/gone":
            start_response("410 Gone", [])
            return [b"this webhook was deleted"]
        if path == "/moved":
            start_response("302 Found", [("Location", "http://169.254.169.254/latest/meta-data")])
            return [b""]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def to(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [g for g in self.got if g["path"] == path]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    r = Receiver()
    with WSGIServerThread(r, name="webhook") as server:
        yield r, server.url


@pytest.fixture
def app(database: Any, clock: Any, tmp_path: Path) -> Any:
    # The receiver listens on 127.0.0.1, over http: what this setting allows.
    return make_app(database, clock, tmp_path, STATUS_WEBHOOK_ALLOW_PRIVATE=True, STATUS_WEBHOOK_TIMEOUT_SECONDS=5.0)


@pytest.fixture
def engine(app: Any, database: Any, clock: Any) -> Iterator[Engine]:
    e = Engine(database, clock, app.config, name="engine-1")  # every real channel
    yield e
    e.close()


def news(browser: Any, client: Any, world: Any, body: str) -> None:
    iid = post_alert(client, world.keys["acme_generic"], dedup=body).get_json()["results"][0]["incident"]
    r = browser("alice").post(f"/api/v1/incidents/{iid}/public-updates", json={"status": "identified", "body": body})
    assert r.status_code == 201, r.get_json()


def add(browser: Any, world: Any, url: str) -> Any:
    return browser("maya").post(f"/api/v1/clients/{world.acme}/status/webhooks", json={"url": url})


def test_each_news_reaches_the_webhook_once_signed_with_the_secret_shown_when_it_was_added(
        app: Any, client: Any, world: Any, browser: Any, engine: Engine, receiver: Any, database: Any) -> None:
    got, base = receiver
    r = add(browser, world, f"{base}/hooks/T0001/B0001/s3cr3tpath")
    assert r.status_code == 201 and r.headers["Cache-Control"] == "no-store"
    hook = r.get_json()
    assert hook["secret"].startswith("whsec_") and "s3cr3tpath" not in hook["url"]

    news(browser, client, world, "A disk filled up on the database server.")
    engine.run_until_idle()
    [post] = got.to("/hooks/T0001/B0001/s3cr3tpath")
    payload = json.loads(post["body"])
    assert payload["event"] == "status.news" and payload["client"] == {"name": "Acme Retail", "slug": "acme"}
    assert payload["body"] == "A disk filled up on the database server."
    assert "A disk filled up on the database server." in payload["text"] and payload["page_url"].endswith("/status/acme")
    headers = post["headers"]
    assert headers["Content-Type"].startswith("application/json") and headers["X-Vigil-Event"] == "status.news"
    expected = "sha256=" + hmac.new(hook["secret"].encode(), post["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Vigil-Signature-256"], expected)
    assert headers["X-Vigil-Delivery"] == payload["id"]

    engine.run_until_idle()  # nothing goes twice
    assert len(got.got) == 1
    listed = browser("maya").get(f"/api/v1/clients/{world.acme}/status/webhooks").get_json()["webhooks"]
    assert [h["id"] for h in listed] == [hook["id"]] and "s3cr3tpath" not in json.dumps(listed)

    maya = browser("maya")
    assert maya.client.delete(f"/api/v1/status-webhooks/{hook['id']}", headers={"X-CSRFToken": maya.csrf}).status_code == 200
    news(browser, client, world, "We are deploying a fix.")
    engine.run_until_idle()
    assert len(got.got) == 1
    with database.session() as s:
        said = s.execute(select(AuditEntry.action, AuditEntry.data).where(AuditEntry.action.like("status.webhook%"))
                         .order_by(AuditEntry.id)).all()
    assert [a for a, _ in said] == ["status.webhook_added", "status.webhook_removed"]
    assert all("s3cr3tpath" not in json.dumps(d) for _, d in said)


def test_a_busy_webhook_is_tried_again_and_one_that_refuses_or_redirects_is_not(
        app: Any, client: Any, world: Any, browser: Any, engine: Engine, receiver: Any, database: Any,
        clock: Any) -> None:
    got, base = receiver
    for path in ("/busy", "/gone", "/moved"):
        assert add(browser, world, f"{base}{path}").status_code == 201
    news(browser, client, world, "Checkout is slow.")
    engine.run_until_idle()
    assert [len(got.to(p)) for p in ("/busy", "/gone", "/moved")] == [1, 1, 1]

    def states() -> dict[str, tuple[str, str | None]]:
        with database.session() as s:
            rows = s.execute(select(Notification.address, Notification.status, Notification.last_error)
                             .where(Notification.kind == "webhook")).all()
        return {a.removeprefix(base): (st, err) for a, st, err in rows}

    found = states()
    assert found["/busy"][0] == "pending"  # 503 with Retry-After: 30 s
    assert found["/gone"][0] == "failed" and "refused" in (found["/gone"][1] or "")
    assert found["/moved"][0] == "failed" and "redirect" in (found["/moved"][1] or "")
    assert got.to("/moved") and not any(g["path"] == "/latest/meta-data" for g in got.got)

    clock.advance(seconds=31)
    engine.run_until_idle()
    busy = got.to("/busy")
    assert len(busy) == 2 and busy[0]["body"] == busy[1]["body"]  # the same signed bytes, the same delivery id
    assert busy[0]["headers"]["X-Vigil-Signature-256"] == busy[1]["headers"]["X-Vigil-Signature-256"]
    assert states()["/busy"][0] == "sent"
    clock.advance(minutes=10)
    engine.run_until_idle()
    assert [len(got.to(p)) for p in ("/busy", "/gone", "/moved")] == [2, 1, 1]


def test_managers_add_only_public_https_addresses_and_nobody_else_adds_one(
        database: Any, clock: Any, tmp_path: Path, world: Any) -> None:
    from tests.helpers import Browser

    app = make_app(database, clock, tmp_path)  # the default: private networks refused
    maya = Browser(app.test_client()).login("maya")
    url = f"/api/v1/clients/{world.acme}/status/webhooks"
    refused = {
        "http://hooks.example.com/a": "https",
        "https://127.0.0.1/a": "public",
        "https://10.1.2.3/a": "public",
        "https://[::1]/a": "public",
        "https://localhost/a": "public",
        "https://chat.internal/a": "public",
        "https://user:pw@hooks.example.com/a": "user or password",
        "not a url": "https",
        "https://hooks.example.com/" + "a" * 400: "at most 320",
    }
    for address, why in refused.items():
        r = maya.post(url, json={"url": address})
        assert r.status_code == 400 and why in r.get_json()["message"], (address, r.get_json())
    assert maya.post(url, json={}).status_code == 400
    assert maya.post(url, json={"url": "https://hooks.example.com/services/x"}).status_code == 201
    again = maya.post(url, json={"url": "https://hooks.example.com/services/x"})
    assert again.status_code == 409 and "already" in again.get_json()["message"]
    alice = Browser(app.test_client()).login("alice")  # an engineer of Acme's pool
    assert alice.post(url, json={"url": "https://hooks.example.com/services/y"}).status_code == 403
    assert alice.get(url).status_code == 403


def test_the_sender_refuses_a_name_that_resolves_to_a_private_network() -> None:
    """Checked when the message goes out, not only when the address was added: a name's
    address can change."""
    t = WebhookTransport({})
    msg = OutboundMessage(notification_id=1, kind="webhook", purpose="status_news", user_id=0, user_name="",
                          address="https://localhost:9/hook", subject="s", body="{}", outsider=True)
    with pytest.raises(TransportError) as e:
        t.send(msg)
    assert e.value.permanent and "private network" in e.value.message


def test_the_admin_screen_adds_a_webhook_shows_its_secret_once_and_removes_it(
        app: Any, world: Any, browser: Any) -> None:
    maya = browser("maya")
    r = maya.form("/clients/acme/status/webhooks", {"url": "https://hooks.example.com/services/T1/B2/abcdefgh"})
    html = r.get_data(as_text=True)
    assert r.status_code == 201 and "whsec_" in html and r.headers["Cache-Control"] == "no-store"
    page = maya.get("/clients/acme/status").get_data(as_text=True)
    assert "https://hooks.example.com/…efgh" in page and "whsec_" not in page and "T1/B2" not in page
    bad = maya.form("/clients/acme/status/webhooks", {"url": "hooks.example.com/x"})
    assert bad.status_code == 302
    assert "must be an https" in maya.get("/clients/acme/status").get_data(as_text=True)
    hook = maya.get(f"/api/v1/clients/{world.acme}/status/webhooks").get_json()["webhooks"][0]["id"]
    assert maya.form(f"/clients/acme/status/webhooks/{hook}/delete", {}).status_code == 302
    assert "No webhook." in maya.get("/clients/acme/status").get_data(as_text=True)
    # An engineer sees the page, not its webhooks.
    assert "Webhooks" not in browser("alice").get("/clients/acme/status").get_data(as_text=True)


def test_a_webhook_removed_before_its_message_went_out_gets_nothing(
        app: Any, client: Any, world: Any, browser: Any, engine: Engine, receiver: Any, database: Any) -> None:
    got, base = receiver
    hook = add(browser, world, f"{base}/late").get_json()
    news(browser, client, world, "Queued, then the hook is removed.")
    maya = browser("maya")
    assert maya.client.delete(f"/api/v1/status-webhooks/{hook['id']}", headers={"X-CSRFToken": maya.csrf}).status_code == 200
    engine.run_until_idle()
    assert got.to("/late") == []
    with database.session() as s:
        n = s.execute(select(Notification).where(Notification.kind == "webhook")).scalar_one()
    assert n.status == "cancelled" and n.last_error == "the webhook was removed"
