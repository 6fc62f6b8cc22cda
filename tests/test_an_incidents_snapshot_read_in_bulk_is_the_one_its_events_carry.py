"""The engine records a batch of deliveries without loading their incidents: it reads their
snapshots in one statement (incidents.snapshots). What it reads is exactly the snapshot built
from the loaded incident, for a fresh one, a dual one with both slots taken, and an acknowledged one."""

from __future__ import annotations

from typing import Any

from app import incidents
from app.incidents import Actor
from app.intake.base import IntakeEvent
from app.intake.keys import lookup
from app.models import Incident, User


def test_the_bulk_snapshot_equals_the_loaded_incidents_snapshot(world: Any, database: Any, clock: Any) -> None:
    ids = []
    with database.transaction() as s:
        for key, dedup in (("acme_generic", "a"), ("globex_generic", "b"), ("globex_generic", "c")):
            iid, _ = incidents.trigger(s, lookup(s, world.keys[key]), IntakeEvent("trigger", f"Down {dedup}", dedup),
                                       dedup, clock.now())
            ids.append(iid)
    clock.advance(minutes=3)
    with database.transaction() as s:
        alice, bob = s.get(User, world.ids["alice"]), s.get(User, world.ids["bob"])
        assert incidents.claim_slot(s, ids[1], Actor.of(alice), 1, clock.now()).status == 200
        assert incidents.claim_slot(s, ids[1], Actor.of(bob), 2, clock.now()).status == 200
        assert incidents.acknowledge(s, ids[2], Actor.of(bob), clock.now()).status == 200
    with database.session() as s:
        bulk = incidents.snapshots(s, set(ids))
        loaded = {i: incidents.snapshot(s.get(Incident, i)) for i in ids}
    assert bulk == loaded
    assert bulk[ids[1]]["slots"]["2"]["name"] and bulk[ids[2]]["acknowledged_by"]  # the joins did find names
    assert incidents.snapshots(database.session(), set()) == {}
