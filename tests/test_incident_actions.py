"""What an engineer does to an incident: acknowledge (exactly once), claim a slot, escalate,
log, hand over, resolve. Every change lands on the timeline and the event bus."""

from typing import Any

from sqlalchemy import func, select

from app.models import Event, Incident, TimelineEntry
from tests.helpers import post_alert


def opened(client: Any, world: Any, key: str = "globex_generic") -> int:
    return post_alert(client, world.keys[key]).get_json()["results"][0]["incident"]


def timeline(database: Any, iid: int, kind: str | None = None) -> list[str]:
    with database.transaction() as s:
        q = select(TimelineEntry.message).where(TimelineEntry.incident_id == iid).order_by(TimelineEntry.id)
        if kind:
            q = q.where(TimelineEntry.kind == kind)
        return list(s.execute(q).scalars())


def test_a_replayed_ack_returns_the_same_answer_and_adds_nothing(client, world, browser, database) -> None:
    iid = opened(client, world)
    alice = browser("alice")
    first = alice.post(f"/api/v1/incidents/{iid}/ack", json={"op_id": "op-7f3a"})
    again = alice.post(f"/api/v1/incidents/{iid}/ack", json={"op_id": "op-7f3a"})
    assert first.status_code == again.status_code == 200
    assert again.get_json()["outcome"] == first.get_json()["outcome"] == "acknowledged"
    assert again.get_json()["replayed"] is True
    assert len(timeline(database, iid, "acknowledged")) == 1


def test_the_idempotency_key_header_works_like_op_id(client, world, browser, database) -> None:
    iid = opened(client, world)
    alice = browser("alice")
    for _ in range(3):
        r = alice.post(f"/api/v1/incidents/{iid}/ack", headers={"Idempotency-Key": "k-1"})
        assert r.status_code == 200
    assert len(timeline(database, iid, "acknowledged")) == 1


def test_an_ack_after_someone_else_acked_says_who(client, world, browser) -> None:
    iid = opened(client, world)
    browser("bob").post(f"/api/v1/incidents/{iid}/ack")
    r = browser("alice").post(f"/api/v1/incidents/{iid}/ack", json={"op_id": "late-1"})
    assert r.status_code == 409
    assert r.get_json()["outcome"] == "acknowledged_by_other"
    assert "Bob Durand" in r.get_json()["message"]


def test_an_ack_of_a_resolved_incident_is_reported_not_lost(client, world, browser) -> None:
    iid = opened(client, world)
    browser("bob").post(f"/api/v1/incidents/{iid}/resolve", json={"summary": "restarted nginx"})
    r = browser("alice").post(f"/api/v1/incidents/{iid}/ack", json={"op_id": "queued-while-offline"})
    assert r.status_code == 409 and r.get_json()["outcome"] == "already_resolved"
    replay = browser("alice").post(f"/api/v1/incidents/{iid}/ack", json={"op_id": "queued-while-offline"})
    assert replay.status_code == 409 and replay.get_json()["outcome"] == "already_resolved"


def test_an_operation_id_cannot_be_reused_for_another_incident(client, world, browser) -> None:
    a, b = opened(client, world), post_alert(client, world.keys["globex_generic"], dedup="other").get_json()["results"][0]["incident"]
    alice = browser("alice")
    alice.post(f"/api/v1/incidents/{a}/ack", json={"op_id": "same"})
    r = alice.post(f"/api/v1/incidents/{b}/ack", json={"op_id": "same"})
    assert r.status_code == 409 and "already used" in r.get_json()["message"]


def test_claiming_a_slot_acknowledges_and_a_second_claim_names_the_holder(client, world, browser, database) -> None:
    iid = opened(client, world)
    r = browser("alice").post(f"/api/v1/incidents/{iid}/claim", json={"slot": 1})
    assert r.status_code == 200
    assert r.get_json()["incident"]["status"] == "acknowledged"
    assert r.get_json()["incident"]["slots"]["1"]["name"] == "Alice Martin"
    r = browser("bob").post(f"/api/v1/incidents/{iid}/claim", json={"slot": 1})
    assert r.status_code == 409
    assert r.get_json()["holder"]["name"] == "Alice Martin"
    assert "Alice Martin" in r.get_json()["message"]
    r = browser("bob").post(f"/api/v1/incidents/{iid}/claim", json={"slot": 2})
    assert r.status_code == 200 and r.get_json()["incident"]["slots"]["2"]["name"] == "Bob Durand"
    r = browser("alice").post(f"/api/v1/incidents/{iid}/claim", json={"slot": 2})
    assert r.status_code == 409


def test_one_engineer_cannot_hold_both_slots(client, world, browser) -> None:
    iid = opened(client, world)
    alice = browser("alice")
    alice.post(f"/api/v1/incidents/{iid}/claim", json={"slot": 1})
    r = alice.post(f"/api/v1/incidents/{iid}/claim", json={"slot": 2})
    assert r.status_code == 409 and "slot #1" in r.get_json()["message"]


def test_a_single_engineer_incident_has_no_slots_to_claim(client, world, browser, database) -> None:
    iid = opened(client, world, "acme_generic")  # Acme: the 4-hour tier, one engineer
    r = browser("alice").post(f"/api/v1/incidents/{iid}/claim", json={"slot": 2})
    assert r.status_code == 409 and "no responder slots" in r.get_json()["message"]
    with database.transaction() as s:
        inc = s.get(Incident, iid)
        assert (inc.slot1_user_id, inc.slot2_user_id, inc.status) == (None, None, "triggered")


