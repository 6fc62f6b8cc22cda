"""A shift starts on the lock screen, end to end: the engine finds Carol's shift start, sends her
phone a real VAPID-signed, encrypted hand-off push, the service worker shows it with "I'm ready",
and tapping that action confirms the shift on the server without opening the app."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.models import Pool, ShiftStart, User
from app.schedules import store as schedule_store
from tests.e2e.conftest import (
    controlled,
    deliver_push,
    eventually,
    login,
    service_worker,
    subscribe_phone,
    tap,
)


def _carols_shift_starting_now(server) -> None:
    """A schedule of Pool A whose only layer Carol holds from a minute ago (daily, in UTC)."""
    start = (datetime.now(UTC) - timedelta(minutes=1)).replace(second=0, microsecond=0)
    with server.db.transaction() as s:
        admin = s.get(User, server.world.admin)
        pool = s.execute(select(Pool).where(Pool.name == "Pool A")).scalar_one()
        sched = schedule_store.save_schedule(s, admin, None, name=f"Readiness {time.time()}", pool_id=pool.id,
                                             timezone="UTC", coverage=None, now=start)
        spec = schedule_store.RotationSpec.parse({
            "members": [server.world.carol], "length": "daily", "handoff_time": start.strftime("%H:%M"),
            "start_date": start.date().isoformat(), "timezone": "UTC"})
        schedule_store.save_layer(s, admin, sched.id, None, name="Readiness", rotation=spec, now=start)


def test_im_ready_on_the_hand_off_notification_confirms_the_shift_without_opening_the_app(
        new_phone, server, push_service) -> None:
    ctx = new_phone()
    page = ctx.new_page()
    login(page, "carol")
    controlled(page)
    subscribe_phone(page, push_service)
    _carols_shift_starting_now(server)

    def handoff_push():
        return next((r.json() for r in push_service.received if r.json().get("kind") == "handoff"), None)

    payload = eventually(handoff_push, 30, "the engine's hand-off push for Carol's shift")
    assert payload["title"].startswith("Your shift starts: Readiness") and payload["ready_token"]
    page.close()  # nothing of Vigil is open: the lock screen alone
    shown = deliver_push(ctx, server, payload)
    assert shown["actions"] == ["ready"] and shown["sticky"]
    pages_before = len(ctx.pages)

    outcome = tap(service_worker(ctx), payload["tag"], "ready")
    assert outcome["status"] == "sent", outcome
    assert len(ctx.pages) == pages_before  # no window was opened
    with server.db.transaction() as s:
        row = s.execute(select(ShiftStart).where(ShiftStart.user_id == server.world.carol)
                        .order_by(ShiftStart.id.desc())).scalars().first()
        assert row is not None and row.ready_at is not None and row.ready_via == "link"
