"""Who may open incidents by e-mail: unknown addresses are refused at RCPT, unknown and forged
senders refused or held as the client chose, automatic messages recorded and never answered,
a sender over the rate limit told to retry later, a message over the size limit refused at DATA."""

from __future__ import annotations

import smtplib
from typing import Any

from sqlalchemy import select

from app import incidents
from app.models import Notification
from tests.mailbox import DOMAIN, allow, corpus, incident_list, listening, mails, send


def test_unknown_addresses_and_services_are_refused_at_rcpt(app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "@acme.test")
    with listening(database, clock) as h:
        assert send(h, corpus("plain.eml"), to=f"nobody@{DOMAIN}")[0] == 550
        assert send(h, corpus("plain.eml"), to="acme@elsewhere.test")[0] == 550
        assert send(h, corpus("plain.eml"), to=f"acme+no-such-service@{DOMAIN}")[0] == 550
        code, _ = send(h, corpus("plain.eml"), to=f"acme+web-shop@{DOMAIN}")
    assert code == 250
    [inc] = incident_list(database)
    assert inc.service_id == world.acme_web
    assert len(mails(database)) == 1


def test_a_sender_not_allowed_is_refused_with_a_clear_5_7_1(app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "ops@acme.test", unknown="refuse")
    with listening(database, clock) as h:
        raw = corpus("plain.eml").replace(b"ops@acme.test", b"mallory@evil.test")
        code, text = send(h, raw, mail_from="mallory@evil.test")
    assert code == 550
    assert text.startswith(b"5.7.1 mallory@evil.test is not an allowed sender for Acme Retail")
    assert incident_list(database) == [] and mails(database) == []


def test_a_forged_from_header_sent_from_another_domain_is_not_allowed(app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "ops@acme.test", unknown="refuse")
    with listening(database, clock) as h:
        code, text = send(h, corpus("plain.eml"), mail_from="bounces@spammer.test")
    assert code == 550 and b"was sent from bounces@spammer.test" in text
    assert incident_list(database) == []


def test_a_held_message_waits_for_review_and_opens_its_incident_when_released(app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "ops@acme.test", unknown="hold")
    with listening(database, clock) as h:
        raw = corpus("plain.eml").replace(b"ops@acme.test", b"newcomer@acme-partner.test")
        code, text = send(h, raw, mail_from="newcomer@acme-partner.test")
    assert code == 250 and b"held for review" in text
    [m] = mails(database)
    assert m.status == "held" and incident_list(database) == []
    with database.transaction() as s:
        done = incidents.release_mail(s, m.id, clock.now())
    assert done is not None and done.outcome == "opened"
    [inc] = incident_list(database)
    assert inc.summary == "Checkout page returns 500 errors"


def test_auto_replies_and_bounces_are_recorded_and_never_open_or_get_answers(app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "@acme.test")
    with listening(database, clock) as h:
        assert send(h, corpus("auto_reply.eml"))[0] == 250
        assert send(h, corpus("bounce.eml"), mail_from="")[0] == 250
        list_mail = corpus("plain.eml").replace(b"MIME-Version", b"Precedence: bulk\r\nMIME-Version")
        assert send(h, list_mail)[0] == 250
    stored = mails(database)
    assert [m.status for m in stored] == ["loop", "loop", "loop"]
    assert stored[0].verdict == "Auto-Submitted: auto-replied"
    assert stored[1].verdict == "null sender (a bounce)"
    assert stored[2].verdict == "Precedence: bulk"
    assert incident_list(database) == []
    with database.session() as s:
        assert s.execute(select(Notification)).first() is None


def test_a_thousand_auto_replies_are_recorded_and_the_listener_keeps_serving(app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "@acme.test", rate_per_hour=0)
    bomb = corpus("auto_reply.eml")
    with listening(database, clock) as h:
        with smtplib.SMTP("127.0.0.1", h.settings.port, timeout=10) as smtp:
            codes = [smtp.sendmail("ops@acme.test", [f"acme@{DOMAIN}"], bomb) for _ in range(1000)]
        assert codes == [{}] * 1000  # every one accepted (250)
        assert send(h, corpus("plain.eml"))[0] == 250  # still serving a real one
    stored = mails(database)
    assert len(stored) == 1001 and sum(m.status == "loop" for m in stored) == 1000
    assert len(incident_list(database)) == 1


def test_a_sender_over_the_rate_limit_is_told_to_retry_later(app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "@acme.test", rate_per_hour=3)
    with listening(database, clock) as h:
        codes = [send(h, corpus("plain.eml").replace(b"1234@", f"{i}@".encode()))[0] for i in range(4)]
        other = send(h, corpus("plain.eml").replace(b"ops@acme.test", b"elodie@acme.test"), mail_from="elodie@acme.test")[0]
        clock.advance(minutes=61)
        later = send(h, corpus("plain.eml").replace(b"1234@", b"later@"))[0]
    assert codes == [250, 250, 250, 451] and other == 250 and later == 250
    assert len(incident_list(database)) == 5


def test_size_is_announced_and_a_30_mb_message_is_refused_with_552(app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "@acme.test")
    big = corpus("plain.eml") + (b"A" * 998 + b"\r\n") * (30 * 1024 * 1024 // 1000)
    with listening(database, clock) as h:
        with smtplib.SMTP("127.0.0.1", h.settings.port, timeout=60) as smtp:
            smtp.ehlo()
            assert smtp.has_extn("size") and int(smtp.esmtp_features["size"]) == 25 * 1024 * 1024
            smtp.mail("ops@acme.test")
            smtp.rcpt(f"acme@{DOMAIN}")
            code, _ = smtp.data(big)
        assert code == 552
        assert send(h, corpus("plain.eml"))[0] == 250  # and it keeps serving
    assert len(mails(database)) == 1


def test_an_auto_reply_storm_is_recorded_up_to_the_rate_limit_then_deferred(app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "@acme.test", rate_per_hour=30)
    with listening(database, clock) as h:
        with smtplib.SMTP("127.0.0.1", h.settings.port, timeout=10) as smtp:
            codes = []
            for _ in range(40):
                try:
                    smtp.sendmail("ops@acme.test", [f"acme@{DOMAIN}"], corpus("auto_reply.eml"))
                    codes.append(250)
                except smtplib.SMTPDataError as e:
                    codes.append(e.smtp_code)
    assert codes == [250] * 30 + [451] * 10
    assert len(mails(database)) == 30 and incident_list(database) == []
