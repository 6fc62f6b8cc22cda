"""Response figures from incidents made with known times through the real intake and actions,
checked against figures computed by hand: acknowledged at exactly 30:00, never acknowledged,
acknowledged by an e-mail reply, reopened, held outside coverage hours, across a daylight-saving
change. Runs on SQLite and, with VIGIL_TEST_DB=postgres, on PostgreSQL (percentile_cont there,
an ordered window on SQLite: both must agree with the hand-computed answer)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.incidents import actions
from app.incidents.record import Actor, note
from app.models import Incident, Notification, StepFiring, User
from app.reports import figures
from app.schedules.client_coverage import set_coverage
from tests.helpers import post_alert


def _alert(client: Any, key: str, dedup: str) -> int:
    r = post_alert(client, key, summary=f"alert {dedup}", dedup=dedup)
    assert r.status_code == 202, r.get_data(as_text=True)
    return int(r.get_json()["results"][0]["incident"])


@pytest.fixture
def story(app: Any, world: Any, database: Any, clock: Any, browser: Any) -> dict[str, int]:
    """Six incidents; the hand computation is in each test."""
    c = app.test_client()
    alice = browser("alice")
    ids: dict[str, int] = {}
    # I1: acknowledged at exactly 30:00 (03:00 -> 03:30 UTC).
    ids["exact30"] = _alert(c, world.keys["acme_generic"], "i1")
    clock.advance(minutes=30)
    assert alice.post(f"/api/v1/incidents/{ids['exact30']}/ack", json={}).status_code == 200
    # I2: never acknowledged. I3: acknowledged by Bob's e-mail reply 45:00 later.
    ids["never"] = _alert(c, world.keys["acme_generic"], "i2")
    ids["email"] = _alert(c, world.keys["acme_generic"], "i3")
    clock.advance(minutes=45)  # 04:15
    with database.transaction() as s:
        bob = s.get(User, world.bob)
        out = actions.acknowledge(s, ids["email"], Actor.of(bob, via="e-mail reply"), clock.now())
        assert out.outcome == "acknowledged"
    # I4: acknowledged after 10 min, resolved, reopened, resolved again 90 min after it began.
    ids["reopened"] = _alert(c, world.keys["acme_generic"], "i4")
    clock.advance(minutes=10)  # 04:25
    assert alice.post(f"/api/v1/incidents/{ids['reopened']}/ack", json={}).status_code == 200
    clock.advance(minutes=10)  # 04:35
    assert alice.post(f"/api/v1/incidents/{ids['reopened']}/resolve", json={"summary": "restarted"}).status_code == 200
    clock.advance(minutes=25)  # 05:00: the client writes back, the incident opens again
    with database.transaction() as s:
        inc = s.get(Incident, ids["reopened"])
        inc.status, inc.resolved_at, inc.resolved_by_id = "triggered", None, None
        note(s, inc, "reopened", Actor.system("e-mail"), "Reopened by a reply from the client.", clock.now())
    clock.advance(minutes=45)  # 05:45
    assert alice.post(f"/api/v1/incidents/{ids['reopened']}/resolve", json={"summary": "for good"}).status_code == 200
    # I5: Globex covers 08:00-18:00 Paris on weekdays; an alert at 06:45 Paris is held until
    # 08:00 Paris (07:00 UTC) and acknowledged at 07:10 UTC: 10 minutes, not 1 h 25.
    with database.transaction() as s:
        set_coverage(s, s.get(User, world.admin), world.globex,
                     {"kind": "window", "start": "08:00", "end": "18:00", "days": [0, 1, 2, 3, 4]},
                     "hold", "Europe/Paris", clock.now())
    ids["held"] = _alert(c, world.keys["globex_generic"], "i5")
    with database.transaction() as s:
        assert s.get(Incident, ids["held"]).held_until == datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    clock.advance(hours=1, minutes=25)  # 07:10
    assert alice.post(f"/api/v1/incidents/{ids['held']}/ack", json={}).status_code == 200
    # I6: Sunday 29 March, 01:50 CET; acknowledged at 03:10 CEST, which is 20 minutes later.
    clock.advance(seconds=(datetime(2026, 3, 29, 0, 50, tzinfo=UTC) - clock.now()).total_seconds())
    ids["dst"] = _alert(c, world.keys["acme_generic"], "i6")
    clock.advance(minutes=20)
    assert alice.post(f"/api/v1/incidents/{ids['dst']}/ack", json={}).status_code == 200
    return ids


PERIOD = {"start": datetime(2026, 3, 1, tzinfo=UTC), "end": datetime(2026, 4, 1, tzinfo=UTC)}


def test_the_overall_figures_come_out_as_computed_by_hand(story: dict[str, int], database: Any, clock: Any) -> None:
    with database.session() as s:
        [row] = figures.compute(s, now=clock.now(), **PERIOD)
    # Acknowledged after 1800, 2700, 600, 600 and 1200 s; I2 never.
    assert row.count == 6
    assert row.acknowledged == 5
    assert row.ack_mean == 1380.0  # 6900 / 5
    assert row.ack_median == 1200.0  # 600 600 [1200] 1800 2700
    assert row.ack_p90 == 2340.0  # rank 0.9 * 4 = 3.6: 1800 + 0.6 * (2700 - 1800)
    assert row.within == {15: 2, 30: 4, 45: 5, 60: 5}  # 30:00 exactly is within 30
    assert row.share_within(30) == pytest.approx(4 / 6)
    # Only the reopened one is resolved: 04:15 -> 05:45, its final resolution.
    assert (row.resolved, row.resolve_mean, row.resolve_median) == (1, 5400.0, 5400.0)
    assert (row.sla_kept, row.sla_missed, row.sla_running) == (5, 1, 0)
    assert row.sla_share == pytest.approx(5 / 6)
    assert (row.held, row.outside_coverage, row.reopened) == (1, 1, 1)


def test_the_figures_per_client_and_per_engineer_split_the_same_incidents(story: dict[str, int], database: Any,
                                                                          clock: Any, world: Any) -> None:
    with database.session() as s:
        by_client = {r.label: r for r in figures.compute(s, now=clock.now(), by="client", **PERIOD)}
        by_engineer = {r.label: r for r in figures.compute(s, now=clock.now(), by="engineer", **PERIOD)}
        by_tier = {r.key: r for r in figures.compute(s, now=clock.now(), by="tier", **PERIOD)}
    acme, globex = by_client["Acme Retail"], by_client["Globex Logistics"]
    assert (acme.count, acme.acknowledged, acme.ack_mean, acme.sla_missed) == (5, 4, 1575.0, 1)  # 6300 / 4
    assert acme.ack_median == 1500.0  # 600 [1200 1800] 2700
    assert (globex.count, globex.ack_mean, globex.held, globex.sla_kept) == (1, 600.0, 1, 1)
    assert by_tier["1h"].count == 1 and by_tier["4h"].count == 5
    # The e-mail reply is Bob's acknowledgement like any other.
    assert by_engineer["Bob Durand"].count == 1 and by_engineer["Bob Durand"].ack_mean == 2700.0
    assert by_engineer["Alice Martin"].count == 4
    assert by_engineer["Alice Martin"].within == {15: 2, 30: 4, 45: 4, 60: 4}
    assert by_engineer["Nobody (never answered by a person)"].count == 1


def test_a_client_viewer_period_filter_keeps_to_the_client_and_the_dates(story: dict[str, int], database: Any,
                                                                         clock: Any, world: Any) -> None:
    with database.session() as s:
        [march2] = figures.compute(s, now=clock.now(), start=datetime(2026, 3, 2, tzinfo=UTC),
                                   end=datetime(2026, 3, 3, tzinfo=UTC), visible={world.acme})
    assert march2.count == 4  # I1..I4: Globex's I5 is not Acme's, I6 is later in the month


def test_each_breach_is_listed_with_who_was_paged_how_and_what_failed(app: Any, world: Any, database: Any,
                                                                      clock: Any, engine: Any) -> None:
    inc = _alert(app.test_client(), world.keys["globex_generic"], "unanswered")
    engine.run_until_idle()  # M+0: Alice, on her (recording) channel
    with database.transaction() as s:  # say that page failed at the provider
        n = s.query(Notification).filter_by(incident_id=inc).order_by(Notification.id).first()
        n.status, n.last_error = "failed", "provider said 21211: invalid number"
    clock.advance(hours=1, minutes=1)
    with database.session() as s:
        [b] = figures.breaches(s, now=clock.now(), start=None, end=None)
    assert b.incident.id == inc and b.late_by is None
    assert b.pages[0]["who"] == "Alice Martin" and b.pages[0]["channel"] == "recording"
    assert b.pages[0]["queued_at"] == datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    assert "Alice Martin recording: provider said 21211: invalid number" in b.reason()
    assert b.reason().endswith("nobody answered")


def test_an_answer_after_the_deadline_is_a_breach_late_by_the_difference(app: Any, world: Any, database: Any,
                                                                         clock: Any, browser: Any) -> None:
    inc = _alert(app.test_client(), world.keys["globex_generic"], "late")  # 1-hour deadline
    clock.advance(hours=1, seconds=1)
    assert browser("alice").post(f"/api/v1/incidents/{inc}/ack", json={}).status_code == 200
    with database.session() as s:
        [b] = figures.breaches(s, now=clock.now(), start=None, end=None)
        [row] = figures.compute(s, now=clock.now(), start=None, end=None)
    assert b.late_by == 1.0
    assert (row.sla_kept, row.sla_missed, row.within[60]) == (0, 1, 0)


def test_escalations_that_reached_the_last_step_are_counted(app: Any, world: Any, database: Any, clock: Any,
                                                            engine: Any) -> None:
    early = _alert(app.test_client(), world.keys["acme_generic"], "early")
    late = _alert(app.test_client(), world.keys["acme_generic"], "late")
    engine.tick()
    clock.advance(minutes=31)
    engine.tick()  # M+30 for both
    with database.transaction() as s:
        actions.acknowledge(s, early, Actor.of(s.get(User, world.alice)), clock.now())
    clock.advance(minutes=30)
    engine.tick()  # M+60, the team lead: only the unanswered one
    with database.session() as s:
        [row] = figures.compute(s, now=clock.now(), start=None, end=None)
        fired = {(f.incident_id, f.step_index) for f in s.query(StepFiring)}
    assert fired == {(early, 0), (early, 1), (late, 0), (late, 1), (late, 2)}
    assert row.reached_last_step == 1
