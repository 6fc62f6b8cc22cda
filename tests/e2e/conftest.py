"""Browser tests: Vigil served by gunicorn with a gevent worker and a real engine process on
loopback, driven by Playwright through Debian's Chromium (headless), at phone size."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from app import migrate
from app.auth import use_hash_profile
from app.crypto import Vault, generate_key, parse_keys
from app.db import Database
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

    def post_alert(self, summary: str, dedup: str, key: str = "globex_generic") -> int:
        r = requests.post(f"{self.url}/api/v1/intake/generic/{self.world.keys[key]}",
                          json={"summary": summary, "dedup_key": dedup, "severity": "critical"}, timeout=5)
        assert r.status_code == 202, r.text
        return int(r.json()["results"][0]["incident"])

    def log(self) -> str:
        return "".join(p.read_text(errors="replace")[-4000:] for p in self.tmp.glob("*.log"))


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


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
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    encryption_key = generate_key()
    env = dict(os.environ, VIGIL_DATABASE_URL=db_url, VIGIL_INSTANCE_PATH=str(tmp / "instance"),
               VIGIL_ENCRYPTION_KEY=encryption_key, VIGIL_PUSH_ALLOW_LOOPBACK="1",
               VIGIL_VAPID_SUBJECT="mailto:oncall-admin@vigil.example",
               VIGIL_SECRET_KEY="e2e-secret", VIGIL_BASE_URL=url, VIGIL_PASSWORD_PROFILE="CHEAPEST",
               VIGIL_ENGINE_POLL_SECONDS="0.1", VIGIL_EVENT_POLL_SECONDS="0.1", PYTHONPATH=str(ROOT))
    procs = [
        start([sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "-b", f"127.0.0.1:{port}",
               "--graceful-timeout", "3", "app.wsgi:app"], env, tmp / "web.log"),
        start([sys.executable, "-m", "app.cli", "engine"], env, tmp / "engine.log"),
    ]
    srv = Server(url, db, world, tmp, Vault(parse_keys(encryption_key)))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("Vigil did not start:\n" + srv.log())
            time.sleep(0.1)
        yield srv
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
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
