"""A hand-over is followed until the client's team answers: the chain is told in order (the
first contact at once, the next after its delay), each message carries a one-time "we have it"
link, the walk stops when someone takes it, and when nobody does the engineer and the managers
are told. Exactly once, with the engine restarted in between and with two engines."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.clients import handover
from app.db import Database
from app.engine.loop import Engine
from app.models import AuditEntry, ClientContact, HandoffLink, Handover, Incident, Notification
from tests.helpers import race
from tests.notifications.reach import open_incident, timeline

LINK = re.compile(r"http://127\.0\.0\.1:\d+/h/([A-Za-z0-9_-]+)")
HOTLINE = {"name": "Acme hotline", "role": "technical hotline", "email": "hotline@acme.example",
           "phone": "+33100000001", "channels": ["email", "sms"], "delay_minutes": 15}
DUTY = {"name": "Dana Duty", "role": "duty manager", "phone": "+33100000002", "channels": ["sms", "voice"],
        "delay_minutes": 10}
CIO = {"name": "Carl Info", "role": "CIO", "email": "cio@acme.example", "channels": ["email"], "delay_minutes": 30}
# The walk looks at every tick (by default every 10 s of clock time): the tests travel to the
# exact second a contact is due.
EVERY_TICK = {"HANDOVER_CHECK_SECONDS": 0}


@pytest.fixture
def engine(app: Any, database: Database, clock: Any) -> Iterator[Engine]:
    e = Engine(database, clock, {**app.config, **EVERY_TICK}, name="engine-1")
    yield e
    e.close()


def chain(database: Database, world, clock, *contacts: dict) -> None:
    with database.transaction() as s:
        for i, c in enumerate(contacts):
            s.add(ClientContact(client_id=world.acme, position=i, created_at=clock.now(),
                                hours=c.get("hours", {"kind": "always"}),
                                **{k: v for k, v in c.items() if k != "hours"}))


def hand_over(browser, client, world, summary: str = "Checkout answers 500", dedup: str = "checkout") -> int:
    iid = open_incident(client, world.keys["acme_generic"], summary=summary, dedup=dedup)
    r = browser("alice").post(f"/api/v1/incidents/{iid}/handover", json={"reason": "application bug in checkout"})
    assert r.status_code == 200, r.get_json()
    return iid


def sent_to(smtp, twilio) -> list[str]:
    """Every message the client's contacts got, by channel and address, in order."""
    return ([f"email {m.rcpt_tos[0]}" for m in smtp.messages] + [f"sms {m.to}" for m in twilio.messages]
            + [f"voice {c.to}" for c in twilio.calls])


def link_in(text: str) -> str:
    found = LINK.search(text)
    assert found, text
    return found.group(1)


def test_a_hand_over_tells_the_first_contact_at_once_and_the_next_after_its_delay_until_someone_takes_it(
        client, browser, world, engine, database, clock, smtp, twilio) -> None:
    chain(database, world, clock, HOTLINE, DUTY, CIO)
    iid = hand_over(browser, client, world)
    engine.run_until_idle()
    assert sorted(sent_to(smtp, twilio)) == ["email hotline@acme.example", "sms +33100000001"]
    mail = smtp.messages[0].message
    assert f"Incident #{iid} handed over to your team" in mail["Subject"]
    assert mail["X-Vigil-Incident"] == str(iid) and "application bug in checkout" in mail.get_content()
    assert "[[link]]" not in mail.get_content() and link_in(mail.get_content())

    clock.advance(minutes=14, seconds=59)
    engine.run_until_idle()
    assert len(sent_to(smtp, twilio)) == 2  # the hotline still has time to answer

    clock.advance(seconds=1)
    engine.run_until_idle()
    assert sorted(sent_to(smtp, twilio))[2:] == ["sms +33100000002", "voice +33100000002"]
    dana_sms = next(m for m in twilio.messages if m.to == "+33100000002")
    assert "handed over to your team" in (twilio.calls[0].twiml or "")
    token = link_in(dana_sms.body)

    clock.advance(minutes=3)
    anonymous = client.application.test_client()  # the client's duty manager: no Vigil login
    page = anonymous.get(f"/h/{token}")
    assert page.status_code == 200 and "We have it" in page.get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    r = anonymous.post(f"/h/{token}", data={"name": "Dana Duty", "csrf_token": csrf})
    assert r.status_code == 200 and "is with Acme Retail&#39;s team now" in r.get_data(as_text=True)

    clock.advance(hours=2)
    engine.run_until_idle()
    assert "email cio@acme.example" not in sent_to(smtp, twilio)  # the walk stopped
    lines = timeline(database, iid)
    assert any("told Acme hotline (technical hotline) by e-mail and SMS (contact 1 of 3)" in x for x in lines)
    assert any("Dana Duty of Acme Retail's team took it (with the link sent to +33100000002)" in x for x in lines)
    with database.transaction() as s:
        inc = s.get(Incident, iid)
        state = handover.state(s, inc)
        assert state.status == "taken" and state.taken_by == "Dana Duty" and state.attempts == 2
        assert state.taken_at == clock.now() - timedelta(hours=2)
        audit = s.execute(select(AuditEntry).where(AuditEntry.action == "handover.taken")).scalar_one()
        assert audit.incident_id == iid and "Dana Duty" in audit.actor_label
        h = s.execute(select(Handover)).scalar_one()
        assert handover.waiting(h, None, clock.now()) == (h.started_at, h.taken_at)


