"""Pages by e-mail over SMTP: STARTTLS and AUTH, a plain-text body with the one-tap link;
the server's 4xx answers are retried and its 5xx answers are not."""

from __future__ import annotations

from app.engine.loop import Engine
from tests.notifications.reach import attempts, open_incident, reach, timeline


def test_a_page_is_mailed_over_starttls_with_the_ack_link(client, world, engine, smtp, database, app) -> None:
    reach(database, world.alice, email="alice@example.com")
    iid = open_incident(client, world.keys["acme_generic"], summary="Disk 95% full on web-2")
    engine.run_until_idle()
    [mail] = smtp.wait_for(1)
    assert mail.tls and mail.authenticated_as == "vigil"
    assert mail.rcpt_tos == ["alice@example.com"] and mail.mail_from == "vigil@vigil.example"
    assert mail.subject == f"[Vigil #{iid}] Acme Retail / Web shop: Disk 95% full on web-2"
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.message["X-Vigil-Incident"] == str(iid)
    assert mail.message.get_content_type() == "text/plain"
    body = mail.body_text()
    assert f"Reply ACK {iid} to acknowledge" in body
    assert f"Acknowledge: {app.config['BASE_URL']}/a/" in body
    assert f"Open: {app.config['BASE_URL']}/incidents/{iid}" in body
    [attempt] = attempts(database, "email")
    assert (attempt.outcome, attempt.status_code, attempt.target) == ("sent", 250, "alice@example.com (work)")


def test_a_temporary_smtp_refusal_is_retried(client, world, engine, clock, smtp, database) -> None:
    reach(database, world.alice, email="alice@example.com")
    smtp.respond_with("451 4.3.0 Try again later", times=1, stage="DATA")
    open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()
    clock.advance(seconds=5)
    engine.run_until_idle()
    assert [(a.outcome, a.status_code) for a in attempts(database, "email")] == [("retry", 451), ("sent", 250)]
    assert len(smtp.wait_for(1)) == 1


def test_an_unknown_mailbox_is_a_permanent_failure(client, world, engine, smtp, database) -> None:
    reach(database, world.alice, email="nobody@example.com")
    smtp.respond_with("550 5.1.1 No such user", times=1, stage="RCPT")
    iid = open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()
    [attempt] = attempts(database, "email")
    assert attempt.outcome == "failed" and attempt.status_code == 550 and "No such user" in attempt.error
    assert any("E-mail to Alice Martin (work): FAILED" in m for m in timeline(database, iid))


def test_wrong_smtp_credentials_fail_with_the_servers_reason(client, world, app, clock, smtp, database) -> None:
    reach(database, world.alice, email="alice@example.com")
    open_incident(client, world.keys["acme_generic"])
    engine = Engine(database, clock, {**app.config, "SMTP_PASSWORD": "wrong"}, name="misconfigured")
    try:
        engine.run_until_idle()
    finally:
        engine.close()
    [attempt] = attempts(database, "email")
    assert attempt.outcome == "failed" and attempt.status_code == 535
    assert smtp.messages == []


def test_a_sending_thread_keeps_its_smtp_connection_and_replaces_one_that_is_gone(app, smtp) -> None:
    import socket

    from app.notify.base import OutboundMessage
    from app.notify.email import EmailTransport

    def mail(i: int) -> OutboundMessage:
        return OutboundMessage(notification_id=1000 + i, kind="email", purpose="client_mail", user_id=0, user_name="",
                               address=f"ops{i}@acme.example", subject=f"Réponse {i}", body=f"Bonjour {i}, é\n")

    transport = EmailTransport(app.config)
    try:
        for i in range(3):
            transport.send(mail(i))
        first = smtp.wait_for(3)
        # One connection, one STARTTLS and one login for the three.
        assert len({m.peer for m in first}) == 1 and len(smtp.auth_attempts) == 1 and all(m.tls for m in first)
        assert [m.subject for m in first] == ["Réponse 0", "Réponse 1", "Réponse 2"]
        assert first[2].body_text().splitlines() == ["Bonjour 2, é"]

        # The connection breaks while it waits for the next message: that message goes on a new one.
        kept, _ = transport._local.smtp
        kept.sock.shutdown(socket.SHUT_RDWR)
        transport.send(mail(3))
        after = smtp.wait_for(4)
        assert after[3].rcpt_tos == ["ops3@acme.example"] and after[3].peer != first[0].peer
        assert len(smtp.auth_attempts) == 2
    finally:
        transport.close()
