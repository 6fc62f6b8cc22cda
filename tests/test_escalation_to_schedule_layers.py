"""Escalation steps that target a schedule layer page whoever holds it when the step fires."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.models import TimelineEntry, User
from app.notify.recording import RecordingTransport
from app.schedules import overrides
from tests.helpers import add_schedule, post_alert


@pytest.fixture
def rota(world, database, clock):
    return add_schedule(database, world, clock.now())


def names() -> list[str]:
    return [m.user_name for m in RecordingTransport.sent if m.purpose == "page"]


def incident_of(r) -> int:
    assert r.status_code == 202, r.get_json()
    return r.get_json()["results"][0]["incident"]


def notes(database, iid: int) -> list[str]:
    with database.transaction() as s:
        return list(s.execute(select(TimelineEntry.message).where(TimelineEntry.incident_id == iid)
                              .order_by(TimelineEntry.id)).scalars())


def test_the_dual_on_call_tier_pages_the_primary_then_the_secondary_on_call(client, rota, engine, clock) -> None:
    post_alert(client, rota.keys["globex_generic"])
    engine.run_until_idle()
    assert names() == ["Alice Martin"]
    clock.advance(minutes=30)
    engine.run_until_idle()
    assert names() == ["Alice Martin", "Bob Durand"]
    clock.advance(minutes=30)
    engine.run_until_idle()
    assert names() == ["Alice Martin", "Bob Durand", "Maya Manager"]


def test_the_layer_is_resolved_when_the_step_fires_not_when_the_alert_came_in(client, rota, engine, clock) -> None:
    # 07:45 UTC: Alice holds Primary until the 09:00 Paris hand-off (08:00 UTC), Bob after it.
    clock.set(datetime(2026, 3, 2, 7, 45, tzinfo=UTC))
    post_alert(client, rota.keys["acme_generic"])
    engine.run_until_idle()
    clock.advance(minutes=30)  # M+30 falls after the hand-off
    engine.run_until_idle()
    assert names() == ["Alice Martin", "Bob Durand"]


def test_an_override_made_after_the_alert_is_paged_at_the_next_step(client, rota, engine, clock, database) -> None:
    post_alert(client, rota.keys["acme_generic"])
    engine.run_until_idle()
    with database.transaction() as s:
        overrides.create(s, s.get(User, rota.maya), rota.primary, rota.carol, clock.now(),
                         datetime(2026, 3, 2, 6, 0, tzinfo=UTC), clock.now(), "Alice is ill")
    clock.advance(minutes=30)
    engine.run_until_idle()
    assert names() == ["Alice Martin", "Carol Petit"]


def test_a_layer_with_nobody_on_call_goes_straight_to_the_next_step_and_says_so(
    client, rota, engine, clock, database
) -> None:
    with database.transaction() as s:  # tonight Primary is an open slot: nobody is on call
        overrides.create(s, s.get(User, rota.maya), rota.primary, None, clock.now(),
                         datetime(2026, 3, 2, 8, 0, tzinfo=UTC), clock.now())
    iid = incident_of(post_alert(client, rota.keys["globex_generic"]))
    engine.run_until_idle()
    # Step 1 (Primary) is skipped at once and step 2 (Secondary: Bob) fires in the same minute.
    assert names() == ["Bob Durand"]
    assert "Step 1 (M+0): Primary (Pool A on-call): nobody on call. Going straight to the next step." in notes(database, iid)
    clock.advance(minutes=30)
    engine.run_until_idle()
    assert names() == ["Bob Durand", "Maya Manager"]


def test_a_deactivated_holder_counts_as_nobody_on_call(client, rota, engine, database) -> None:
    with database.transaction() as s:
        s.get(User, rota.alice).active = False
    iid = incident_of(post_alert(client, rota.keys["acme_generic"]))
    engine.run_until_idle()
    assert names() == ["Theo Lead"]  # both Primary steps skipped: the lead is paged at once
    assert any("Alice Martin is deactivated" in n and "nobody on call" in n for n in notes(database, iid))
