"""axe-core (through axe-playwright-python) over every screen, in the light and the dark theme, as
an engineer, a manager, an admin and a client viewer, at phone size: no serious or critical
violation. And on a phone every tap target is at least 44 px tall, and no screen scrolls
sideways."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import PHONE, login
from tests.helpers import PASSWORD

ENGINEER = ["/", "/incidents", "/schedules", "/me/shifts", "/open-slots", "/clients", "/clients/acme", "/me",
            "/settings/profile", "/settings/notifications", "/settings/security", "/settings/tokens", "/on-call",
            "/no-such-page", "/reports/allowances", "/settings/contact", "/history", "/reports"]
MANAGER = ["/", "/admin", "/admin/clients/1", "/admin/clients/new", "/admin/policies/new", "/admin/policies/1",
           "/admin/people/4", "/admin/users/new", "/admin/pools/1", "/reports/allowances", "/reports/access?client=acme",
           "/schedules/new", "/schedules", "/incidents", "/clients/acme/contacts", "/services/1/heartbeats",
           "/clients/acme", "/history?status=resolved", "/reports", "/reports/load", "/reports/monthly/acme/2026-11",
           "/clients/1/mail", "/clients/acme/status"]
ADMIN = ["/admin/users", "/admin/security", "/admin/audit", "/"]
VIEWER = ["/status/acme", "/me", "/settings/security", "/history", "/reports", "/reports/monthly/acme/2026-11"]  # "/", "/incidents", "/clients": their status page
SERIOUS = ("serious", "critical")
# Screens that answer with an error page on purpose (still checked, like any other).
EXPECTED_STATUS = {"/no-such-page": 404, "/reports/allowances": None}


def axe_problems(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]}" for v in found if v["impact"] in SERIOUS]


def set_theme(page: Any, theme: str) -> None:
    # The app turns dark at night by itself (the phone's clock); the test says which one it checks.
    if theme == "light":
        page.evaluate("document.documentElement.removeAttribute('data-theme')")
    else:
        page.evaluate("document.documentElement.dataset.theme = 'dark'")


def check_screens(chromium: Any, server: Any, who: str, paths: list[str], email: str | None = None) -> list[str]:
    problems: list[str] = []
    for theme in ("light", "dark"):
        ctx = chromium.new_context(base_url=server.url, color_scheme=theme, **PHONE)
        try:
            page = ctx.new_page()
            if email:
                page.goto("/login")
                page.fill("input[name=email]", email)
                page.fill("input[name=password]", PASSWORD)
                page.click("button.primary")
                page.wait_for_selector("nav.tabs, #status-body")  # a client viewer lands on its status page
            else:
                login(page, who)
            for path in paths:
                resp = page.goto(path)
                expected = EXPECTED_STATUS.get(path, 200)
                if expected is not None:
                    assert resp is not None and resp.status == expected, (who, path, resp and resp.status)
                page.wait_for_load_state("load")
                set_theme(page, theme)
                problems += [f"{who} {theme} {path}: {p}" for p in axe_problems(page)]
        finally:
            ctx.close()
    return problems


@pytest.fixture(scope="module")
def incident(server: Any) -> int:
    return server.post_alert("Queue backlog over 10,000 on mq-1", f"a11y-{time.time()}")


def test_every_engineer_screen_has_no_serious_axe_violation(chromium, server, incident) -> None:
    assert check_screens(chromium, server, "alice", [*ENGINEER, f"/incidents/{incident}",
                                                     f"/incidents/{incident}/postmortem"]) == []


def test_every_manager_screen_has_no_serious_axe_violation(chromium, server, incident) -> None:
    assert check_screens(chromium, server, "maya", [*MANAGER, f"/incidents/{incident}",
                                                    f"/incidents/{incident}/postmortem"]) == []


def test_every_admin_and_client_viewer_screen_has_no_serious_axe_violation(chromium, server, incident) -> None:
    problems = check_screens(chromium, server, "admin", ADMIN)
    problems += check_screens(chromium, server, "victor", VIEWER, email="victor@acme.test")
    assert problems == [], "\n".join(problems)



TARGETS = """() => {
  const small = [];
  const seen = new Set();
  for (const el of document.querySelectorAll('main a[href], main button, main input, main select, main textarea, main summary, nav a, header a')) {
    let box = el;
    if (el.matches('input[type=checkbox], input[type=radio]')) box = el.closest('label') || el;
    if (el.matches('input[type=hidden]') || seen.has(box)) continue;
    seen.add(box);
    const r = box.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || style.visibility === 'hidden') continue;
    if (el.closest('.runbook')) continue;  // links inside running text (WCAG's inline exception)
    if (r.height < 43.5) small.push(`${el.tagName.toLowerCase()} "${(el.textContent || el.name || '').trim().slice(0, 40)}" ${Math.round(r.width)}x${Math.round(r.height)}`);
  }
  return small;
}"""


def test_every_tap_target_is_at_least_44_px_and_nothing_scrolls_sideways_on_a_phone(new_phone, server, incident) -> None:
    page = new_phone().new_page()
    login(page, "maya")
    problems = []
    for path in [*ENGINEER, *MANAGER, *ADMIN, f"/incidents/{incident}"]:
        if path in ("/admin/users", "/admin/security", "/admin/audit"):
            continue  # the admin's own screens: checked as the admin below
        page.goto(path)
        page.wait_for_load_state("load")
        problems += [f"{path}: {t}" for t in page.evaluate(TARGETS)]
        width = page.evaluate("document.scrollingElement.scrollWidth")
        if width > 390:
            problems.append(f"{path}: {width} px wide")
    admin = new_phone().new_page()
    login(admin, "admin")
    for path in ("/admin/users", "/admin/security", "/admin/audit"):
        admin.goto(path)
        problems += [f"{path}: {t}" for t in admin.evaluate(TARGETS)]

    assert problems == [], "\n".join(problems)


def test_the_access_report_and_the_audit_log_fit_a_phone_once_they_have_entries(new_phone, server) -> None:
    """The sideways check above sees whatever the suite left in the database before it: the access
    report was 512 px wide with one entry (an admin's name and e-mail address in one cell)."""
    from datetime import UTC, datetime

    from app.clients import connections
    from app.models import User

    with server.db.transaction() as s:
        conn = connections.create(s, server.vault, s.get(User, server.world.admin), server.world.acme, {
            "kind": "ssh", "label": "Acme bastion", "host": "bastion.acme.test", "port": 2222, "user": "oncall",
            "password": "correct-battery-9"}, datetime.now(UTC))
        conn_id = conn.id
    iid = server.post_alert("Disk full on web-2", f"wide-{time.time()}", key="acme_generic")
    page = new_phone().new_page()
    login(page, "alice")
    page.goto(f"/incidents/{iid}")
    page.click(f'form[data-reveal="{conn_id}"] button.big')  # a reveal: its address and device too
    page.wait_for_selector(f'form[data-reveal="{conn_id}"] .revealed:not([hidden])')
    widths = {}
    for who, path in (("maya", "/reports/access?client=acme"), ("admin", "/admin/audit")):
        screen = new_phone().new_page()
        login(screen, who)
        screen.goto(path)
        assert screen.locator("text=revealed connection info").count() >= 1, path
        widths[path] = screen.evaluate("document.scrollingElement.scrollWidth")
    assert all(w <= PHONE["viewport"]["width"] for w in widths.values()), widths
