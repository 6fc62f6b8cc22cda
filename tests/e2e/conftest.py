"""Browser tests: Vigil served by gunicorn with a gevent worker and a real engine process on
loopback, driven by Playwright through Debian's Chromium (headless), at phone size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from app import migrate
from app.accounts.users import use_hash_profile
from app.clients.crypto import Vault, generate_key, parse_keys
from app.db import Database
from tests.fakes.webpush import FakePushService
from tests.helpers import PASSWORD, World, build_world, free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SCREENSHOTS = ROOT / "test-artifacts" / "screens"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@dataclass
class Server:
    url: str
    db: Database
    world: World
    tmp: Path
    vault: Vault
    web_cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    web: subprocess.Popen[bytes] | None = None

    def start_web(self) -> None:
        """Start the web process (again, on the same port) and wait until it answers."""
        assert self.web is None, "the web process is already running"
        self.web = start(self.web_cmd, self.env, self.tmp / "web.log")
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if self.web.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Vigil did not start:\n" + self.log())
            time.sleep(0.1)

    def stop_web(self) -> None:
        """Stop the web process as a deploy or a restart does (SIGTERM); the engine goes on.
        Returns once nothing listens on the port any more."""
        assert self.web is not None, "the web process is not running"
        self.web.terminate()
        self.web.wait(15)
        self.web = None
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{self.url}/healthz", timeout=2)

    @contextmanager
    def web_stopped(self) -> Iterator[None]:
        """Vigil's web process is down inside the block, and up again after it (even when the
        block fails, so the tests after it find a server)."""
        self.stop_web()
        try:
            yield
        finally:
            self.start_web()

    def post_alert(self, summary: str, dedup: str, key: str = "globex_generic") -> int:
        r = requests.post(f"{self.url}/api/v1/intake/generic/{self.world.keys[key]}",
                          json={"summary": summary, "dedup_key": dedup, "severity": "critical"}, timeout=5)
        assert r.status_code == 202, r.text
        return int(r.json()["results"][0]["incident"])

    def log(self) -> str:
        return "".join(p.read_text(errors="replace")[-4000:] for p in self.tmp.glob("*.log"))


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:  # appended: a restarted process keeps the earlier lines
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def _heartbeat(db: Database, world: World) -> None:
    """A heartbeat monitor of Acme's web shop with a ping and a failure, for its screen."""
    from app.intake import heartbeats
    from app.models import Service

    now = datetime.now(UTC)
    with db.transaction() as s:
        m = heartbeats.create(s, s.get(Service, world.acme_web), heartbeats.MonitorInput("nightly backup", 86400, 3600), now)
        heartbeats.ping(s, m, "success", now, "http", "dump ok", "10.0.0.7")
        heartbeats.ping(s, m, "fail", now, "http", "pg_dump: error: connection refused", "10.0.0.7")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (bash tests/run.sh installs it)")
    tmp = tmp_path_factory.mktemp("e2e")
    db_url = f"sqlite:///{tmp / 'e2e.db'}"
    db = Database(db_url)
    migrate.upgrade(db)
    use_hash_profile("CHEAPEST")
    world = build_world(db, datetime.now(UTC))
    _heartbeat(db, world)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    encryption_key = generate_key()
    env = dict(os.environ, VIGIL_DATABASE_URL=db_url, VIGIL_INSTANCE_PATH=str(tmp / "instance"),
               VIGIL_ENCRYPTION_KEY=encryption_key, VIGIL_PUSH_ALLOW_LOOPBACK="1",
               VIGIL_VAPID_SUBJECT="mailto:oncall-admin@vigil.example",
               VIGIL_SECRET_KEY="e2e-secret", VIGIL_BASE_URL=url, VIGIL_PASSWORD_PROFILE="CHEAPEST",
               VIGIL_ENGINE_POLL_SECONDS="0.1", VIGIL_EVENT_POLL_SECONDS="0.1", VIGIL_SHIFT_CHECK_SECONDS="1",
               PYTHONPATH=str(ROOT))
    web_cmd = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "-b", f"127.0.0.1:{port}",
               "--graceful-timeout", "3", "app.wsgi:app"]
    engine = start([sys.executable, "-m", "app.cli", "engine"], env, tmp / "engine.log")
    srv = Server(url, db, world, tmp, Vault(parse_keys(encryption_key)), web_cmd, env)
    try:
        srv.start_web()
        yield srv
    finally:
        for p in (srv.web, engine):
            if p is not None:
                p.terminate()
        for p in (srv.web, engine):
            if p is not None:
                p.wait(15)
        db.dispose()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def chromium(playwright: Any) -> Iterator[Any]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def installed_profile(playwright: Any, server: Server, tmp_path: Path) -> Iterator[Any]:
    """A regular (non-incognito) browser profile: Chrome never offers installation in incognito,
    and Playwright's ordinary contexts count as such."""
    ctx = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        base_url=server.url, **PHONE)
    yield ctx
    ctx.close()


@pytest.fixture
def new_phone(chromium: Any, server: Server) -> Iterator[Any]:
    """Make phone-sized browser contexts (one per engineer); closed after the test."""
    contexts = []

    def make() -> Any:
        ctx = chromium.new_context(base_url=server.url, **PHONE)
        ctx.grant_permissions(["notifications", "background-sync"], origin=server.url)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


