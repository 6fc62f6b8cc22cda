"""Managers are warned ahead of time about gaps: once per gap, whatever restarts or engines."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.engine.loop import Engine
from app.models import Event, ScheduleWarning, User
from app.notify.recording import RecordingTransport
from app.schedules import overrides
from tests.helpers import add_schedule

NIGHT = (datetime(2026, 3, 5, 17, 0, tzinfo=UTC), datetime(2026, 3, 6, 7, 0, tzinfo=UTC))


@pytest.fixture
def rota(world, database, clock):
    w = add_schedule(database, world, clock.now())
    with database.transaction() as s:  # Thursday night of Secondary is left open
        overrides.create(s, s.get(User, w.maya), w.secondary, None, *NIGHT, clock.now())
    return w


def warnings(database) -> list[dict]:
    with database.transaction() as s:
        return [e.data for e in s.execute(select(Event).where(Event.kind == "schedule.gap").order_by(Event.id)).scalars()]


def test_the_engine_warns_once_about_an_unclaimed_open_slot(rota, engine, database, clock) -> None:
    engine.run_until_idle()
    (gap,) = warnings(database)
    assert gap["message"] == ("Nobody is on call for Secondary (Pool A on-call) from Thu 05 Mar 18:00 to "
                              "Fri 06 Mar 08:00 (Europe/Paris): an unclaimed open slot.")
    assert (gap["start"], gap["layer"]["id"]) == ("2026-03-05T17:00:00+00:00", rota.secondary)
    clock.advance(minutes=10)
    engine.run_until_idle()
    assert len(warnings(database)) == 1


def test_a_restarted_or_second_engine_does_not_warn_again(rota, engine, database, clock, app) -> None:
    engine.run_until_idle()
    again = Engine(database, clock, app.config, name="engine-2", transports={"recording": RecordingTransport})
    try:
        again.run_until_idle()
    finally:
        again.close()
    assert len(warnings(database)) == 1
    with database.transaction() as s:
        assert len(s.execute(select(ScheduleWarning)).scalars().all()) == 1


def test_a_gap_beyond_the_look_ahead_is_warned_when_it_comes_within_it(world, database, clock, engine) -> None:
    w = add_schedule(database, world, clock.now())
    with database.transaction() as s:  # three weeks away; the engine looks 14 days ahead
        overrides.create(s, s.get(User, w.maya), w.primary, None, datetime(2026, 3, 24, tzinfo=UTC),
                         datetime(2026, 3, 25, tzinfo=UTC), clock.now())
    engine.run_until_idle()
    assert warnings(database) == []
    clock.set(datetime(2026, 3, 11, tzinfo=UTC))
    engine.run_until_idle()
    assert [g["start"] for g in warnings(database)] == ["2026-03-24T00:00:00+00:00"]


def test_a_deactivated_holder_is_a_gap(world, database, clock, engine) -> None:
    w = add_schedule(database, world, clock.now())
    with database.transaction() as s:
        s.get(User, w.carol).active = False  # Carol holds Secondary from 09:00, then Primary a week on
    engine.run_until_idle()
    found = warnings(database)
    assert [(g["kind"], g["layer"]["name"], g["start"]) for g in found] == [
        ("unreachable", "Secondary", "2026-03-02T08:00:00+00:00"),
        ("unreachable", "Primary", "2026-03-09T08:00:00+00:00")]
    assert "Carol Petit holds Secondary (Pool A on-call)" in found[0]["message"]


def test_managers_see_the_coming_gaps_on_the_schedules_page(rota, browser) -> None:
    page = browser("maya").get("/schedules").get_data(as_text=True)
    assert "Gaps in the next 4 weeks" in page and "unclaimed open slot" in page
    browser("theo").post("/api/v1/open-slots/claim", json={"layer_id": rota.secondary,
                                                          "start": "2026-03-05T17:00:00+00:00"})
    assert "No gaps" in browser("maya").get("/schedules").get_data(as_text=True)


def test_managers_get_the_warning_on_the_event_feed_and_engineers_do_not(rota, engine, browser) -> None:
    engine.run_until_idle()
    kinds = [e["kind"] for e in browser("maya").get("/api/v1/events?since=0").get_json()["events"]]
    assert "schedule.gap" in kinds
    kinds = [e["kind"] for e in browser("alice").get("/api/v1/events?since=0").get_json()["events"]]
    assert "schedule.gap" not in kinds


def test_the_warning_reaches_managers_phones_once_and_never_by_sms_or_call(rota, engine, database, clock) -> None:
    from app.models import ContactMethod

    with database.transaction() as s:  # Maya can also be reached by SMS: a gap must not use it
        s.add(ContactMethod(user_id=rota.maya, kind="sms", address="+33600000009", created_at=clock.now()))
    RecordingTransport.clear()
    engine.run_until_idle()
    clock.advance(minutes=10)
    engine.run_until_idle()
    got = [(m.user_name, m.purpose, m.kind) for m in RecordingTransport.sent]
    assert sorted(got) == [("Ada Admin", "warning", "recording"), ("Maya Manager", "warning", "recording")]
    assert all("an unclaimed open slot" in m.body for m in RecordingTransport.sent)
    from app.models import Notification

    with database.transaction() as s:
        kinds = s.execute(select(Notification.kind).where(Notification.purpose == "warning")).scalars().all()
    assert "sms" not in kinds and "voice" not in kinds