def test_the_incident_shows_who_it_is_waiting_on_and_since_when(client, browser, world, engine, database, clock,
                                                                  smtp, twilio) -> None:
    chain(database, world, clock, HOTLINE, DUTY, CIO)
    iid = hand_over(browser, client, world)
    engine.run_until_idle()
    for _ in range(2):
        clock.advance(minutes=30)
        engine.run_until_idle()
    with database.transaction() as s:
        sentence = handover.state(s, s.get(Incident, iid)).sentence()
    assert sentence == "Waiting on Acme Retail's team since 03:00 UTC — 3 attempts, no answer yet."
    page = browser("alice").get(f"/incidents/{iid}").get_data(as_text=True)
    assert "Waiting on Acme Retail's team since" in page and "3 attempts, no answer yet" in page
    assert "Dana Duty" in page and "tel:+33100000002" in page  # the engineer sees the chain
    api = browser("alice").get(f"/api/v1/incidents/{iid}/handover/state").get_json()["handover"]
    assert api["status"] == "waiting" and api["attempts"] == 3 and api["next_contact"] is None


def test_when_nobody_answers_the_engineer_and_the_managers_are_told(client, browser, world, engine, database,
                                                                     clock, smtp, twilio) -> None:
    chain(database, world, clock, HOTLINE, CIO)
    iid = hand_over(browser, client, world)
    engine.run_until_idle()
    clock.advance(minutes=15)
    engine.run_until_idle()
    clock.advance(minutes=29)
    engine.run_until_idle()
    assert not timeline(database, iid, "handover_exhausted")
    clock.advance(minutes=1)
    engine.run_until_idle()
    [line] = timeline(database, iid, "handover_exhausted")
    assert line.startswith("NOBODY AT ACME RETAIL'S TEAM HAS TAKEN")
    with database.transaction() as s:
        told = s.execute(select(Notification.user_id).where(Notification.purpose == "notice",
                                                            Notification.incident_id == iid)).scalars().all()
        assert handover.state(s, s.get(Incident, iid)).status == "exhausted"
    assert set(told) == {world.alice, world.maya, world.admin}


def test_a_contact_outside_their_hours_is_skipped_and_the_timeline_says_so(client, browser, world, engine,
                                                                           database, clock, smtp, twilio) -> None:
    # 03:00 UTC is 04:00 in Paris: the hotline works 09:00-18:00 on weekdays.
    office = {**HOTLINE, "hours": {"kind": "window", "start": "09:00", "end": "18:00", "days": [0, 1, 2, 3, 4]}}
    chain(database, world, clock, office, DUTY)
    iid = hand_over(browser, client, world)
    engine.run_until_idle()
    assert sorted(sent_to(smtp, twilio)) == ["sms +33100000002", "voice +33100000002"]
    assert any("skipped Acme hotline (technical hotline): outside their hours (Mon–Fri 09:00–18:00"
               in x for x in timeline(database, iid))


