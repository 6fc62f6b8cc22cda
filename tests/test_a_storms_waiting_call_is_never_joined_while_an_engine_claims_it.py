"""A storm's call waits for its pace (incidents/firing._paced) and later looks add their
incidents to it. On PostgreSQL two engines meet there: one claiming the waiting call to send it
(its clock a little ahead), one firing a look that would add to it. The look locks the waiting
page and re-reads it: claimed meanwhile, it is not joined (its list was read when it was
claimed), and the look's incidents get a call of their own, a pace after it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app import incidents
from app.db import Database
from app.intake.base import IntakeEvent
from app.intake.keys import lookup
from app.models import Notification, PageIncident
from tests.helpers import build_world, requires_postgres
from tests.notifications.reach import reach

PACE = timedelta(seconds=60)


def look(db: Database, key: str, names: list[str], now: datetime) -> list[int]:
    """Open these incidents and fire their first step, as one look of the engine would."""
    with db.transaction() as s:
        target = lookup(s, key)
        ids = [incidents.trigger(s, target, IntakeEvent("trigger", name, name), name, now)[0] for name in names]
    with db.transaction() as s:
        incidents.fire_due(s, ids, now, engine="engine-a", bundle_at=3, pace=PACE)
    return ids


def calls(db: Database) -> list[tuple[int, str, datetime, list[int]]]:
    with db.transaction() as s:
        pages = s.execute(select(Notification).where(Notification.kind == "voice").order_by(Notification.id)).scalars()
        return [(n.id, n.status, n.not_before, list(s.execute(
            select(PageIncident.incident_id).where(PageIncident.notification_id == n.id)
            .order_by(PageIncident.incident_id)).scalars())) for n in pages]


@requires_postgres
def test_a_look_never_adds_incidents_to_a_call_another_engine_is_claiming(postgres) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0)
    world = build_world(postgres, t0)
    reach(postgres, world.alice, phone="+33612345678")
    key = world.keys["acme_generic"]
    first = look(postgres, key, ["a1", "a2", "a3"], t0)  # rings now
    second = look(postgres, key, ["b1", "b2", "b3"], t0 + timedelta(seconds=5))  # waits a pace after
    [(_, _, rang_at, listed_first), (waiting, status, due, listed_second)] = calls(postgres)
    assert (listed_first, rang_at) == (first, t0)
    assert (status, due, listed_second) == ("pending", t0 + PACE, second)

    # Another engine claims the waiting call (its clock ahead); before it commits, a look comes.
    claimer = postgres.engine.connect()
    tx = claimer.begin()
    claimer.execute(update(Notification).where(Notification.id == waiting)
                    .values(status="sending", claimed_by="engine-b", lease_until=t0 + timedelta(minutes=5)))
    third: list[int] = []
    done = threading.Event()

    def third_look() -> None:
        third.extend(look(postgres, key, ["c1", "c2", "c3"], t0 + timedelta(seconds=10)))
        done.set()

    runner = threading.Thread(target=third_look)
    runner.start()
    time.sleep(0.5)
    assert not done.is_set()  # the look waits for the claim: it locks the page it would join
    tx.commit()
    claimer.close()
    runner.join(10)
    assert done.is_set()

    pages = calls(postgres)
    assert pages[1][3] == second  # the claimed call kept the list it was claimed with
    [(_, status3, due3, listed_third)] = pages[2:]
    assert (status3, due3, listed_third) == ("pending", t0 + 2 * PACE, third)  # a pace after the claimed one