def test_a_bad_slot_is_a_clear_400(client, world, browser) -> None:
    iid = opened(client, world)
    for bad in (3, "x", None, [1]):
        r = browser("alice").post(f"/api/v1/incidents/{iid}/claim", json={"slot": bad})
        assert r.status_code == 400 and "slot must be 1 or 2" in r.get_json()["message"]


def test_escalating_by_hand_fires_the_next_step_now(client, world, browser, engine) -> None:
    from app.notify.recording import RecordingTransport

    iid = opened(client, world)
    engine.run_until_idle()
    r = browser("alice").post(f"/api/v1/incidents/{iid}/escalate")
    assert r.status_code == 200
    engine.run_until_idle()
    assert [m.user_name for m in RecordingTransport.sent] == ["Alice Martin", "Bob Durand"]


def test_an_acknowledged_engineer_can_still_call_for_help(client, world, browser, engine) -> None:
    from app.notify.recording import RecordingTransport

    iid = opened(client, world)
    engine.run_until_idle()
    alice = browser("alice")
    alice.post(f"/api/v1/incidents/{iid}/ack")
    assert alice.post(f"/api/v1/incidents/{iid}/escalate").status_code == 200
    engine.run_until_idle()
    assert [m.user_name for m in RecordingTransport.sent] == ["Alice Martin", "Bob Durand"]


def test_logging_an_action_adds_it_to_the_timeline(client, world, browser, database) -> None:
    iid = opened(client, world)
    r = browser("alice").post(f"/api/v1/incidents/{iid}/actions", json={"text": "restarted php-fpm on web-2"})
    assert r.status_code == 200
    assert timeline(database, iid, "action") == ["restarted php-fpm on web-2"]
    assert browser("alice").post(f"/api/v1/incidents/{iid}/actions", json={"text": "  "}).status_code == 400


def test_handing_over_to_the_client_team_stops_escalation(client, world, browser, engine, clock) -> None:
    from app.notify.recording import RecordingTransport

    iid = opened(client, world)
    engine.run_until_idle()
    r = browser("alice").post(f"/api/v1/incidents/{iid}/handover", json={"reason": "bug in their checkout code"})
    assert r.status_code == 200 and r.get_json()["incident"]["status"] == "handed_over"
    clock.advance(hours=2)
    engine.run_until_idle()
    # Only the first page: escalation stopped. (Acme has no hand-over contacts, so the engineer
    # and the managers are told nobody there was: see tests/notifications/test_handover_chain.py.)
    assert len([m for m in RecordingTransport.sent if m.purpose == "page"]) == 1
    assert browser("alice").post(f"/api/v1/incidents/{iid}/handover", json={}).status_code == 400


def test_resolving_needs_a_summary_and_is_recorded(client, world, browser, database) -> None:
    iid = opened(client, world)
    alice = browser("alice")
    r = alice.post(f"/api/v1/incidents/{iid}/resolve", json={})
    assert r.status_code == 400 and "summary is required" in r.get_json()["message"]
    r = alice.post(f"/api/v1/incidents/{iid}/resolve", json={"summary": "disk cleaned, log rotation fixed"})
    assert r.status_code == 200
    with database.transaction() as s:
        inc = s.get(Incident, iid)
        assert inc.status == "resolved" and inc.resolution_summary == "disk cleaned, log rotation fixed"
        assert inc.sla_kept is True


def test_every_change_publishes_an_event_in_id_order(client, world, browser, database) -> None:
    iid = opened(client, world)
    alice = browser("alice")
    alice.post(f"/api/v1/incidents/{iid}/claim", json={"slot": 1})
    alice.post(f"/api/v1/incidents/{iid}/actions", json={"text": "looking"})
    alice.post(f"/api/v1/incidents/{iid}/resolve", json={"summary": "fixed"})
    with database.transaction() as s:
        rows = s.execute(select(Event.id, Event.kind).where(Event.incident_id == iid).order_by(Event.id)).all()
    kinds = [k for _, k in rows]
    assert kinds == ["incident.triggered", "incident.acknowledged", "incident.claimed",
                     "incident.action_logged", "incident.resolved"]


def test_a_refused_action_writes_nothing(client, world, browser, database) -> None:
    iid = opened(client, world)
    with database.transaction() as s:
        before = s.execute(select(func.count()).select_from(Event)).scalar_one()
    browser("alice").post(f"/api/v1/incidents/{iid}/resolve", json={"summary": 42})
    with database.transaction() as s:
        assert s.execute(select(func.count()).select_from(Event)).scalar_one() == before


def test_the_html_forms_do_the_same_actions(client, world, browser, database) -> None:
    iid = opened(client, world)
    alice = browser("alice")
    page = alice.get(f"/incidents/{iid}")
    assert page.status_code == 200 and b"Acknowledge" in page.data
    r = alice.client.post(f"/incidents/{iid}/ack", data={"csrf_token": alice.csrf})
    assert r.status_code == 302
    assert alice.get(f"/incidents/{iid}").data.count(b"Acknowledged by Alice Martin") == 1
    r = alice.client.post(f"/incidents/{iid}/ack", data={})  # no CSRF token
    assert r.status_code == 400
