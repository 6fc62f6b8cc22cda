"""The TOTP second factor: enrolment, the login's second step, no code twice, lockout, an
admin requiring it for a role, and recovery by an admin reset."""

from __future__ import annotations

import re

import pyotp
from sqlalchemy import select

from app.models import AuditEntry, User
from tests.helpers import PASSWORD, Browser, _csrf_from


def code(secret: str, clock, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now().timestamp() + 30 * offset_steps)


def enrol(b: Browser, clock) -> str:
    page = b.get("/settings/security").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert 'src="data:image/svg+xml;base64,' in page and "otpauth://totp/Vigil:" in page
    r = b.client.post("/settings/totp", data={"code": code(secret, clock), "csrf_token": b.csrf})
    assert r.status_code == 302
    assert "On: every login" in b.get("/settings/security").get_data(as_text=True)
    return secret


def password(client, email: str, pw: str = PASSWORD):
    token = _csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": pw, "csrf_token": token})


def second(client, value: str):
    token = _csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login/code", data={"code": value, "csrf_token": token})


def test_an_enrolled_user_needs_the_code_after_the_password(app, world, browser, clock, database) -> None:
    secret = enrol(browser("alice"), clock)
    with database.transaction() as s:
        stored = s.get(User, world.alice).totp_secret
    assert secret not in stored  # encrypted at rest
    c = app.test_client()
    r = password(c, "alice@vigil.test")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login/code")
    assert c.get("/api/v1/me").status_code == 401  # not logged in yet
    assert second(c, "000000").status_code == 401
    clock.advance(seconds=30)
    assert second(c, code(secret, clock)).status_code == 302
    assert c.get("/api/v1/me").status_code == 200


def test_a_code_cannot_be_used_twice(app, world, browser, clock) -> None:
    secret = enrol(browser("bob"), clock)
    clock.advance(seconds=31)
    used = code(secret, clock)
    first = app.test_client()
    password(first, "bob@vigil.test")
    assert second(first, used).status_code == 302
    other = app.test_client()
    password(other, "bob@vigil.test")
    assert second(other, used).status_code == 401
    assert second(other, code(secret, clock, 1)).status_code == 302  # the next step works


def test_guessing_codes_locks_the_account(app, world, browser, clock) -> None:
    secret = enrol(browser("carol"), clock)
    c = app.test_client()
    password(c, "carol@vigil.test")
    for _ in range(5):
        assert second(c, "123456").status_code == 401
    r = second(c, code(secret, clock, 1))
    assert r.status_code == 429 and b"Too many attempts" in r.data
    assert c.get("/api/v1/me").status_code == 401


def test_the_second_step_expires_and_dies_with_a_password_reset(app, world, browser, clock, database) -> None:
    secret = enrol(browser("theo"), clock)
    c = app.test_client()
    password(c, "theo@vigil.test")
    with database.transaction() as s:
        s.get(User, world.theo).session_version += 1
    r = second(c, code(secret, clock, 1))
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    assert c.get("/api/v1/me").status_code == 401


def test_an_admin_can_require_totp_and_engineers_enrol_at_next_login(app, world, browser, clock, database) -> None:
    admin = browser("admin")
    r = admin.client.post("/admin/security", data={"totp_roles": ["engineer"], "csrf_token": admin.csrf})
    assert r.status_code == 302
    c = app.test_client()
    r = password(c, "dave@vigil.test")
    assert r.headers["Location"].endswith("/login/enrol")
    page = c.get("/login/enrol").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert c.get("/api/v1/me").status_code == 401
    r = c.post("/login/enrol", data={"code": code(secret, clock), "csrf_token": _csrf_from(page)})
    assert r.status_code == 302 and c.get("/api/v1/me").status_code == 200
    # Managers are not in the required roles: straight in.
    assert password(app.test_client(), "maya@vigil.test").headers["Location"] == "/"
    with database.transaction() as s:
        acts = list(s.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars())
    assert "settings.changed" in acts and "totp.enabled" in acts


def test_a_required_factor_cannot_be_turned_off(world, browser, clock) -> None:
    alice = browser("alice")
    secret = enrol(alice, clock)
    admin = browser("admin")
    admin.client.post("/admin/security", data={"totp_roles": ["engineer"], "csrf_token": admin.csrf})
    alice.client.post("/settings/totp/disable", data={"code": code(secret, clock, 1), "csrf_token": alice.csrf})
    assert "On: every login" in alice.get("/settings/security").get_data(as_text=True)


def test_a_lost_phone_is_recovered_by_an_admin_reset(app, world, browser, clock) -> None:
    enrol(browser("bob"), clock)
    admin = browser("admin")
    r = admin.client.post(f"/admin/users/{world.bob}/reset",
                          data={"password": "a brand new password", "clear_totp": "1", "csrf_token": admin.csrf})
    assert r.status_code == 200
    c = app.test_client()
    assert password(c, "bob@vigil.test", "a brand new password").headers["Location"] == "/"
