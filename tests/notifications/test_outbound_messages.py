"""Messages to people who are not users (a client's contacts): queued in the caller's
transaction, sent by the engine exactly once, as written, with the e-mail headers and
attachments they carry; on the incident's timeline like any page."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import Notification
from app.notify import outbound
from app.notify.outbound import Attachment
from tests.notifications.reach import attempts, open_incident, timeline


def test_an_email_to_a_clients_contact_goes_out_once_as_written_with_its_headers_and_attachment(
    client, world, engine, smtp, database, clock
) -> None:
    iid = open_incident(client, world.keys["acme_generic"], summary="Checkout down")
    with database.transaction() as s:
        outbound.queue(
            s, kind="email", address="ops@acme.example", purpose="client_mail", now=clock.now(),
            subject="Re: [#1] Checkout down", body="An engineer is on it.\nThe Vigil team",
            headers={"From": "Acme on-call <acme@oncall.example>", "Message-ID": "<reply-1@oncall.example>",
                     "In-Reply-To": "<client-1@acme.example>", "References": "<client-1@acme.example>"},
            attachments=[Attachment("report.pdf", "application/pdf", b"%PDF-1.4 tiny")],
            incident_id=iid, client_id=world.acme, once_key="ack-mail:1")
    engine.run_until_idle()
    [mail] = smtp.wait_for(1)
    assert mail.rcpt_tos == ["ops@acme.example"]
    m = mail.message
    assert (m["Subject"], m["From"], m["Message-ID"], m["In-Reply-To"]) == (
        "Re: [#1] Checkout down", "Acme on-call <acme@oncall.example>", "<reply-1@oncall.example>",
        "<client-1@acme.example>")
    assert "An engineer is on it." in m.get_body(("plain",)).get_content()
    [pdf] = list(m.iter_attachments())
    assert (pdf.get_filename(), pdf.get_content_type(), pdf.get_content()) == ("report.pdf", "application/pdf",
                                                                              b"%PDF-1.4 tiny")
    [attempt] = attempts(database, "email")
    assert (attempt.outcome, attempt.target) == ("sent", "ops@acme.example")
    assert any("E-mail to ops@acme.example: delivered" in line for line in timeline(database, iid, "delivered"))


def test_the_same_once_key_queued_twice_sends_one_message(client, world, engine, smtp, database, clock) -> None:
    with database.transaction() as s:
        first = outbound.queue(s, kind="email", address="ops@acme.example", purpose="report", now=clock.now(),
                               subject="November", body="Figures", once_key="report:acme:2026-11")
        again = outbound.queue(s, kind="email", address="ops@acme.example", purpose="report", now=clock.now(),
                               subject="November", body="Figures", once_key="report:acme:2026-11")
    assert first is not None and again is None
    engine.run_until_idle()
    assert len(smtp.wait_for(1)) == 1
    with database.transaction() as s:
        assert s.execute(select(func.count()).select_from(Notification)).scalar_one() == 1


def test_an_sms_and_a_call_to_a_clients_contact_say_the_message(client, world, engine, twilio, database, clock) -> None:
    with database.transaction() as s:
        for kind in ("sms", "voice"):
            outbound.queue(s, kind=kind, address="+33612345678", purpose="handover", now=clock.now(),
                           body="Vigil: incident 42 is handed over to your team.")
    engine.run_until_idle()
    [sms] = twilio.wait_for_messages(1)
    [call] = twilio.wait_for_calls(1)
    assert sms.body == "Vigil: incident 42 is handed over to your team."
    assert sms.to == call.to == "+33612345678"
    assert "incident 42 is handed over to your team" in (call.twiml or "")
    assert sms.idempotency_key and call.idempotency_key and sms.idempotency_key != call.idempotency_key


def test_a_header_that_could_change_where_mail_goes_is_refused(database, clock) -> None:
    with database.transaction() as s, pytest.raises(ValueError, match="Bcc"):
        outbound.queue(s, kind="email", address="ops@acme.example", purpose="client_mail", now=clock.now(),
                       body="x", headers={"Bcc": "someone@else.example"})
