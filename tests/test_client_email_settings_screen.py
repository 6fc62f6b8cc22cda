"""Managers set a client's address, allowed senders and rules on the client screen (and API);
mistakes get a 400 naming the field; the listener follows the new address at once; engineers
download attachments (audited)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.models import AuditEntry, MailAttachment
from tests.mailbox import DOMAIN, allow, corpus, incident_list, listening, send


def test_a_manager_sets_the_address_and_rules_and_the_listener_follows(app: Any, world: Any, database: Any, clock: Any, browser: Any) -> None:
    app.config["MAIL_DOMAIN"] = DOMAIN
    maya = browser("maya")
    page = maya.get(f"/clients/{world.acme}/mail")
    assert page.status_code == 200 and f"acme@{DOMAIN}" in page.get_data(as_text=True)
    r = maya.form(f"/clients/{world.acme}/mail", {
        "enabled": "on", "local_part": "support-acme", "allowed_senders": "ops@acme.test\n@partner.test",
        "unknown_senders": "refuse", "reopen_days": "3", "rate_per_hour": "10", "default_service_id": ""})
    assert r.status_code == 302
    got = maya.get(f"/api/v1/clients/{world.acme}/mail").get_json()
    assert got["address"] == f"support-acme@{DOMAIN}" and got["allowed_senders"] == ["@partner.test", "ops@acme.test"]
    assert got["unknown_senders"] == "refuse" and got["reopen_days"] == 3 and got["rate_per_hour"] == 10
    with listening(database, clock) as h:
        assert send(h, corpus("plain.eml"), to=f"acme@{DOMAIN}")[0] == 550  # the old address is gone
        assert send(h, corpus("plain.eml"), to=f"support-acme@{DOMAIN}")[0] == 250
    assert len(incident_list(database)) == 1


def test_mistakes_in_the_rules_get_a_400_naming_the_field(app: Any, world: Any, browser: Any) -> None:
    maya = browser("maya")
    url = f"/api/v1/clients/{world.acme}/mail"
    for body, field in [({"local_part": "a+b"}, "local_part"), ({"allowed_senders": ["not an address"]}, "allowed_senders"),
                        ({"unknown_senders": "bounce"}, "unknown_senders"), ({"reopen_days": -1}, "reopen_days"),
                        ({"rate_per_hour": "many"}, "rate_per_hour"), ({"default_service_id": world.globex_wh}, "default_service_id")]:
        r = maya.put(url, json=body)
        assert r.status_code == 400 and r.get_json()["message"].startswith(field), (body, r.get_json())
    r = maya.put(url, json={"local_part": "globex"})
    assert r.status_code == 409  # another client's address
    assert browser("alice").put(url, json={"reopen_days": 1}).status_code == 403  # engineers do not configure clients


def test_an_engineer_downloads_an_attachment_and_the_download_is_audited(app: Any, world: Any, database: Any, clock: Any, browser: Any) -> None:
    allow(database, world.acme, "@acme.test")
    with listening(database, clock) as h:
        send(h, corpus("with_attachment.eml"))
    [inc] = incident_list(database)
    alice = browser("alice")
    listing = alice.get(f"/api/v1/incidents/{inc.id}/mails").get_json()["mails"]
    [att] = listing[0]["attachments"]
    assert att["filename"] == "journal d'erreurs.pdf" and att["size"] == 1160 and att["kept"]
    r = alice.get(att["url"])
    assert r.status_code == 200 and r.data.startswith(b"%PDF") and r.mimetype == "application/octet-stream"
    assert "attachment;" in r.headers["Content-Disposition"]
    with database.session() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "mail.attachment_downloaded")).scalar_one()
        assert entry.incident_id == inc.id and entry.actor_id == world.alice
        assert s.execute(select(MailAttachment)).scalar_one().data is not None


def test_the_incident_screen_lists_the_mails_and_writes_to_the_client_without_javascript(
        app: Any, world: Any, database: Any, clock: Any, browser: Any) -> None:
    from app.models import Notification

    allow(database, world.acme, "@acme.test")
    with listening(database, clock) as h:
        send(h, corpus("with_attachment.eml"))
    [inc] = incident_list(database)
    alice = browser("alice")
    page = alice.get(f"/incidents/{inc.id}").get_data(as_text=True)
    assert "E-mails from Acme Retail" in page and "journal d&#39;erreurs.pdf" in page and "raw source (logged)" in page
    assert "Send to the client" in page
    viewer_page = browser("victor@acme.test").get(f"/incidents/{inc.id}").get_data(as_text=True)
    assert "raw source (logged)" not in viewer_page and "Send to the client" not in viewer_page
    r = alice.form(f"/incidents/{inc.id}/client-mail", {"text": "We are on it; which card brand fails?"})
    assert r.status_code == 302
    with database.session() as s:
        sent = s.execute(select(Notification).where(Notification.purpose == "client_mail")
                         .order_by(Notification.id.desc())).scalars().first()
    assert "which card brand fails?" in (sent.message or "") and sent.address == "ops@acme.test"
