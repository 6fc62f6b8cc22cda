"""Logging in: lockout per account and per address (kept in the database, the same answers
whether or not the account exists), session fixation, server-side logout, cookie flags, and an
admin's password reset."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import select

from app.models import AuditEntry
from tests.helpers import PASSWORD, Browser, _csrf_from, make_app


def attempt(client, email: str, password: str, ip: str = "203.0.113.7"):
    token = _csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": ip})


def actions(database) -> list[str]:
    with database.transaction() as s:
        return list(s.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars())


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(client, world, clock, database) -> None:
    for _ in range(5):
        assert attempt(client, "alice@vigil.test", "wrong password!").status_code == 401
    r = attempt(client, "alice@vigil.test", PASSWORD)
    assert r.status_code == 429 and b"Too many attempts. Try again in 15 minutes." in r.data
    clock.advance(minutes=14)
    assert attempt(client, "alice@vigil.test", PASSWORD).status_code == 429
    clock.advance(minutes=1, seconds=1)
    assert attempt(client, "alice@vigil.test", PASSWORD).status_code == 302
    assert actions(database).count("login.failed") == 5
    assert actions(database).count("login.locked") == 2


def test_an_unknown_account_is_answered_exactly_like_a_real_one(client, world) -> None:
    real = [attempt(client, "alice@vigil.test", "wrong password!") for _ in range(6)]
    ghost = [attempt(client, "ghost@vigil.test", "wrong password!") for _ in range(6)]
    assert [r.status_code for r in real] == [r.status_code for r in ghost] == [401] * 5 + [429]
    # CSRF tokens are signed with a timestamp, so they differ between any two answers; the rest
    # of the page must not.
    assert masked(real[0].data) == masked(ghost[0].data) and masked(real[-1].data) == masked(ghost[-1].data)


def masked(page: bytes) -> bytes:
    # The e-mail typed comes back in its field (so a typo in the password does not cost retyping
    # it): the same for both, whichever was typed.
    page = re.sub(rb'(name="email" autocomplete="username" required value)="[^"]*"', rb'\1=""', page)
    return re.sub(rb'(name="csrf_token" value|name="csrf-token" content)="[^"]*"', rb'\1=""', page)


def test_a_success_clears_the_account_count(client, world) -> None:
    for _ in range(4):
        attempt(client, "bob@vigil.test", "wrong password!")
    assert attempt(client, "bob@vigil.test", PASSWORD).status_code == 302
    for _ in range(4):
        assert attempt(client, "bob@vigil.test", "wrong password!").status_code == 401


def test_one_address_guessing_many_accounts_is_stopped(app, world) -> None:
    c = app.test_client()
    codes = [attempt(c, f"user{i}@vigil.test", "wrong password!", ip="198.51.100.9").status_code for i in range(21)]
    assert codes == [401] * 20 + [429]
    # Another address still gets in, and so does the locked address's own user later.
    assert attempt(app.test_client(), "carol@vigil.test", PASSWORD, ip="198.51.100.10").status_code == 302


def test_the_count_is_shared_by_every_worker(database, clock, tmp_path, world) -> None:
    """Two app instances (two gunicorn workers) on one database add up their attempts."""
    a = make_app(database, clock, tmp_path / "a").test_client()
    b = make_app(database, clock, tmp_path / "b").test_client()
    for i in range(5):
        attempt(a if i % 2 else b, "theo@vigil.test", "wrong password!")
    assert attempt(a, "theo@vigil.test", PASSWORD).status_code == 429
    assert attempt(b, "theo@vigil.test", PASSWORD).status_code == 429


def test_logging_in_starts_a_fresh_session(app, world) -> None:
    """Session fixation: nothing set before login survives it, and the pre-login cookie is not
    logged in."""
    c = app.test_client()
    with c.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    before = c.get_cookie("session").value
    Browser(c).login("alice")
    with c.session_transaction() as sess:
        assert "planted" not in sess and sess.get("sid")
    assert c.get_cookie("session").value != before
    replay = app.test_client()
    replay.set_cookie("session", before)
    assert replay.get("/api/v1/me").status_code == 401


def test_logging_out_kills_a_copied_cookie(app, world) -> None:
    alice = Browser(app.test_client()).login("alice")
    stolen = alice.client.get_cookie("session").value
    alice.client.post("/logout", headers={"X-CSRFToken": alice.csrf})
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/api/v1/me").status_code == 401


def test_cookie_flags_and_lifetime(database, clock, tmp_path, world) -> None:
    plain = make_app(database, clock, tmp_path / "p", SESSION_DAYS=30)
    c = Browser(plain.test_client()).login("alice").client
    cookie = c.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure
    # Flask dates the cookie by the wall clock, not by the app's clock.
    assert cookie.expires is not None and timedelta(days=29) < cookie.expires - datetime.now(UTC) < timedelta(days=31)

    secure = make_app(database, clock, tmp_path / "s", SECURE_COOKIES=True)
    c = secure.test_client()
    token = _csrf_from(c.get("/login", base_url="https://vigil.test").get_data(as_text=True))
    r = c.post("/login", base_url="https://vigil.test",
               data={"email": "alice@vigil.test", "password": PASSWORD, "csrf_token": token})
    header = r.headers["Set-Cookie"]
    assert header.startswith("__Host-session=") and "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header
    assert "Strict-Transport-Security" in r.headers


def test_an_admin_resets_a_password_and_every_old_session_dies(app, world, database, browser) -> None:
    carol = browser("carol")
    for _ in range(5):
        attempt(app.test_client(), "carol@vigil.test", "wrong password!")
    admin = browser("admin")
    page = admin.get(f"/admin/users/{world.carol}/reset")
    assert page.status_code == 200
    r = admin.client.post(f"/admin/users/{world.carol}/reset", data={"password": "", "csrf_token": admin.csrf})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    new = r.get_data(as_text=True).split('class="shown-once">')[1].split("<")[0]
    assert carol.get("/api/v1/me").status_code == 401  # the old session is gone
    assert attempt(app.test_client(), "carol@vigil.test", PASSWORD).status_code == 401
    assert attempt(app.test_client(), "carol@vigil.test", new).status_code == 302  # and the lock is lifted
    assert "user.password_reset" in actions(database)


def test_vigil_reset_password_from_the_command_line(tmp_path) -> None:
    from app.cli import main

    env = {"VIGIL_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "VIGIL_INSTANCE_PATH": str(tmp_path / "instance"),
           "VIGIL_PASSWORD_PROFILE": "CHEAPEST"}
    run = CliRunner().invoke
    assert run(main, ["db", "upgrade"], env=env).exit_code == 0
    assert run(main, ["create-user", "--email", "ops@x.test", "--name", "Ops", "--role", "admin",
                      "--password", "first password"], env=env).exit_code == 0
    out = run(main, ["reset-password", "--email", "ops@x.test", "--clear-totp"], env=env)
    assert out.exit_code == 0 and "new password: " in out.output
    new = out.output.split("new password: ")[1].strip()
    from app.accounts.users import check_password, find_by_email
    from app.db import Database

    db = Database(env["VIGIL_DATABASE_URL"])
    with db.transaction() as s:
        u = find_by_email(s, "ops@x.test")
        assert check_password(u, new) and not check_password(u, "first password")
        assert u.session_version == 2
    db.dispose()
    missing = run(main, ["reset-password", "--email", "nobody@x.test"], env=env)
    assert missing.exit_code != 0 and "no user" in missing.output


def test_an_overlong_client_address_is_cut_to_fit_not_a_500(client, world, database) -> None:
    """Behind VIGIL_PROXY_COUNT proxies the address comes from X-Forwarded-For, which a proxy may
    pass on as the client wrote it: sessions and tokens keep at most 64 characters of it."""
    from tests.test_api_tokens import bearer, create

    ip = "2001:db8::1%" + "x" * 100
    assert attempt(client, "alice@vigil.test", PASSWORD, ip=ip).status_code == 302
    token = create(Browser(client).login("alice"), "r")
    assert client.get("/api/v1/me", headers=bearer(token), environ_base={"REMOTE_ADDR": ip}).status_code == 200
    with database.transaction() as s:
        from app.models import ApiToken, LoginSession

        assert s.execute(select(LoginSession.ip)).scalars().first() == ip[:64]
        assert s.execute(select(ApiToken.last_used_ip)).scalar_one() == ip[:64]
