"""A client's e-mail over real SMTP becomes an incident: stored raw before the 250, parsed in
every encoding mail programs use, escalated like any alert, and answered in the client's thread."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.models import MailAttachment, MailThread, Notification, TimelineEntry
from tests.mailbox import allow, corpus, incident_list, listening, mails, send

EXPECTED = {
    "plain.eml": ("Checkout page returns 500 errors", "Orders are not going through."),
    "multipart_alternative.eml": ("Search is very slow", "Search takes 30 seconds per query"),
    "qp_latin1_french.eml": ("Le site est inaccessible depuis 4h (urgent)", "Les clients reçoivent une page d'erreur « Service indisponible »"),
    "base64_utf8.eml": ("Paiement en échec – toutes les commandes", "« carte refusée » pour 100 % des commandes. 🙁"),
    "outlook_html.eml": ("RE: Stock synchronisation stopped", "stopped at 05:12 & nothing moved since."),
    "calendar_invite.eml": ("Invitation: Post-mortem checkout outage @ Tue 3 Mar 2026 10:00 (CET)", "You have been invited to"),
    "with_attachment.eml": ("Error log of the payment gateway", "The gateway log is attached."),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_kind_of_client_mail_opens_an_incident_with_its_subject_and_text(
        name: str, app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "@acme.test")
    with listening(database, clock) as h:
        code, text = send(h, corpus(name))
    assert code == 250, text
    summary, excerpt = EXPECTED[name]
    [inc] = incident_list(database)
    assert inc.summary == summary
    assert excerpt in inc.details
    assert inc.source == "email" and inc.client_id == world.acme and inc.service_id == world.acme_web
    assert inc.status == "triggered" and inc.next_escalation_at is not None  # escalates like any alert
    [m] = mails(database)
    assert m.status == "processed" and m.outcome == "opened" and m.incident_id == inc.id
    assert m.raw == corpus(name)  # the bytes as received, kept


def test_the_client_is_answered_in_their_thread_with_the_number_and_the_deadline(app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "ops@acme.test")
    with listening(database, clock) as h:
        send(h, corpus("plain.eml"))
    [inc] = incident_list(database)
    with database.session() as s:
        [ack] = s.execute(select(Notification).where(Notification.purpose == "client_mail")).scalars()
        ours = s.execute(select(MailThread).where(MailThread.outbound.is_(True))).scalar_one()
    assert ack.address == "ops@acme.test" and ack.user_id is None and ack.incident_id == inc.id
    assert f"[#{inc.id}]" in (ack.subject or "") and ack.subject.startswith("Re: Checkout page")
    assert f"incident #{inc.id}" in (ack.message or "")
    assert "4-hour SLA" in (ack.message or "") and "We will respond by 2026-03-02 08:00 (Europe/Paris)" in (ack.message or "")
    assert ack.headers["In-Reply-To"] == "<20260302035812.1234@acme.test>"
    assert ack.headers["Reply-To"] == "acme@mail.vigil.test"
    assert ack.headers["Message-ID"] == f"<{ours.message_id}>"


def test_the_engine_pages_the_on_call_engineer_for_a_client_mail(app: Any, world: Any, database: Any, clock: Any, engine: Any) -> None:
    from app.notify.recording import RecordingTransport

    allow(database, world.acme, "@acme.test")
    with listening(database, clock) as h:
        send(h, corpus("plain.eml"))
    engine.run_until_idle()
    [inc] = incident_list(database)
    with database.session() as s:
        pages = list(s.execute(select(Notification).where(Notification.incident_id == inc.id,
                                                          Notification.purpose == "page")).scalars())
    assert pages and all(p.user_id is not None for p in pages)
    assert any(m.purpose == "page" and f"#{inc.id}" in m.body and "Checkout page" in m.body
               for m in RecordingTransport.sent)


def test_attachments_are_listed_with_name_and_size_and_kept_up_to_the_limit(app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "@acme.test")
    with listening(database, clock) as h:
        send(h, corpus("with_attachment.eml"))
        send(h, corpus("calendar_invite.eml").replace(b"<invite-42@acme.test>", b"<invite-43@acme.test>"))
    with database.session() as s:
        atts = list(s.execute(select(MailAttachment).order_by(MailAttachment.id)).scalars())
        notes = list(s.execute(select(TimelineEntry).where(TimelineEntry.kind == "attachments")).scalars())
    assert atts[0].filename == "journal d'erreurs.pdf" and atts[0].size == 1160 and atts[0].data is not None
    assert atts[0].data.startswith(b"%PDF-1.4")
    assert {a.filename for a in atts[1:]} >= {"invite.ics"}
    assert "journal d'erreurs.pdf (1 KB)" in notes[0].message


def test_an_attachment_over_the_limit_is_listed_but_not_kept(app: Any, world: Any, database: Any, clock: Any) -> None:
    from app import incidents

    allow(database, world.acme, "@acme.test")
    with listening(database, clock, process=False) as h:
        send(h, corpus("with_attachment.eml"))
    [m] = mails(database)
    with database.transaction() as s:
        incidents.process_mail(s, m.id, clock.now(), attachment_limit=100)
    with database.session() as s:
        [att] = s.execute(select(MailAttachment)).scalars()
        note = s.execute(select(TimelineEntry).where(TimelineEntry.kind == "attachments")).scalar_one()
    assert att.size == 1160 and att.data is None
    assert "over the limit: not kept" in note.message


def test_the_answer_gives_the_clients_status_page_with_this_servers_address(app: Any, world: Any, database: Any,
                                                                             clock: Any) -> None:
    from app.models import StatusPage, User
    from app.status import pages

    with database.transaction() as s:
        pages.configure(s, s.get(User, world.maya), world.acme, {"visibility": "public"}, clock.now())
        assert s.get(StatusPage, world.acme).visibility == "public"
    allow(database, world.acme, "ops@acme.test")
    with listening(database, clock) as h:
        send(h, corpus("plain.eml"))
    with database.session() as s:
        [ack] = s.execute(select(Notification).where(Notification.purpose == "client_mail")).scalars()
    assert "Status page: [[vigil]]/status/acme" in (ack.message or "")  # completed when it goes out
    from app.notify.message import compose_outbound  # what the engine sends (engine/delivery.py)

    with database.session() as s:
        out = compose_outbound(s.get(Notification, ack.id), None, base_url=app.config["BASE_URL"])
    assert f"Status page: {app.config['BASE_URL'].rstrip('/')}/status/acme\n" in out.body + "\n"
