"""An engine killed with SIGKILL in the middle of sending: nothing is lost, the pages it had
claimed but not sent go out within seconds from another engine (its heartbeat tells that it is
dead; the 5-minute lease is only the backstop), and only the sends that were on the wire at that
instant can reach the provider twice: at most one per sending thread.

Real `vigil engine` processes on the system clock, against a local Twilio-compatible provider
on loopback that answers slowly (so many sends are in flight) and counts what it received.
"""

from __future__ import annotations

import signal
import uuid
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import delete, func, select

from app import incidents
from app.engine.heartbeat import DEAD_AFTER
from app.intake.base import IntakeEvent
from app.intake.keys import lookup
from app.models import ContactMethod, EngineHeartbeat, Notification, User
from tests.fakes.twilio import FakeTwilio
from tests.helpers import build_world, start_engine, wait_until

WORKERS = 4  # sending threads of the killed engine: the bound on what may go out twice
PAGES = 60


def test_an_engine_killed_mid_send_loses_no_page_and_sends_again_at_most_one_per_sending_thread(
    database, db_url, tmp_path
) -> None:
    now = datetime.now(UTC)
    world = build_world(database, now)
    with database.transaction() as s:  # Alice (M+0 of the 1-hour tier) has one phone: SMS
        alice = s.get(User, world.alice)
        s.execute(delete(ContactMethod).where(ContactMethod.user_id == alice.id))
        s.add(ContactMethod(user_id=alice.id, kind="sms", address="+33612345678", created_at=now))
    with FakeTwilio() as twilio:
        twilio.respond_with(None, for_="messages", delay=0.25)  # every SMS takes a quarter second
        settings = {
            "VIGIL_TWILIO_BASE_URL": twilio.url, "VIGIL_TWILIO_ACCOUNT_SID": twilio.account_sid,
            "VIGIL_TWILIO_AUTH_TOKEN": twilio.auth_token, "VIGIL_TWILIO_FROM": "+15005550006",
            "VIGIL_ENGINE_WORKERS": str(WORKERS),
            "VIGIL_PAGE_BUNDLE_AT": "0",  # a page per incident: this test counts them (bundles: test_a_storm_pages...)
        }
        with database.transaction() as s:
            target = lookup(s, world.keys["globex_generic"])
            for _ in range(PAGES):
                key = uuid.uuid4().hex
                incidents.trigger(s, target, IntakeEvent("trigger", "Disk full", key), key, datetime.now(UTC))
        first = start_engine(db_url, tmp_path, "first", **settings)
        try:
            wait_until(lambda: len(twilio.messages) >= PAGES // 4, 60, "the first engine to be well under way")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        received_at_kill = len(twilio.messages)
        assert received_at_kill < PAGES, "the first engine finished before it was killed"

        with database.transaction() as s:  # its silence of 10 s, passed at once (see below)
            for row in s.execute(select(EngineHeartbeat)).scalars():
                row.beat_at -= DEAD_AFTER
        second = start_engine(db_url, tmp_path, "second", **settings)
        try:
            def all_sent() -> bool:
                with database.transaction() as s:
                    return s.execute(select(func.count()).select_from(Notification).where(
                        Notification.status == "sent")).scalar_one() == PAGES

            # Seconds, not the 5-minute lease: the dead engine's claims go back when its
            # heartbeat has been silent for 10 s (made to pass above by aging its last beat; the
            # killed engine cannot beat again), then out at once.
            wait_until(all_sent, 90, "every page to be sent")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0, (tmp_path / "second.log").read_text()

    with database.transaction() as s:
        ids = set(s.execute(select(Notification.id)).scalars())
    assert len(ids) == PAGES
    # Every page reached the provider under its own key ("vigil-<site>-n<notification id>")...
    received = Counter(int(m.idempotency_key.rsplit("-n", 1)[1]) for m in twilio.messages)
    assert set(received) == ids
    # ...and only those on the wire when the engine died could reach it twice.
    doubled = sum(n - 1 for n in received.values())
    assert doubled <= WORKERS, f"{doubled} pages reached the provider twice (killed at {received_at_kill})"
