"""For deployments whose MX is elsewhere: the raw message POSTed with an e-mail integration key,
or SendGrid's and Mailgun's inbound forms; the same rules as over SMTP, clear 4xx otherwise."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.intake.keys import create_key
from app.models import Service
from tests.mailbox import allow, corpus, incident_list, mails


@pytest.fixture
def email_key(world: Any, database: Any, clock: Any) -> str:
    with database.transaction() as s:
        _, plain = create_key(s, s.get(Service, world.acme_web), "email", now=clock.now())
    return plain


def test_a_raw_message_posted_with_the_key_opens_an_incident(app: Any, client: Any, world: Any, database: Any, email_key: str) -> None:
    allow(database, world.acme, "@acme.test")
    r = client.post(f"/api/v1/intake/email/{email_key}", data=corpus("base64_utf8.eml"),
                    headers={"Content-Type": "message/rfc822", "X-Envelope-From": "jose@acme.test"})
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    assert body["status"] == "received" and body["outcome"] == "opened"
    [inc] = incident_list(database)
    assert body["incident"] == inc.id and inc.summary == "Paiement en échec – toutes les commandes"
    assert mails(database)[0].channel == "http"


def test_the_key_may_come_as_a_bearer_token(app: Any, client: Any, world: Any, database: Any, email_key: str) -> None:
    allow(database, world.acme, "@acme.test")
    r = client.post("/api/v1/intake/email", data=corpus("plain.eml"),
                    headers={"Content-Type": "message/rfc822", "Authorization": f"Bearer {email_key}"})
    assert r.status_code == 202


def test_sendgrid_and_mailgun_inbound_forms_are_accepted(app: Any, client: Any, world: Any, database: Any, email_key: str) -> None:
    allow(database, world.acme, "@acme.test")
    r = client.post(f"/api/v1/intake/email/{email_key}/sendgrid", data={
        "email": corpus("qp_latin1_french.eml").decode("ascii"),
        "envelope": json.dumps({"to": ["acme@mail.vigil.test"], "from": "elodie@acme.test"}),
        "to": "acme@mail.vigil.test", "from": "Élodie <elodie@acme.test>"})
    assert r.status_code == 202, r.get_json()
    r = client.post(f"/api/v1/intake/email/{email_key}/mailgun", data={
        "body-mime": corpus("multipart_alternative.eml").decode("ascii"), "sender": "ops@acme.test",
        "recipient": "acme@mail.vigil.test"})
    assert r.status_code == 202, r.get_json()
    assert [m.channel for m in mails(database)] == ["sendgrid", "mailgun"]
    assert [i.summary for i in incident_list(database)] == ["Le site est inaccessible depuis 4h (urgent)", "Search is very slow"]


def test_bad_inbound_requests_get_clear_4xx_and_store_nothing(app: Any, client: Any, world: Any, database: Any, email_key: str) -> None:
    allow(database, world.acme, "ops@acme.test", unknown="refuse")
    raw = {"Content-Type": "message/rfc822"}
    assert client.post(f"/api/v1/intake/email/{world.keys['acme_generic']}", data=corpus("plain.eml"), headers=raw).status_code == 403
    assert client.post("/api/v1/intake/email/nope", data=corpus("plain.eml"), headers=raw).status_code == 401
    r = client.post(f"/api/v1/intake/email/{email_key}", data=corpus("plain.eml"), headers={"Content-Type": "application/json"})
    assert r.status_code == 415
    assert client.post(f"/api/v1/intake/email/{email_key}", data=b"  ", headers=raw).status_code == 400
    r = client.post(f"/api/v1/intake/email/{email_key}", data=corpus("plain.eml").replace(b"ops@", b"eve@"), headers=raw)
    assert r.status_code == 403 and "eve@acme.test is not an allowed sender" in r.get_json()["message"]
    app.config["MAIL_MAX_BYTES"] = 1000
    assert client.post(f"/api/v1/intake/email/{email_key}", data=corpus("with_attachment.eml"), headers=raw).status_code == 413
    assert client.post(f"/api/v1/intake/email/{email_key}/sendgrid", data={"x": "y"}).status_code == 400
    assert client.post(f"/api/v1/intake/email/{email_key}/postmark", data={"x": "y"}).status_code == 404
    assert mails(database) == [] and incident_list(database) == []


def test_an_auto_reply_posted_over_http_is_recorded_and_opens_nothing(app: Any, client: Any, world: Any, database: Any, email_key: str) -> None:
    allow(database, world.acme, "@acme.test")
    r = client.post(f"/api/v1/intake/email/{email_key}", data=corpus("auto_reply.eml"), headers={"Content-Type": "message/rfc822"})
    assert r.status_code == 202 and r.get_json()["status"] == "loop"
    assert incident_list(database) == []