def test_a_client_with_only_its_teams_email_gets_the_hand_over_there(client, browser, world, engine, database,
                                                                      clock, smtp, twilio) -> None:
    with database.transaction() as s:
        from app.models import Client

        s.get(Client, world.acme).handover_email = "team@acme.example"
    hand_over(browser, client, world)
    engine.run_until_idle()
    assert sent_to(smtp, twilio) == ["email team@acme.example"]


def test_the_we_have_it_link_works_once_without_login_and_only_for_its_incident(
        client, browser, world, engine, database, clock, smtp, twilio) -> None:
    chain(database, world, clock, HOTLINE)
    first = hand_over(browser, client, world, "Checkout answers 500", "checkout")
    second = hand_over(browser, client, world, "Search is empty", "search")
    engine.run_until_idle()
    token = {int(m.message["X-Vigil-Incident"]): link_in(m.message.get_content()) for m in smtp.messages}
    anonymous = client.application.test_client()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"',
                     anonymous.get(f"/h/{token[first]}").get_data(as_text=True)).group(1)
    r = anonymous.post(f"/h/{token[first]}", data={"name": "Hank", "csrf_token": csrf})
    assert r.status_code == 200
    again = anonymous.post(f"/h/{token[first]}", data={"name": "Someone else", "csrf_token": csrf})
    assert again.status_code == 410 and "already used" in again.get_data(as_text=True)
    with database.transaction() as s:
        assert handover.state(s, s.get(Incident, first)).taken_by == "Hank"
        assert handover.state(s, s.get(Incident, second)).status == "waiting"  # only its own incident
    # The token is a "we have it" token and nothing else: not an ack link, not "I'm ready".
    assert anonymous.post(f"/api/v1/ack-links/{token[second]}", json={}).status_code == 404
    assert anonymous.post(f"/api/v1/ready-links/{token[second]}", json={}).status_code == 404
    assert anonymous.get(f"/h/{token[second][:-2]}xx").status_code == 404
    with database.transaction() as s:  # only its hash is stored
        hashes = s.execute(select(HandoffLink.token_hash)).scalars().all()
        bodies = " ".join(n.message or "" for n in s.execute(select(Notification)).scalars())
    assert token[second] not in hashes and token[second] not in bodies


def test_the_chain_is_walked_exactly_once_with_the_engine_restarted_in_between(
        app, client, browser, world, database, clock, smtp, twilio) -> None:
    chain(database, world, clock, HOTLINE, DUTY, CIO)
    hand_over(browser, client, world)
    first = Engine(database, clock, {**app.config, **EVERY_TICK}, name="before")
    first.run_until_idle()
    first.close()  # the engine goes away; what it did is in the database
    clock.advance(minutes=15)
    second = Engine(Database(database.url.render_as_string(hide_password=False)), clock,
                    {**app.config, **EVERY_TICK}, name="after")
    try:
        second.run_until_idle()
        second.run_until_idle()
        clock.advance(minutes=10)
        second.run_until_idle()
    finally:
        second.close()
    assert sorted(sent_to(smtp, twilio)) == sorted(["email hotline@acme.example", "sms +33100000001",
                                                    "sms +33100000002", "voice +33100000002", "email cio@acme.example"])


def test_two_engines_walking_the_chain_at_the_same_instant_tell_each_contact_once(
        app, client, browser, world, database, clock, smtp, twilio) -> None:
    chain(database, world, clock, HOTLINE, DUTY, CIO)
    hand_over(browser, client, world)
    url = database.url.render_as_string(hide_password=False)
    engines = [Engine(Database(url), clock, {**app.config, **EVERY_TICK}, name=f"engine-{i}") for i in range(2)]
    try:
        for minutes in (0, 15, 10, 30):
            clock.advance(minutes=minutes)
            race(2, lambda i: engines[i].run_until_idle())
        for e in engines:
            e.drain()
    finally:
        for e in engines:
            e.close()
    got = sent_to(smtp, twilio)
    assert sorted(got) == sorted(set(got)) and len(got) == 5
    with database.transaction() as s:
        assert s.execute(select(func.count()).select_from(Notification).where(
            Notification.purpose == "handover")).scalar_one() == 5
        assert s.execute(select(Handover.attempts)).scalar_one() == 3
    assert threading.active_count() < 200
