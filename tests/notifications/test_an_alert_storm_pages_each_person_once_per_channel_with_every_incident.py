"""An alert storm: the engine fires a step for dozens of incidents in one look, and the pages
due then to one contact method go as one page listing them (one push, one SMS, one call), not
one each. Its link, the lock screen's button and "press 1" acknowledge each incident still
waiting; each incident keeps its own firing, its own lines and its own proof of delivery."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import requests
from sqlalchemy import select

from app.models import Event, Incident, Notification, PageIncident, StepFiring
from app.notify.plan import bundle, next_ring
from app.reports import figures
from tests.notifications.reach import attempts, open_incident, reach, timeline

ALICE = "+33612345678"


def storm(client, world, n: int = 5, first: int = 0) -> list[int]:
    return [open_incident(client, world.keys["acme_generic"], summary=f"Disk full on web-{i}", dedup=f"disk-{i}")
            for i in range(first, first + n)]


def statuses(database, ids: list[int]) -> dict[int, tuple[str, str | None]]:
    with database.transaction() as s:
        return {i.id: (i.status, i.acknowledged_by.name if i.acknowledged_by else None)
                for i in s.execute(select(Incident).where(Incident.id.in_(ids))).scalars()}


def test_pages_due_at_once_to_one_contact_method_for_enough_incidents_go_as_one() -> None:
    now = datetime(2026, 12, 6, 3, 0)

    def page(incident: int, method: int, purpose: str = "page", delay: int = 0) -> dict:
        return {"incident_id": incident, "firing_id": 100 + incident, "contact_method_id": method, "purpose": purpose,
                "not_before": now + timedelta(minutes=delay), "created_at": now}

    pages = [page(1, 7), page(1, 8), page(2, 7), page(2, 8, delay=5), page(3, 7), page(3, 8, purpose="help"),
             page(4, 9), page(5, 9)]
    kept, bundles = bundle(pages, 3)
    assert [[(p["incident_id"], p["contact_method_id"]) for p in b] for b in bundles] == [[(1, 7), (2, 7), (3, 7)]]
    # The bundle's first page stands for it; a delayed page, a "help" page and two incidents stay alone.
    assert kept == [pages[0], pages[1], pages[3], pages[5], pages[6], pages[7]]
    assert bundle(pages, 0) == (pages, [])  # PAGE_BUNDLE_AT=0: never
    assert len(bundle(pages, 2)[1]) == 2  # two incidents to method 9 are enough at 2


def test_a_storms_call_rings_at_once_or_a_pace_after_the_last_ring() -> None:
    now, minute = datetime(2026, 12, 6, 3, 0), timedelta(seconds=60)
    assert next_ring(None, now, minute) == now  # never rang
    assert next_ring(now - timedelta(seconds=90), now, minute) == now  # long enough ago
    assert next_ring(now - timedelta(seconds=20), now, minute) == now + timedelta(seconds=40)
    assert next_ring(now + timedelta(seconds=30), now, minute) == now + timedelta(seconds=90)  # one still to ring


def test_a_storm_reaches_a_person_once_per_channel_and_every_incident_keeps_its_proof(
        client, world, engine, push_service, twilio, smtp, database, app) -> None:
    reach(database, world.alice, push=push_service.new_subscription(), phone=ALICE, email="alice@acme.test")
    ids = storm(client, world)
    engine.run_until_idle()

    [push] = push_service.wait_for(1)
    body = push.json()
    assert body["title"] == "5 incidents (Acme Retail)"
    assert body["body"].startswith(f"#{ids[0]} Disk full on web-0; #{ids[1]} Disk full on web-1; ")
    assert body["body"].endswith("; +2 more") and body["url"] == "/incidents"
    assert body["incident"]["id"] == ids[0] and body["incident"]["bundle"] == 5
    with database.transaction() as s:
        push_page = s.execute(select(Notification).where(Notification.kind == "push")).scalar_one()
        assert push.topic == body["tag"] == f"page-{push_page.id}"  # a bundle replaces only itself
        listed = s.execute(select(PageIncident.notification_id, PageIncident.incident_id)).all()
        assert sorted(listed) == sorted((n, i) for n in s.execute(select(Notification.id)).scalars() for i in ids)
        assert s.execute(select(StepFiring.incident_id)).scalars().all() == ids  # each its own step

    [sms] = twilio.wait_for_messages(1)
    lines = sms.body.splitlines()
    assert lines[0].startswith(f"Vigil 5 incidents (Acme Retail): #{ids[0]} Disk full on web-0;")
    assert lines[1] == "Reply ACK <number> for one"
    assert lines[2].startswith(f"All 5: {app.config['BASE_URL']}/a/")
    [call] = twilio.wait_for_calls(1)
    said = ET.fromstring(twilio.fetch_twiml(call)).find("Gather").find("Say").text
    assert said.startswith("This is Vigil. 5 incidents need a response, for Acme Retail.")
    assert f"The first: high urgency incident {ids[0]}" in said and said.endswith("Press 1 to acknowledge all 5.")

    [mail] = smtp.wait_for(1)
    assert mail.subject == "[Vigil] 5 incidents need a response: Acme Retail"
    text = mail.body_text()
    assert all(f"#{i} HIGH Acme Retail / Web shop: Disk full on web-{n}" in text for n, i in enumerate(ids))
    assert f"Acknowledge all 5: {app.config['BASE_URL']}/a/" in text

    assert sorted(a.channel for a in attempts(database)) == ["email", "push", "sms", "voice"]  # 4 pages, not 20
    with database.transaction() as s:  # screens hear of each delivery once, with the incidents it reached
        told = s.execute(select(Event.incident_id, Event.data).where(Event.kind == "incident.notified")).all()
        escalated = s.execute(select(Event.incident_id, Event.data).where(Event.kind == "incident.escalated")).all()
    assert [(i, d["incidents"]) for i, d in told] == [(ids[0], ids)] * 4
    [(first, data)] = escalated  # and of the step fired for them all, once, with each one's snapshot
    assert (first, data["incidents"], [snap["id"] for snap in data["snapshots"]]) == (ids[0], ids, ids)
    for iid in ids:  # the proof is per incident: its step, and each channel that reached Alice
        lines = timeline(database, iid)
        assert any(m.startswith("Step 1 (M+0): notifying Alice Martin") for m in lines), lines
        assert sum(" to Alice Martin (" in m and ": delivered in " in m for m in lines) == 4, lines


def test_pressing_1_on_the_storms_call_acknowledges_each_incident_still_waiting(
        client, world, engine, twilio, database, browser) -> None:
    reach(database, world.alice, phone=ALICE)
    ids = storm(client, world)
    engine.run_until_idle()
    [call] = twilio.wait_for_calls(1)
    assert browser("bob").post(f"/api/v1/incidents/{ids[1]}/ack").status_code == 200
    said = ET.fromstring(twilio.fetch_twiml(call)).find("Gather").find("Say").text
    assert "4 incidents need a response" in said and said.endswith("Press 1 to acknowledge all 4.")

    answer = twilio.press_digits(call, "1")
    assert answer.status_code == 200 and "Acknowledged" in answer.text
    expected = {i: ("acknowledged", "Bob Durand" if i == ids[1] else "Alice Martin") for i in ids}
    assert statuses(database, ids) == expected
    assert timeline(database, ids[0], "acknowledged") == ["Acknowledged by Alice Martin (via phone call)."]
    # Twilio retries a webhook it thinks failed: pressing 1 again acknowledges nothing more.
    press = twilio.webhooks[-1]
    again = requests.post(press.url, data=press.params, headers={"X-Twilio-Signature": press.signature}, timeout=5)
    assert again.status_code == 200
    assert all(len(timeline(database, i, "acknowledged")) == 1 for i in ids)


def test_the_lock_screens_button_acknowledges_the_whole_bundle_once(client, world, engine, push_service,
                                                                    database, app) -> None:
    reach(database, world.alice, push=push_service.new_subscription())
    ids = storm(client, world, 4)
    engine.run_until_idle()
    [push] = push_service.wait_for(1)
    token = push.json()["ack_token"]
    url = f"{app.config['BASE_URL']}/api/v1/ack-links/{token}"

    first = requests.post(url, json={"op_id": "op-lockscreen-1"}, timeout=5)
    assert first.status_code == 200, first.text
    answer = first.json()
    numbers = ", ".join(f"#{i}" for i in ids)
    assert (answer["outcome"], answer["message"]) == ("acknowledged", f"4 incidents acknowledged: {numbers}.")
    assert statuses(database, ids) == {i: ("acknowledged", "Alice Martin") for i in ids}
    # The service worker replays the same operation when it did not hear back: the same answer.
    again = requests.post(url, json={"op_id": "op-lockscreen-1"}, timeout=5)
    assert again.status_code == 200
    assert (again.json()["outcome"], again.json()["message"]) == (answer["outcome"], answer["message"])
    assert again.json()["incidents"] == answer["incidents"] == ids
    assert all(timeline(database, i, "acknowledged") == ["Acknowledged by Alice Martin (via link)."] for i in ids)
    # The link's page lists them, all answered.
    page = requests.get(f"{app.config['BASE_URL']}/a/{token}", timeout=5).text
    assert "4 incidents" in page and all(f"#{i}</a>" in page for i in ids) and "Acknowledge all" not in page


def test_a_retried_bundle_lists_only_the_incidents_still_waiting_and_is_dropped_once_all_are_answered(
        client, world, engine, clock, twilio, database, browser) -> None:
    reach(database, world.alice, phone=ALICE)
    twilio.respond_with(429, times=2, for_="messages", retry_after=30)  # the first SMS, then its retry
    ids = storm(client, world, 4)
    engine.run_until_idle()
    for i in ids:  # a failed try is on each incident's timeline
        assert any(m.startswith("SMS to Alice Martin (mobile): failed") for m in timeline(database, i, "delivery_retry"))
    assert browser("bob").post(f"/api/v1/incidents/{ids[0]}/ack").status_code == 200
    clock.advance(seconds=30)
    engine.run_until_idle()
    clock.advance(seconds=30)  # the provider said 429 once more: the third try goes out
    engine.run_until_idle()
    [sms] = [m for m in twilio.wait_for_messages(1) if m.body.startswith("Vigil 3 incidents")]
    assert f"#{ids[0]} " not in sms.body.splitlines()[0] and f"#{ids[1]} " in sms.body.splitlines()[0]
    assert [a.outcome for a in attempts(database, "sms")] == ["retry", "retry", "sent"]

    # Every incident answered before a bundle's page goes out: it does not go out at all.
    calls_before = len(twilio.calls)
    with database.transaction() as s:
        voice = s.execute(select(Notification).where(Notification.kind == "voice")).scalar_one()
        assert voice.status == "sent"
        voice.status, voice.not_before = "pending", clock.now()  # as if its try had failed
    for i in ids[1:]:
        assert browser("carol").post(f"/api/v1/incidents/{i}/ack").status_code == 200
    engine.run_until_idle()
    with database.transaction() as s:
        voice = s.get(Notification, voice.id)
        assert (voice.status, voice.last_error) == (
            "cancelled", "every incident of the page was acknowledged or closed before sending")
    assert len(twilio.calls) == calls_before


def test_fewer_incidents_than_a_bundle_each_get_their_own_page(client, world, engine, push_service,
                                                              database) -> None:
    reach(database, world.alice, push=push_service.new_subscription())
    ids = storm(client, world, 2)
    engine.run_until_idle()
    got = push_service.wait_for(2)
    assert sorted(p.json()["incident"]["id"] for p in got) == ids
    assert all("bundle" not in p.json()["incident"] for p in got)
    with database.transaction() as s:
        assert s.execute(select(PageIncident)).first() is None


def test_the_missed_deadlines_report_shows_a_bundles_page_under_each_of_its_incidents(
        client, world, engine, clock, database) -> None:
    ids = storm(client, world, 3)  # Alice's recording channel
    engine.run_until_idle()
    with database.transaction() as s:
        late = figures.breaches(s, start=None, end=None, now=clock.now() + timedelta(hours=5))
    pages = {b.incident.id: [(p["who"], p["channel"], p["status"]) for p in b.pages] for b in late}
    assert {i: pages[i] for i in ids} == {i: [("Alice Martin", "recording", "sent")] for i in ids}


def test_a_storm_rings_a_phone_once_a_minute_and_its_next_call_lists_what_came_meanwhile(
        client, world, engine, clock, push_service, twilio, database, browser) -> None:
    reach(database, world.alice, push=push_service.new_subscription(), phone=ALICE)
    storm(client, world, 3)
    engine.run_until_idle()
    twilio.wait_for_calls(1)
    rang = clock.now()
    later = []
    for wave in (1, 2):  # two more looks' worth of incidents, 5 and 10 s later
        clock.advance(seconds=5)
        later += storm(client, world, 3, first=3 * wave)
        engine.run_until_idle()
    assert len(push_service.wait_for(3)) == 3  # a push at every look: it does not ring
    assert (len(twilio.calls), len(twilio.messages)) == (1, 1)  # the phone waits
    with database.transaction() as s:
        waiting = s.execute(select(Notification).where(Notification.kind == "voice", Notification.status == "pending")
                            ).scalar_one()
        assert waiting.not_before == rang + timedelta(seconds=60)
        listed = s.execute(select(PageIncident.incident_id).where(PageIncident.notification_id == waiting.id)
                           .order_by(PageIncident.incident_id)).scalars().all()
        assert listed == later  # both later looks' incidents, on one waiting call
    assert browser("bob").post(f"/api/v1/incidents/{later[0]}/ack").status_code == 200

    clock.advance(seconds=50)  # a minute after the first call
    engine.run_until_idle()
    calls, texts = twilio.wait_for_calls(2), twilio.wait_for_messages(2)
    said = ET.fromstring(twilio.fetch_twiml(calls[1])).find("Gather").find("Say").text
    assert said.startswith("This is Vigil. 5 incidents need a response") and said.endswith("acknowledge all 5.")
    assert texts[1].body.startswith(f"Vigil 5 incidents (Acme Retail): #{later[1]} ")
    for iid in later[1:]:  # each reached by the call and the SMS it waited for
        lines = timeline(database, iid)
        assert sum(m.startswith(("Voice call to Alice Martin", "SMS to Alice Martin")) and ": delivered in " in m
                   for m in lines) == 2, lines
    assert not any(": delivered in " in m and "Voice" in m for m in timeline(database, later[0]))
