"""Bad input never loses an accepted message and never stops the listener: malformed MIME, no
headers, 8-bit headers, an empty body each still open an incident that says what could not be
read (raw source for engineers); a listener that dies after its 250 leaves the message to the
engine's sweep; STARTTLS with a given certificate; a real MTA client (swaks) is served too."""

from __future__ import annotations

import shutil
import smtplib
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.models import AuditEntry, TimelineEntry
from tests.fakes.smtp import make_test_certificate
from tests.helpers import race
from tests.mailbox import DOMAIN, allow, corpus, incident_list, listening, mails, send


def _timeline_kinds(database: Any, incident_id: int) -> list[tuple[str, str]]:
    with database.session() as s:
        return [(e.kind, e.message) for e in s.execute(
            select(TimelineEntry).where(TimelineEntry.incident_id == incident_id).order_by(TimelineEntry.id)).scalars()]


def test_a_malformed_message_opens_its_incident_says_so_and_shows_its_raw_source(
        app: Any, world: Any, database: Any, clock: Any, browser: Any) -> None:
    allow(database, world.acme, "@acme.test")
    with listening(database, clock) as h:
        code, _ = send(h, corpus("malformed.eml"))
    assert code == 250
    [inc] = incident_list(database)
    [m] = mails(database)
    assert inc.summary == "Café terminal down ÿ"  # 8-bit latin-1 bytes in the header, read as latin-1
    warnings = [msg for kind, msg in _timeline_kinds(database, inc.id) if kind == "warning" and "could not be read" in msg]
    assert warnings and f"/incidents/{inc.id}/mails/{m.id}/raw" in warnings[0]
    r = browser("alice").get(f"/incidents/{inc.id}/mails/{m.id}/raw")
    assert r.status_code == 200 and r.data == corpus("malformed.eml")
    assert r.mimetype == "text/plain"
    with database.session() as s:
        assert s.execute(select(AuditEntry).where(AuditEntry.action == "mail.raw_viewed")).scalar_one()
    assert browser("victor@acme.test").get(f"/incidents/{inc.id}/mails/{m.id}/raw").status_code == 403  # engineers only


@pytest.mark.parametrize("raw,summary", [
    (b"\r\nsomething is broken\r\n", "(no subject)"),  # no headers at all
    (b"From: ops@acme.test\r\nSubject: Empty body\r\n\r\n", "Empty body"),
    (b"From: ops@acme.test\r\nSubject: Panne g\xc3\xa9n\xc3\xa9rale \xe9\r\n\r\nTout est en panne.\r\n", None),
])
def test_missing_headers_an_empty_body_and_8_bit_headers_still_open_an_incident(
        raw: bytes, summary: str | None, app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "@acme.test", unknown="hold")
    with listening(database, clock) as h:
        code, _ = send(h, raw)
    assert code == 250
    [m] = mails(database)
    if m.status == "held":  # no From header: an unknown sender, held (the envelope alone is not enough)
        assert summary == "(no subject)"
        return
    [inc] = incident_list(database)
    if summary:
        assert inc.summary == summary
    else:
        assert inc.summary.startswith("Panne g")


def test_a_message_stored_but_not_processed_is_processed_by_the_engine_sweep_once(
        app: Any, world: Any, database: Any, clock: Any, engine: Any) -> None:
    allow(database, world.acme, "@acme.test")
    with listening(database, clock, process=False) as h:  # as if the listener died right after its 250
        assert send(h, corpus("plain.eml"))[0] == 250
    assert [m.status for m in mails(database)] == ["received"]
    engine.tick()
    assert incident_list(database) == []  # within the grace the listener may still be on it
    clock.advance(seconds=31)
    engine.tick()
    clock.advance(seconds=31)
    engine.tick()  # and again: nothing more
    [inc] = incident_list(database)
    assert inc.summary == "Checkout page returns 500 errors"
    assert [m.status for m in mails(database)] == ["processed"]


