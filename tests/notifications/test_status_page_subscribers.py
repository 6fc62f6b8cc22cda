"""E-mail subscribers of a client's status page, against the real SMTP peer and the app on a real
socket: double opt-in (only the confirmation goes out until its link is followed), the news with
RFC 8058 one-click unsubscribe headers, and the mail client's one-click POST that ends it."""

from __future__ import annotations

import re
import urllib.request
from typing import Any

from app.models import StatusPage


def public(database: Any, client_id: int, now: Any) -> None:
    with database.transaction() as s:
        s.merge(StatusPage(client_id=client_id, visibility="public", title="", color="#1f5fbf", created_at=now,
                           updated_at=now))


def subscribe(app: Any, email: str) -> Any:
    c = app.test_client()
    page = c.get("/status/acme").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    return c.post("/status/acme/subscribe", data={"email": email, "csrf_token": token})


def post_update(browser: Any, client: Any, world: Any, body: str) -> int:
    from tests.helpers import post_alert

    iid = post_alert(client, world.keys["acme_generic"]).get_json()["results"][0]["incident"]
    r = browser("alice").post(f"/api/v1/incidents/{iid}/public-updates", json={"status": "identified", "body": body})
    assert r.status_code == 201
    return iid


def http(method: str, url: str, data: bytes | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"} if data else {})
    with urllib.request.urlopen(req, timeout=5) as r:  # noqa: S310 (our own server on loopback)
        return r.status, r.read().decode()


def test_nothing_but_the_confirmation_goes_out_until_it_is_followed(app, client, world, engine, smtp, database, clock,
                                                                     browser) -> None:
    public(database, world.acme, clock.now())
    assert subscribe(app, "Reader@Example.com").status_code == 202
    assert subscribe(app, "reader@example.com").status_code == 202  # the same answer, no second message
    post_update(browser, client, world, "A disk filled up.")
    engine.run_until_idle()
    [mail] = smtp.wait_for(1)
    assert mail.rcpt_tos == ["reader@example.com"] and "Confirm" in mail.subject
    link = re.search(r"http://\S+/confirm/\S+", mail.body_text()).group(0)  # type: ignore[union-attr]
    assert http("GET", link)[0] == 200  # a mail scanner opening the link confirms nothing
    engine.run_until_idle()
    assert len(smtp.messages) == 1
    status, page = http("POST", link, b"")
    assert status == 200 and "Subscribed" in page

    post_update(browser, client, world, "We are deploying a fix.")
    engine.run_until_idle()
    news = smtp.wait_for(2)[1]
    assert "We are deploying a fix." in news.body_text() and "A disk filled up" not in news.body_text()
    m = news.message
    assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    off = m["List-Unsubscribe"].strip("<>")
    assert off.startswith("http://127.0.0.1:") and "/unsubscribe/" in off

    # The mail client's button (RFC 8058): a POST with this body, no cookie, no form token.
    assert http("POST", off, b"List-Unsubscribe=One-Click")[0] == 200
    post_update(browser, client, world, "Third news.")
    engine.run_until_idle()
    assert len(smtp.messages) == 2


def test_a_forged_or_foreign_link_changes_nothing(app, client, world, engine, smtp, database, clock) -> None:
    public(database, world.acme, clock.now())
    subscribe(app, "reader@example.com")
    engine.run_until_idle()
    link = re.search(r"http://\S+/confirm/\S+", smtp.wait_for(1)[0].body_text()).group(0)  # type: ignore[union-attr]
    path = "/" + link.split("/", 3)[3]
    c = app.test_client()
    assert c.post(path[:-4] + "0000").status_code == 404
    assert c.post(path.replace("/status/acme/", "/status/globex/")).status_code == 404
    assert c.post(path.replace("/confirm/", "/unsubscribe/")).status_code == 404
    from app.models import StatusSubscriber

    with database.transaction() as s:
        assert s.query(StatusSubscriber).one().confirmed_at is None


def test_a_bad_address_is_refused_with_a_reason(app, world, database, clock) -> None:
    public(database, world.acme, clock.now())
    r = subscribe(app, "not an address")
    assert r.status_code == 400 and "e-mail address" in r.get_json()["message"]
