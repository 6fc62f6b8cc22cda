"""API tokens: created in the UI and shown once, stored hashed, limited to their scopes,
revocable at once, with their last use; a request with a token never uses the session cookie."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.accounts.tokens import digest
from app.models import ApiToken, AuditEntry
from tests.helpers import post_alert


def create(b, name: str = "bot", scopes=("read",), expires: str = "") -> str:
    r = b.client.post("/settings/tokens", data={"name": name, "scopes": list(scopes), "expires": expires,
                                                "csrf_token": b.csrf})
    assert r.status_code == 201 and r.headers["Cache-Control"] == "no-store"
    return re.search(r'class="shown-once">(vgl_[^<]+)<', r.get_data(as_text=True)).group(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_is_shown_once_and_only_its_hash_is_kept(world, browser, database) -> None:
    alice = browser("alice")
    token = create(alice)
    assert len(token) > 40
    page = alice.get("/settings/tokens").get_data(as_text=True)
    assert token not in page and token[:12] in page
    with database.transaction() as s:
        row = s.execute(select(ApiToken)).scalar_one()
        assert row.token_hash == digest(token) and token not in (row.prefix + row.scopes + row.name)
        assert [a for a in s.execute(select(AuditEntry.action)).scalars()][-1] == "token.created"


def test_scopes_limit_what_a_token_may_do(client, world, browser) -> None:
    iid = post_alert(client, world.keys["acme_generic"]).get_json()["results"][0]["incident"]
    alice = browser("alice")
    read, write, ingest = create(alice, "r"), create(alice, "w", ("write",)), create(alice, "i", ("ingest",))
    assert client.get("/api/v1/incidents", headers=bearer(read)).status_code == 200
    r = client.post(f"/api/v1/incidents/{iid}/ack", json={}, headers=bearer(read))
    assert r.status_code == 403 and "write scope" in r.get_json()["message"]
    assert client.get("/api/v1/incidents", headers=bearer(write)).status_code == 403  # write does not imply read
    assert client.post(f"/api/v1/incidents/{iid}/ack", json={}, headers=bearer(write)).status_code == 200
    url = f"/api/v1/services/{world.acme_web}/intake/generic"
    assert client.post(url, json={"summary": "from the central Prometheus"}, headers=bearer(read)).status_code == 403
    assert client.post(url, json={"summary": "from the central Prometheus"}, headers=bearer(ingest)).status_code == 202
    assert client.get("/api/v1/incidents", headers=bearer(ingest)).status_code == 403


def test_a_token_acts_within_its_users_visibility(client, world, browser) -> None:
    theirs = post_alert(client, world.keys["initech_generic"]).get_json()["results"][0]["incident"]
    token = create(browser("alice"), "w", ("read", "write", "ingest"))
    assert client.get(f"/api/v1/incidents/{theirs}", headers=bearer(token)).status_code == 404
    assert client.post(f"/api/v1/incidents/{theirs}/ack", json={}, headers=bearer(token)).status_code == 404
    r = client.post(f"/api/v1/services/{world.initech_tps}/intake/generic", json={"summary": "x"}, headers=bearer(token))
    assert r.status_code == 404


def test_a_client_viewer_may_only_create_read_tokens(world, browser) -> None:
    victor = browser("victor@acme.test")
    r = victor.client.post("/settings/tokens", data={"name": "x", "scopes": ["write"], "csrf_token": victor.csrf})
    assert r.status_code == 302
    assert "may only create tokens with the scopes read" in victor.get("/settings/tokens").get_data(as_text=True)
    assert create(victor).startswith("vgl_")


def test_revocation_takes_effect_on_the_next_request(client, world, browser, database) -> None:
    alice = browser("alice")
    token = create(alice)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    with database.transaction() as s:
        tid = s.execute(select(ApiToken.id)).scalar_one()
    assert alice.client.post(f"/settings/tokens/{tid}/revoke", headers={"X-CSRFToken": alice.csrf}).status_code == 302
    r = client.get("/api/v1/me", headers=bearer(token))
    assert r.status_code == 401 and "revoked" in r.get_json()["message"]
    # Someone else's token is "not found", whoever asks (but an admin).
    bob_token = create(browser("bob"))
    with database.transaction() as s:
        bid = s.execute(select(ApiToken.id).where(ApiToken.id != tid)).scalar_one()
    assert alice.client.post(f"/settings/tokens/{bid}/revoke", headers={"X-CSRFToken": alice.csrf}).status_code == 404
    assert client.get("/api/v1/me", headers=bearer(bob_token)).status_code == 200


def test_an_expired_token_is_refused(client, world, browser, clock) -> None:
    token = create(browser("alice"), expires="30")
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    clock.advance(days=30)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_last_use_is_recorded_at_most_once_a_minute(client, world, browser, clock, database) -> None:
    token = create(browser("alice"))
    client.get("/api/v1/me", headers=bearer(token), environ_base={"REMOTE_ADDR": "192.0.2.1"})
    first = clock.now()
    clock.advance(seconds=30)
    client.get("/api/v1/me", headers=bearer(token))
    with database.transaction() as s:
        row = s.execute(select(ApiToken)).scalar_one()
        assert row.last_used_at == first and row.last_used_ip == "192.0.2.1"
    clock.advance(seconds=31)
    client.get("/api/v1/me", headers=bearer(token))
    with database.transaction() as s:
        assert s.execute(select(ApiToken.last_used_at)).scalar_one() == clock.now()


def test_a_bad_token_never_falls_back_to_the_session_cookie(world, browser) -> None:
    alice = browser("alice")
    assert alice.get("/api/v1/me").status_code == 200
    r = alice.get("/api/v1/me", headers=bearer("vgl_forged"))
    assert r.status_code == 401
    r = alice.post("/api/v1/incidents/1/ack", json={}, headers=bearer("not-even-a-token"))
    assert r.status_code == 401


def test_a_token_request_needs_no_csrf_token_and_gets_no_cookie(client, world, browser) -> None:
    iid = post_alert(client, world.keys["acme_generic"]).get_json()["results"][0]["incident"]
    token = create(browser("alice"), "w", ("read", "write"))
    fresh = browser("bob").client.application.test_client()
    r = fresh.post(f"/api/v1/incidents/{iid}/ack", json={}, headers=bearer(token))
    assert r.status_code == 200 and r.get_json()["incident"]["acknowledged_by"] == "Alice Martin"
    me = fresh.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200 and "Set-Cookie" not in me.headers