def test_a_message_whose_processing_fails_is_still_accepted_kept_and_swept_later_while_the_others_open(
        app: Any, world: Any, database: Any, clock: Any, engine: Any, monkeypatch: Any) -> None:
    # A fault injected into processing (e.g. the database refusing one write): the listener has
    # stored the batch with it, so the message is kept and answered 250; its batch-mates open.
    import app.incidents.mail as processing

    real, broken = processing.process_mail, {"until": True}

    def failing_for_one(session: Any, mail_id: int, now: Any, **kw: Any) -> Any:
        row = session.get(processing.InboundMail, mail_id)
        if broken["until"] and b"[BOOM]" in (row.raw or b""):
            raise RuntimeError("injected: this one cannot be processed now")
        return real(session, mail_id, now, **kw)

    monkeypatch.setattr(processing, "process_mail", failing_for_one)
    allow(database, world.acme, "@acme.test")
    with listening(database, clock) as h:
        codes = race(3, lambda i: send(h, corpus("plain.eml").replace(b"1234@", f"{i}@".encode()).replace(
            b"Subject: ", b"Subject: [BOOM] " if i == 1 else b"Subject: "))[0])
    assert codes == [250, 250, 250]
    by_status = sorted((m.status, b"[BOOM]" in m.raw) for m in mails(database))
    assert by_status == [("processed", False), ("processed", False), ("received", True)]
    assert len(incident_list(database)) == 2

    broken["until"] = False  # the fault clears: the engine's sweep opens the third, once
    clock.advance(seconds=31)
    engine.tick()
    assert sorted(m.status for m in mails(database)) == ["processed"] * 3
    assert sorted(i.summary.startswith("[BOOM]") for i in incident_list(database)) == [False, False, True]


def test_starttls_is_offered_with_the_given_certificate(app: Any, world: Any, database: Any, clock: Any, tmp_path: Path) -> None:
    allow(database, world.acme, "@acme.test")
    ca, cert, key = make_test_certificate(tmp_path)
    with listening(database, clock, tls_cert=str(cert), tls_key=str(key)) as h:
        with smtplib.SMTP("127.0.0.1", h.settings.port, timeout=10) as smtp:
            smtp.ehlo()
            assert smtp.has_extn("starttls")
            smtp.starttls(context=ssl.create_default_context(cafile=str(ca)))
            smtp.ehlo()
            refused = smtp.sendmail("ops@acme.test", [f"acme@{DOMAIN}"], corpus("plain.eml"))
    assert refused == {}
    assert len(incident_list(database)) == 1


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed (apt-get install swaks; tests/run.sh does)")
def test_a_real_mta_client_swaks_delivers_and_is_refused_with_clear_codes(app: Any, world: Any, database: Any, clock: Any, tmp_path: Path) -> None:
    allow(database, world.acme, "ops@acme.test", unknown="refuse")
    eml = tmp_path / "m.eml"
    eml.write_bytes(corpus("qp_latin1_french.eml").replace(b"elodie@acme.test", b"ops@acme.test"))
    with listening(database, clock) as h:
        base = ["swaks", "--server", "127.0.0.1", "--port", str(h.settings.port), "--timeout", "20", "--helo", "mx.acme.test"]
        ok = subprocess.run([*base, "--from", "ops@acme.test", "--to", f"acme@{DOMAIN}", "--data", str(eml)],
                            capture_output=True, text=True, timeout=60)
        unknown = subprocess.run([*base, "--from", "ops@acme.test", "--to", f"nobody@{DOMAIN}"],
                                 capture_output=True, text=True, timeout=60)
        refused = subprocess.run([*base, "--from", "x@evil.test", "--to", f"acme@{DOMAIN}",
                                  "--header", "From: x@evil.test"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "<-  250 2.0.0 Accepted" in ok.stdout
    assert "<** 550 5.1.1" in unknown.stdout
    assert "<** 550 5.7.1 x@evil.test is not an allowed sender for Acme Retail" in refused.stdout
    [inc] = incident_list(database)
    assert inc.summary == "Le site est inaccessible depuis 4h (urgent)"


def test_two_listeners_may_share_a_port_on_purpose(app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "@acme.test")
    with listening(database, clock, shared_port=True) as a, listening(database, clock, shared_port=True, port=a.settings.port):
        codes = [send(a, corpus("plain.eml").replace(b"1234@", f"{i}@".encode()))[0] for i in range(6)]
    assert codes == [250] * 6
    assert len(incident_list(database)) == 6
