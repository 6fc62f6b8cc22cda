"""A cron job that can only send mail pings its monitor at `hb-<uuid>@<domain>`, through the same
SMTP listener as the clients' mail: any message is a ping, "fail" or "start" in the subject say
so, an unknown monitor's address is refused at RCPT, and no incident is opened by the mail itself
(the engine decides, from the monitor's state)."""

from __future__ import annotations

import smtplib

from app.intake import heartbeats
from app.models import Service
from tests.mailbox import DOMAIN, incident_list, listening, mails


def message(subject: str) -> bytes:
    return (f"From: cron@backup.acme.test\r\nTo: x\r\nSubject: {subject}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nbackup of db-1: 42 GB in 18 min\r\n").encode()


def test_mail_to_a_monitors_address_is_its_ping_and_the_subject_says_which(world, database, clock) -> None:
    with database.transaction() as s:
        m = heartbeats.create(s, s.get(Service, world.acme_web), heartbeats.MonitorInput("backup", 3600, 600), clock.now())
    with listening(database, clock) as handler:
        with smtplib.SMTP("127.0.0.1", handler.settings.port, timeout=10) as smtp:
            for subject in ("Cron <root@db-1> /usr/local/bin/backup", "backup start", "backup FAILED: fail"):
                smtp.sendmail("cron@backup.acme.test", [f"hb-{m.token}@{DOMAIN}"], message(subject))
            try:
                smtp.sendmail("cron@backup.acme.test", [f"hb-00000000-0000-4000-8000-000000000000@{DOMAIN}"],
                               message("x"))
                raise AssertionError("an unknown monitor's address was accepted")
            except smtplib.SMTPRecipientsRefused as e:
                assert next(iter(e.recipients.values()))[0] == 550
    with database.session() as s:
        got = [(p.kind, p.source, p.remote) for p in reversed(heartbeats.last_pings(s, m.id, limit=10))]
        last = heartbeats.last_pings(s, m.id, limit=1)[0]
    assert got == [("success", "email", "cron@backup.acme.test"), ("start", "email", "cron@backup.acme.test"),
                   ("fail", "email", "cron@backup.acme.test")]
    assert last.body.startswith("Subject: backup FAILED: fail") and "42 GB in 18 min" in last.body
    assert mails(database) == [] and incident_list(database) == []  # a ping, not a client's mail
