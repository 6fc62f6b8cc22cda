"""Notification rules by urgency and by time of day in the person's own zone: by day push and
e-mail, at night a call, an SMS and push. The page planner reads the rules in force at the
instant the step fires, across midnight and across a daylight-saving change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.models import ContactMethod, Notification, User
from app.notify.plan import rules_at
from tests.helpers import post_alert

DAY_AND_NIGHT = [
    {"urgency": "high", "kind": "push", "delay_minutes": 0, "window": {"start": "08:00", "end": "22:00"}},
    {"urgency": "high", "kind": "email", "delay_minutes": 0, "window": {"start": "08:00", "end": "22:00"}},
    {"urgency": "high", "kind": "voice", "delay_minutes": 0, "window": {"start": "22:00", "end": "08:00"}},
    {"urgency": "high", "kind": "sms", "delay_minutes": 0, "window": {"start": "22:00", "end": "08:00"}},
    {"urgency": "high", "kind": "push", "delay_minutes": 2, "window": {"start": "22:00", "end": "08:00"}},
]
RULES = tuple(("high", r["kind"], r["delay_minutes"], int(r["window"]["start"][:2]) * 60, int(r["window"]["end"][:2]) * 60)
              for r in DAY_AND_NIGHT)
NIGHT = {"voice": 0, "sms": 0, "push": 2}
DAY = {"push": 0, "email": 0}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("at, expected", [
    (utc(2026, 3, 2, 20, 59), DAY),  # 21:59 in Paris (CET)
    (utc(2026, 3, 2, 21, 0), NIGHT),  # 22:00
    (utc(2026, 3, 2, 22, 59), NIGHT),  # 23:59: across midnight...
    (utc(2026, 3, 2, 23, 1), NIGHT),  # ...00:01 the next day
    (utc(2026, 3, 3, 6, 59), NIGHT),  # 07:59 CET
    (utc(2026, 3, 3, 7, 0), DAY),  # 08:00 CET
    # Sunday 29 March 2026: Paris moves from CET to CEST at 02:00 (01:00 UTC).
    (utc(2026, 3, 28, 6, 30), NIGHT),  # Saturday 07:30 CET
    (utc(2026, 3, 29, 6, 30), DAY),  # Sunday 08:30 CEST: the same UTC hour is now day
    (utc(2026, 3, 29, 5, 59), NIGHT),  # 07:59 CEST
    (utc(2026, 3, 29, 6, 0), DAY),  # 08:00 CEST
    (utc(2026, 3, 29, 0, 30), NIGHT),  # 01:30 CET, before the change
    (utc(2026, 3, 29, 1, 30), NIGHT),  # 03:30 CEST (02:00-03:00 never happened)
    (utc(2026, 3, 29, 19, 59), DAY),  # 21:59 CEST
    (utc(2026, 3, 29, 20, 0), NIGHT),  # 22:00 CEST: night begins two UTC hours earlier than in winter
])
def test_the_rules_in_force_follow_the_persons_clock_across_midnight_and_a_daylight_saving_change(at, expected) -> None:
    assert dict(rules_at(RULES, "high", at, "Europe/Paris")) == expected


def test_without_a_window_for_the_time_the_all_day_rules_then_the_defaults_apply() -> None:
    rules = (("high", "voice", 0, 22 * 60, 6 * 60), ("high", "push", 0, None, None))
    assert rules_at(rules, "high", utc(2026, 3, 2, 12, 0), "Europe/Paris") == [("push", 0)]
    assert rules_at(rules[:1], "high", utc(2026, 3, 2, 12, 0), "Europe/Paris") == [
        ("push", 0), ("sms", 0), ("voice", 0), ("email", 0)]  # a hole in the windows never silences a page
    assert rules_at(rules, "low", utc(2026, 3, 2, 12, 0), "Europe/Paris") == [("push", 0), ("email", 0)]


def _reachable_everywhere(database, world, clock) -> None:
    with database.transaction() as s:
        alice = s.get(User, world.alice)
        alice.timezone = "Europe/Paris"
        for kind, address in (("sms", "+33612345678"), ("voice", "+33612345678"), ("email", "alice@vigil.test"),
                              ("push", "http://127.0.0.1:9/push/alice")):
            alice.contact_methods.append(ContactMethod(kind=kind, address=address, created_at=clock.now(),
                                                       push_p256dh="x", push_auth="y"))


def _planned(database, world, incident_id: int) -> dict[str, int]:
    with database.transaction() as s:
        rows = s.execute(select(Notification).where(Notification.incident_id == incident_id,
                                                    Notification.user_id == world.alice,
                                                    Notification.kind != "recording")).scalars().all()
        return {n.kind: int((n.not_before - n.created_at).total_seconds() // 60) for n in rows}


@pytest.mark.parametrize("at, expected", [
    (utc(2026, 3, 2, 3, 0), NIGHT),  # 04:00 in Paris
    (utc(2026, 3, 2, 13, 0), DAY),  # 14:00
    (utc(2026, 3, 29, 6, 30), DAY),  # 08:30 CEST, the morning after the change
    (utc(2026, 3, 28, 6, 30), NIGHT),  # 07:30 CET, the morning before
])
def test_a_page_goes_to_the_channels_of_the_window_in_force_when_the_step_fires(
        client, browser, world, engine, database, clock, at, expected) -> None:
    _reachable_everywhere(database, world, clock)
    alice = browser("alice")
    r = alice.put("/api/v1/me/notification-rules", json={"rules": DAY_AND_NIGHT})
    assert r.status_code == 200, r.get_json()
    assert [x["window"] for x in r.get_json()["rules"][:1]] == [{"start": "08:00", "end": "22:00"}]
    clock.set(at)
    iid = post_alert(client, world.keys["acme_generic"]).get_json()["results"][0]["incident"]
    engine.tick()
    assert _planned(database, world, iid) == expected


@pytest.mark.parametrize("window, reason", [
    ({"start": "8:00", "end": "22:00"}, "time of day"),
    ({"start": "08:00", "end": "08:00"}, "two different times"),
    ({"start": "08:00"}, "time of day"),
    ("night", "null or an object"),
])
def test_a_bad_window_is_refused_with_a_reason(browser, world, window, reason) -> None:
    r = browser("alice").put("/api/v1/me/notification-rules",
                             json={"rules": [{"urgency": "high", "kind": "push", "window": window}]})
    assert r.status_code == 400 and reason in r.get_json()["message"]


def test_overlapping_windows_are_refused_so_one_set_of_rules_holds_at_any_time(browser, world) -> None:
    r = browser("alice").put("/api/v1/me/notification-rules", json={"rules": [
        {"urgency": "high", "kind": "push", "window": {"start": "08:00", "end": "22:00"}},
        {"urgency": "high", "kind": "voice", "window": {"start": "20:00", "end": "08:00"}}]})
    assert r.status_code == 400 and "overlaps" in r.get_json()["message"]
