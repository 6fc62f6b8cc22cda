"""The engine looks at heartbeat monitors every second. Most seconds none is due: it finds that
with a read, and takes a write transaction (on SQLite, the one write lock) only when one is."""

from __future__ import annotations

from app.engine import jobs
from tests.helpers import commits_during
from tests.test_a_late_heartbeat_opens_one_incident_and_resumed_pings_resolve_it import (
    incidents_of,
    make_monitor,
)


def test_the_watch_commits_nothing_until_a_monitor_falls_due_and_then_opens_its_incident(
        client, world, engine, clock, database) -> None:
    mid, token = make_monitor(database, world, clock.now())
    assert client.get(f"/hb/{token}").status_code == 200
    [watch] = [j for j in engine.jobs if j.name == "heartbeats_watched"]

    def look() -> dict[str, int]:
        watch.last = None  # due by its cadence: the question is whether a monitor is
        return jobs.run_due([watch], clock.now(), engine.transact, engine._look)

    assert commits_during(database, look) == ({"heartbeats_watched": 0}, 0)
    clock.advance(minutes=70)  # the period and the grace: late
    assert commits_during(database, look) == ({"heartbeats_watched": 1}, 1)
    assert [i.source for i in incidents_of(database, mid)] == ["heartbeat"]
