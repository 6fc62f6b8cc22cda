"""The promise, end to end: an Alertmanager alert for a 1-hour-SLA client reaches engineer #1 by
push, SMS, voice and e-mail at M+0, engineer #2 at M+30, the manager at M+60, each through a
real protocol to a real (local) peer; engineer #1's SMS reply acknowledges it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import requests

from tests.notifications.conftest import SENDER
from tests.notifications.reach import open_incident, reach, timeline

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads"
PHONES = {"alice": "+33611111111", "bob": "+33622222222", "maya": "+33633333333"}


def reached(push_service, twilio, smtp, subs) -> dict[str, list[str]]:
    """Who got what, per channel."""
    by_endpoint = {s.endpoint: who for who, s in subs.items()}
    by_phone = {p: who for who, p in PHONES.items()}
    return {
        "push": [by_endpoint[r.endpoint] for r in push_service.received],
        "sms": [by_phone[m.to] for m in twilio.messages],
        "voice": [by_phone[c.to] for c in twilio.calls],
        "email": [m.rcpt_tos[0].split("@")[0] for m in smtp.messages],
    }


def test_a_one_hour_sla_alert_escalates_through_every_channel_until_an_sms_reply(
    app, world, engine, clock, push_service, twilio, smtp, database, client
) -> None:
    subs = {who: push_service.new_subscription() for who in PHONES}
    for who in PHONES:
        reach(database, world.ids[who], push=subs[who], phone=PHONES[who], email=f"{who}@globex-oncall.example")
    base = app.config["BASE_URL"]

    r = requests.post(f"{base}/api/v1/intake/alertmanager/{world.keys['globex_am']}", timeout=5,
                      json=json.loads((PAYLOADS / "alertmanager_firing.json").read_text()))
    assert r.status_code == 202
    iid = r.json()["results"][0]["incident"]

    engine.run_until_idle()  # M+0: engineer #1, every channel at once
    assert reached(push_service, twilio, smtp, subs) == {
        "push": ["alice"], "sms": ["alice"], "voice": ["alice"], "email": ["alice"]}
    [push] = push_service.received
    assert push.json()["incident"]["client"] == "Globex Logistics" and push.urgency == "high"
    assert push.json()["body"] == "[FIRING:1] Fire (severity=critical)"

    clock.advance(minutes=29)
    engine.run_until_idle()
    assert len(push_service.received) == 1
    clock.advance(minutes=1)  # M+30: engineer #2 as well
    engine.run_until_idle()
    assert reached(push_service, twilio, smtp, subs) == {
        "push": ["alice", "bob"], "sms": ["alice", "bob"], "voice": ["alice", "bob"], "email": ["alice", "bob"]}

    clock.advance(minutes=30)  # M+60: the manager
    engine.run_until_idle()
    everyone = ["alice", "bob", "maya"]
    assert {k: sorted(v) for k, v in reached(push_service, twilio, smtp, subs).items()} == {
        "push": everyone, "sms": everyone, "voice": everyone, "email": everyone}

    clock.advance(minutes=1)
    reply = twilio.send_inbound_sms(f"{base}/twilio/sms", PHONES["alice"], SENDER, f"ACK {iid}")
    assert ET.fromstring(reply.text).find("Message").text == f"Vigil: #{iid} acknowledged."
    assert timeline(database, iid, "acknowledged") == ["Acknowledged by Alice Martin (via SMS)."]
    delivered = timeline(database, iid, "delivered")
    assert len(delivered) == 12 and all(" delivered in " in m for m in delivered)

    clock.advance(minutes=30)
    engine.run_until_idle()
    assert len(push_service.received) == 3  # acknowledged: escalation has stopped


def test_the_other_incidents_of_an_engineer_are_untouched_by_a_reply(app, world, engine, twilio, database,
                                                                     client) -> None:
    reach(database, world.alice, phone=PHONES["alice"])
    first = open_incident(client, world.keys["globex_generic"], dedup="a")
    second = open_incident(client, world.keys["globex_generic"], dedup="b", summary="Queue stuck")
    engine.run_until_idle()
    twilio.send_inbound_sms(f"{app.config['BASE_URL']}/twilio/sms", PHONES["alice"], SENDER, f"ACK {second}")
    assert timeline(database, first, "acknowledged") == []
    assert len(timeline(database, second, "acknowledged")) == 1