def login(page: Any, who: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", f"{who}@vigil.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_selector("nav.tabs")  # the home screen: logged in


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


WORKER_STATE = """async () => {
  const r = await navigator.serviceWorker.getRegistration();
  return r ? {installing: !!r.installing, waiting: !!r.waiting, active: r.active && r.active.state} : null;
}"""


def controlled(page: Any) -> None:
    """Wait until the service worker controls the page (it claims clients on activation). A page
    loaded before its worker activated is controlled from its next navigation: reload once, and
    if that is not enough either, say what state the worker is in."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15_000)
        return
    except PlaywrightTimeout:
        before = page.evaluate(WORKER_STATE)
    page.reload()
    try:
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15_000)
    except PlaywrightTimeout:
        raise AssertionError(f"the service worker never took control: {before} then {page.evaluate(WORKER_STATE)}") from None


# --- push and the lock screen -------------------------------------------------------------------
# Headless Chromium has no vendor push service: the PWA subscribes with our loopback fake's
# subscription, the engine sends it a real VAPID-signed, encrypted push, and the test hands that
# payload to the service worker over CDP. Chromium has no way to click a notification either, so
# a tap calls the worker's click handler with a stand-in event (one that keeps its waitUntil).

STUB = """([endpoint, p256dh, auth]) => {
  // Headless Chromium has no vendor push service: hand back the fake service's subscription.
  PushManager.prototype.subscribe = async function () {
    return { endpoint, expirationTime: null, options: {}, toJSON() { return { endpoint, expirationTime: null, keys: { p256dh, auth } }; } };
  };
}"""

NOTIFICATIONS = """() => self.registration.getNotifications().then(ns => ns.map(n => ({title: n.title, body: n.body,
  tag: n.tag, actions: n.actions.map(a => a.action), sticky: n.requireInteraction})))"""

TAP = """async ([tag, action]) => {
  const [n] = await self.registration.getNotifications({tag});
  if (!n) throw new Error(`no notification tagged ${tag}`);
  self.__vigilClickWork = [];
  return self.vigilHandleNotificationClick({action, notification: n, waitUntil: (p) => self.__vigilClickWork.push(p)});
}"""


@pytest.fixture
def push_service() -> Iterator[FakePushService]:
    with FakePushService() as service:
        yield service


def subscribe_phone(page: Any, service: FakePushService) -> Any:
    sub = service.new_subscription()
    page.goto("/settings/notifications")
    page.evaluate(STUB, [sub.endpoint, sub.p256dh, sub.auth])
    before = page.inner_text("#push-status")
    page.click("#enable-push")
    # Wait for the answer, not for a device in the list: an earlier test may have left one there.
    page.wait_for_function("""before => { const t = document.querySelector('#push-status').textContent.trim();
                                          return t !== before.trim() && !t.endsWith('…'); }""",
                           arg=before, timeout=10_000)
    assert "Notifications are on" in page.inner_text("#push-status")
    page.wait_for_selector("#devices li.device", timeout=10_000)
    return sub


def registration_id(page: Any) -> tuple[Any, str]:
    cdp = page.context.new_cdp_session(page)
    found: list[str] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated",
           lambda e: found.extend(r["registrationId"] for r in e["registrations"] if not r.get("isDeleted")))
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 5
    while not found and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert found, "no service worker registration"
    return cdp, found[0]


def push_for(service: FakePushService, incident_id: int) -> dict[str, Any]:
    """The engine's push for an incident, as the push service received it (decrypted)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for r in service.received:
            payload = r.json()
            if payload.get("incident", {}).get("id") == incident_id:
                return payload
        time.sleep(0.05)
    raise AssertionError(f"the engine sent no push for incident {incident_id}")


def notifications(worker: Any) -> list[dict[str, Any]]:
    """What the phone shows: the service worker registration's notifications."""
    return worker.evaluate(NOTIFICATIONS)


def eventually(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `check` until it returns something truthy, and return that; fail saying `what` was
    awaited. A bound for a wait, never a claim about speed."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting, after {timeout} s, for {what}")
        time.sleep(0.05)


def wait_for_notification(worker: Any, match: Callable[[dict[str, Any]], bool], timeout: float = 15) -> dict[str, Any]:
    """Poll until a shown notification satisfies `match`; say what was shown otherwise."""
    shown: list[dict[str, Any]] = []

    def found() -> dict[str, Any] | None:
        shown[:] = notifications(worker)
        return next((n for n in shown if match(n)), None)

    try:
        return eventually(found, timeout, "a notification")
    except AssertionError:
        raise AssertionError(f"no such notification; shown: {shown}") from None


def deliver_push(ctx: Any, server: Server, payload: dict[str, Any]) -> dict[str, Any]:
    """Deliver a push into the context's service worker, as the browser's push service would,
    whether or not a page of Vigil is open, and return the notification it shows (the one
    tagged like the payload). CDP's ServiceWorker domain lives on page targets only, so a blank
    page (not a window of Vigil's origin: the worker does not see it as a client) carries the
    command, and is closed once the notification is there."""
    blank = ctx.new_page()
    try:
        cdp, reg = registration_id(blank)
        cdp.send("ServiceWorker.deliverPushMessage",
                 {"origin": server.url, "registrationId": reg, "data": json.dumps(payload)})
        return wait_for_notification(service_worker(ctx), lambda n: n["tag"] == payload["tag"])
    finally:
        blank.close()


def service_worker(ctx: Any) -> Any:
    assert ctx.service_workers, "no service worker running"
    return ctx.service_workers[0]


def tap(worker: Any, tag: str, action: str = "ack") -> Any:
    """Tap a notification's action button (by default "Acknowledge") on the lock screen; returns
    what the worker's handler resolves with (for an ack: the outbox entry after the first try)."""
    return worker.evaluate(TAP, [tag, action])
