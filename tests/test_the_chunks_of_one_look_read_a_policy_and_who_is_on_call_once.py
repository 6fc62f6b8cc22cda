"""An alert storm's look finds hundreds of steps due at once; on PostgreSQL its chunks are fired
at the same moment in several threads. They all escalate by the same policy to the same people:
the policy, who holds its layers and how to reach them are read once for the look, by the first
chunk that needs them, while the others wait for that answer instead of asking too."""

from __future__ import annotations

from sqlalchemy import insert

from app.engine.loop import BATCH, CHUNK
from app.models import Incident
from tests.helpers import incident_like, statements_during

# What a step's firing reads about whom to page: the policy and its steps, who holds a layer, the
# people with their rules and contact methods.
CONFIG = {"escalation_policies", "escalation_steps", "schedule_layers", "users", "notification_rules",
          "contact_methods"}


def test_a_look_of_several_chunks_reads_the_policy_and_the_layer_once(world, database, clock, engine) -> None:
    now = clock.now()
    _, row = incident_like(database, world.keys["acme_generic"], now)
    with database.transaction() as s:
        s.execute(insert(Incident), [dict(row, dedup_key=f"storm-{i}", next_escalation_at=now)
                                     for i in range(BATCH - 1)])
    (fired, _), statements = statements_during(database, lambda: engine._fire(now))
    engine.drain()
    # the statements that read these tables
    reads = [sql for sql in statements if sql.startswith("SELECT") and sql.split("FROM", 1)[1].split()[0] in CONFIG]
    assert fired == BATCH > CHUNK  # several chunks: at once, in threads, on PostgreSQL
    assert reads and len(reads) == len(set(reads)), reads  # each question asked once
