"""A hand-over's chain is walked exactly once when the engine walking it is killed (SIGKILL, no
clean shutdown) in the middle of a step and another engine takes over: every contact is told
once, in order, on each of their channels, nobody is skipped, and the walk stops when someone at
the client takes it.

Real `vigil engine` processes on the system clock, sending through a real local SMTP server
(STARTTLS, AUTH) and a local Twilio-compatible provider, each behind a gate (tests/fakes/gate.py)
that can hold what the engine says to them. The first contact goes at once; the second is due
15 minutes later, so the test makes those minutes pass by moving the hand-over's due time in the
database (nothing else is touched). The first engine walks to the second contact, claims its
three messages and starts sending them; they are held in the gates, not delivered, when it is
killed: it leaves them claimed ('sending', its name on them) and its heartbeat row behind. A
second engine sends them once its heartbeat says the first is dead (10 s of silence, which the
test makes pass by aging the dead engine's last beat), walks on to the third
contact, who takes it with the link in their e-mail; the fourth is never told.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from app.clock import SystemClock
from app.db import Database
from app.engine.heartbeat import DEAD_AFTER
from app.models import ClientContact, DeliveryAttempt, EngineHeartbeat, Handover, Notification
from tests.fakes.gate import Gate
from tests.fakes.smtp import FakeSMTPServer
from tests.fakes.twilio import FakeTwilio
from tests.helpers import start_engine, wait_until
from tests.notifications.reach import open_incident, timeline

LOGIN = ("vigil", "mail-secret")
HOTLINE = {"name": "Acme hotline", "role": "technical hotline", "email": "hotline@acme.example",
           "phone": "+33100000001", "channels": ["email", "sms"], "delay_minutes": 15}
DUTY = {"name": "Dana Duty", "role": "duty manager", "email": "dana@acme.example", "phone": "+33100000002",
        "channels": ["email", "sms", "voice"], "delay_minutes": 10}
CIO = {"name": "Carl Info", "role": "CIO", "email": "cio@acme.example", "channels": ["email"], "delay_minutes": 30}
CEO = {"name": "Erin Exec", "role": "CEO", "email": "ceo@acme.example", "phone": "+33100000004",
       "channels": ["email", "sms"], "delay_minutes": 60}
LINK = re.compile(r"http://vigil\.test/h/([A-Za-z0-9_-]+)")


@pytest.fixture
def clock() -> SystemClock:
    """The app (intake, the hand-over, the "we have it" page) on the engines' clock: the system's."""
    return SystemClock()


def told(smtp: FakeSMTPServer, twilio: FakeTwilio) -> list[tuple[float, str]]:
    """What the peers received, as (when, "channel address"), in the order they received it."""
    got = ([(m.received_at, f"email {m.rcpt_tos[0]}") for m in smtp.messages]
           + [(m.created_at, f"sms {m.to}") for m in twilio.messages]
           + [(c.created_at, f"voice {c.to}") for c in twilio.calls])
    return sorted(got)


def received(smtp: FakeSMTPServer, twilio: FakeTwilio) -> Counter[str]:
    return Counter(what for _, what in told(smtp, twilio))


def messages_of(contact: dict[str, Any]) -> list[str]:
    return [f"{kind} {contact['email'] if kind == 'email' else contact['phone']}" for kind in contact["channels"]]


def rows(database: Database) -> list[Notification]:
    with database.session() as s:
        return list(s.execute(select(Notification).where(Notification.purpose == "handover")
                              .order_by(Notification.id)).scalars())


def rows_of(database: Database, contact: dict[str, Any]) -> list[Notification]:
    return [n for n in rows(database) if n.address in (contact.get("email"), contact.get("phone"))]


def the_handover(database: Database) -> Handover:
    with database.session() as s:
        return s.execute(select(Handover)).scalar_one()


def time_passes(database: Database) -> None:
    """The next contact's delay has gone by: its due time is now (minutes, not seconds, apart)."""
    with database.transaction() as s:
        moved = s.execute(update(Handover).where(Handover.next_at.is_not(None))
                          .values(next_at=datetime.now(UTC))).rowcount
    assert moved == 1


