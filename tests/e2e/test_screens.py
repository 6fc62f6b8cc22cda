"""Every main screen at phone size: it loads, runs its scripts without an error or a Content
Security Policy violation, and leaves a screenshot in test-artifacts/screens/."""

import time
from typing import Any

from tests.e2e.conftest import login, screenshot

ENGINEER_SCREENS = ["/", "/incidents", "/schedules", "/me/shifts", "/open-slots", "/clients", "/me",
                    "/settings/notifications", "/settings/security", "/settings/tokens"]
MANAGER_SCREENS = ["/admin", "/admin/clients/new", "/admin/clients/1", "/admin/policies/new", "/reports/allowances",
                   "/reports/access", "/schedules/new"]


def watch(page: Any) -> list[str]:
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"{page.url}: {e}"))
    page.on("console", lambda m: problems.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    return problems


def phone_watching_csp(new_phone: Any) -> Any:
    ctx = new_phone()
    ctx.add_init_script("window.__csp = []; document.addEventListener('securitypolicyviolation', "
                        "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")
    return ctx


def visit(page: Any, problems: list[str], path: str, name: str) -> None:
    resp = page.goto(path)
    assert resp is not None and resp.status == 200, (path, resp and resp.status)
    page.wait_for_load_state("load")
    # CSP violations are reported to the page as events; collect any that happened.
    violations = page.evaluate("() => window.__csp || []")
    problems.extend(f"{path}: CSP {v}" for v in violations)
    screenshot(page, name)


def test_the_engineers_screens_load_cleanly_at_phone_size(new_phone, server) -> None:
    page = phone_watching_csp(new_phone).new_page()
    problems = watch(page)
    login(page, "alice")
    iid = server.post_alert("CPU 98% on app-3", f"screens-{time.time()}")
    for path in [*ENGINEER_SCREENS, f"/incidents/{iid}"]:
        visit(page, problems, path, "engineer" + (path.replace("/", "-") if path != "/" else "-home"))
    assert problems == []


def test_the_managers_screens_load_cleanly_at_phone_size(new_phone, server) -> None:
    page = phone_watching_csp(new_phone).new_page()
    problems = watch(page)
    login(page, "maya")
    for path in MANAGER_SCREENS:
        visit(page, problems, path, "manager" + path.replace("/", "-"))
    assert problems == []
