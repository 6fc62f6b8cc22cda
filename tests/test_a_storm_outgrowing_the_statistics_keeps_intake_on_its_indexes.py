"""PostgreSQL plans with the statistics of its last ANALYZE: before a storm, few incidents are open.
A storm opens thousands in seconds, before autovacuum looks again. Intake's statement for a group
of alerts must then still find the group's incidents by their keys: planned for "few open
incidents" as joins, it read every open incident for every group (20,000 open: 20,000 rows each).
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app import incidents
from app.intake.base import IntakeEvent
from app.intake.keys import lookup
from tests.helpers import BACKEND, rows_read

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="PostgreSQL's planner: the PostgreSQL pass (VIGIL_TEST_DB=postgres)")

_COPIES = """
INSERT INTO incidents (client_id, service_id, policy_id, summary, details, source, severity, urgency, dedup_key,
    status, alert_count, created_at, last_alert_at, response_deadline, next_escalation_at, esc_seq, esc_step, esc_loop)
SELECT client_id, service_id, policy_id, summary, details, source, severity, urgency, CAST(:prefix AS TEXT) || n, CAST(:status AS TEXT), 1,
    created_at, last_alert_at, response_deadline, CASE WHEN CAST(:status AS TEXT) = 'triggered' THEN created_at END, 0, 0, 0
FROM incidents, generate_series(1, :n) AS n WHERE incidents.id = :id
"""


def storm(world, database, clock) -> object:
    """A database of 500 resolved incidents, analysed; then 3,000 opened by a storm."""
    with database.session() as s:
        target = lookup(s, world.keys["acme_generic"])
    now = clock.now()
    with database.transaction() as s:
        first = incidents.ingest(s, target, IntakeEvent("trigger", "Disk full", "first"), {}, now)
    with database.transaction() as s:
        s.execute(text(_COPIES), {"prefix": "past-", "status": "resolved", "n": 500, "id": first.incident_id})
        s.execute(text("UPDATE incidents SET status = 'resolved', next_escalation_at = NULL WHERE id = :id"),
                  {"id": first.incident_id})
    with database.engine.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE incidents"))
    with database.transaction() as s:
        s.execute(text(_COPIES), {"prefix": "open-", "status": "triggered", "n": 3000, "id": first.incident_id})
    return target


def test_a_group_of_alerts_finds_its_open_incidents_by_key_after_a_storm_opened_thousands(world, database, clock) -> None:
    target = storm(world, database, clock)
    now = clock.now()
    # Five repeats of alerts the storm opened, five new ones: one group, one statement.
    keys = [f"open-{n}" for n in (7, 700, 1400, 2100, 2800)] + [f"new-{n}" for n in range(5)]
    steps = [step for key in keys
             for _, step in incidents.ingest_steps(target, [IntakeEvent("trigger", "Disk full", key)], {}, now)]
    with database.transaction() as s:
        results = type(steps[0]).run_many(s, steps)
        seq_read, index_read = rows_read(s.connection(), "incidents")
    assert [r.outcome for r in results] == ["attached"] * 5 + ["created"] * 5
    # Each key is one probe of the open-dedup index, and the incidents moved are read by id: tens
    # of rows, not the 3,000 open ones.
    assert seq_read == 0
    assert index_read < 100
    with database.session() as s:
        counts = dict(s.execute(text("SELECT dedup_key, alert_count FROM incidents WHERE dedup_key LIKE 'open-%' "
                                     "AND alert_count > 1")).all())
    assert counts == {k: 2 for k in keys[:5]}