def stop(proc: subprocess.Popen[bytes], log: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0, log.read_text()


def test_an_engine_killed_in_the_middle_of_a_hand_over_leaves_each_contact_told_once_in_order(
        app, client, browser, world, database, db_url, tmp_path) -> None:
    with database.transaction() as s:
        for i, c in enumerate((HOTLINE, DUTY, CIO, CEO)):
            s.add(ClientContact(client_id=world.acme, position=i, created_at=datetime.now(UTC), **c))
    with FakeSMTPServer(starttls=True, auth=LOGIN) as smtp, FakeTwilio() as twilio, \
            Gate(smtp.port) as mail_gate, Gate(int(twilio.url.rsplit(":", 1)[1])) as sms_gate:
        settings = {
            "VIGIL_BASE_URL": "http://vigil.test", "VIGIL_HANDOVER_CHECK_SECONDS": "0",
            "VIGIL_SMTP_HOST": "127.0.0.1", "VIGIL_SMTP_PORT": str(mail_gate.port), "VIGIL_SMTP_STARTTLS": "1",
            "VIGIL_SMTP_USERNAME": LOGIN[0], "VIGIL_SMTP_PASSWORD": LOGIN[1],
            "VIGIL_SMTP_FROM": "Vigil <vigil@vigil.example>", "VIGIL_SMTP_CA_FILE": str(smtp.ca_cert_path),
            "VIGIL_TWILIO_BASE_URL": f"http://127.0.0.1:{sms_gate.port}",
            "VIGIL_TWILIO_ACCOUNT_SID": twilio.account_sid, "VIGIL_TWILIO_AUTH_TOKEN": twilio.auth_token,
            "VIGIL_TWILIO_FROM": "+15005550006",
        }
        first = start_engine(db_url, tmp_path, "first", **settings)
        second = None
        try:
            def beating(proc: subprocess.Popen[bytes]) -> str | None:
                with database.session() as s:
                    return s.execute(select(EngineHeartbeat.name).where(EngineHeartbeat.pid == proc.pid)).scalar()

            wait_until(lambda: beating(first), 30, "the first engine to start")
            name = beating(first)

            # The first contact is told at once, on each of their channels.
            iid = open_incident(client, world.keys["acme_generic"], summary="Checkout answers 500", dedup="checkout")
            r = browser("alice").post(f"/api/v1/incidents/{iid}/handover", json={"reason": "application bug"})
            assert r.status_code == 200, r.get_json()
            handed_over = time.monotonic()
            wait_until(lambda: all(n.status == "sent" for n in rows(database)) and len(received(smtp, twilio)) == 2,
                       15, "the hotline to be told")
            assert time.monotonic() - handed_over < 10
            assert received(smtp, twilio) == Counter(messages_of(HOTLINE))
            h = the_handover(database)
            assert (h.position, h.attempts, h.next_at - h.started_at) == (1, 1, timedelta(minutes=15))

            # Not the next one before their delay: the engine walks every tick, and waits.
            time.sleep(1.5)
            assert received(smtp, twilio) == Counter(messages_of(HOTLINE)) and len(rows(database)) == 2

            # 15 minutes later: the first engine walks to the duty manager and starts sending
            # her three messages, which the gates hold. Then it is killed.
            mail_gate.shut()
            sms_gate.shut()
            time_passes(database)

            def claimed_and_on_their_way() -> bool:
                duty = rows_of(database, DUTY)
                return (len(duty) == 3 and all((n.status, n.claimed_by) == ("sending", name) for n in duty)
                        and mail_gate.holding >= 1 and sms_gate.holding >= 1)

            wait_until(claimed_and_on_their_way, 15, "the duty manager's messages to be claimed and on their way")
            time.sleep(0.3)  # both her SMS and her call reach the gate
            first.send_signal(signal.SIGKILL)
            assert first.wait(10) == -signal.SIGKILL

            # What the kill left behind: the step taken, its messages claimed by a dead engine.
            h = the_handover(database)
            assert (h.position, h.attempts, h.taken_at) == (2, 2, None)
            assert [(n.status, n.claimed_by) for n in rows_of(database, DUTY)] == [("sending", name)] * 3
            mail_gate.open()
            sms_gate.open()
            wait_until(lambda: mail_gate.dropped + sms_gate.dropped >= 2, 5, "the held requests to be dropped")
            time.sleep(0.5)
            assert received(smtp, twilio) == Counter(messages_of(HOTLINE)), "the dead engine's sends got through"

            # Another engine: it sends what the dead one had claimed, once, and walks on. The dead
            # engine's last beat is made 10 s older: the silence that tells the living it is gone
            # passes at once (its row is the one thing of it left; nothing else is touched).
            with database.transaction() as s:
                s.get(EngineHeartbeat, name).beat_at -= DEAD_AFTER
            second = start_engine(db_url, tmp_path, "second", **settings)
            wait_until(lambda: all(n.status == "sent" for n in rows_of(database, DUTY)), 60,
                       "the duty manager's messages to be sent by the second engine")
            wait_until(lambda: len(received(smtp, twilio)) >= 5, 10, "the peers to get them")
            time.sleep(1.0)  # the second engine walks every tick meanwhile: the step is not taken again
            assert received(smtp, twilio) == Counter(messages_of(HOTLINE) + messages_of(DUTY))
            h = the_handover(database)
            assert (h.position, h.attempts) == (2, 2) and h.next_at > datetime.now(UTC) + timedelta(minutes=9)

            # 10 minutes later: the CIO, who takes it with the link in his e-mail.
            time_passes(database)
            wait_until(lambda: "email cio@acme.example" in received(smtp, twilio), 15, "the CIO to be told")
            [mail] = [m for m in smtp.messages if m.rcpt_tos == ["cio@acme.example"]]
            token = LINK.search(mail.message.get_content()).group(1)
            anonymous = app.test_client()
            page = anonymous.get(f"/h/{token}")
            assert page.status_code == 200, page.get_data(as_text=True)
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
            r = anonymous.post(f"/h/{token}", data={"name": "Carl Info", "csrf_token": csrf})
            assert r.status_code == 200, r.get_data(as_text=True)

            # The walk stops: the CEO is never told, however long the engine keeps walking.
            time.sleep(2.0)
            stop(second, tmp_path / "second.log")
            second = None
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.wait(10)

        got = told(smtp, twilio)

    # Each contact told exactly once on each of their channels, in the chain's order.
    chain = [messages_of(c) for c in (HOTLINE, DUTY, CIO)]
    assert Counter(what for _, what in got) == Counter(sum(chain, [])), got
    order = [next(i for i, c in enumerate(chain) if what in c) for _, what in got]
    assert order == sorted(order), got
    assert not any(what in messages_of(CEO) for _, what in got)
    # One message per contact and channel in the database, each sent, and sent once.
    with database.session() as s:
        notes = s.execute(select(Notification).where(Notification.purpose == "handover")).scalars().all()
        sent = Counter(s.execute(select(DeliveryAttempt.notification_id)
                                 .where(DeliveryAttempt.outcome == "sent")).scalars())
        assert Counter(f"{n.kind} {n.address}" for n in notes) == Counter(sum(chain, []))
        assert all(n.status == "sent" and sent[n.id] == 1 for n in notes)
        assert {n.attempts for n in notes if n.address in (DUTY["email"], DUTY["phone"])} == {2}  # claimed twice
        h = s.execute(select(Handover)).scalar_one()
        assert (h.position, h.attempts, h.taken_by, h.next_at, h.exhausted_at) == (3, 3, "Carl Info", None, None)
    lines = timeline(database, iid, "handover_contact")
    assert [line.split(" by ")[0] for line in lines] == [
        "Hand-over: told Acme hotline (technical hotline)", "Hand-over: told Dana Duty (duty manager)",
        "Hand-over: told Carl Info (CIO)"]
