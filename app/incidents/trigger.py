"""Alerts into incidents: an alert opens an incident, or counts itself into the open one with its
key, or acknowledges or resolves it (the intake fast path).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from .. import bulk
from ..batching import GroupCommit, Step
from ..intake.base import IntakeEvent
from ..intake.keys import IntakeTarget, touch
from ..live import events
from ..models import Alert, Incident, Status
from ..schedules.client_coverage import coverage_decision  # coverage hours belong to schedules
from .actions import acknowledge, resolve
from .record import Actor, note_id, snapshot_of

# The hot path: an alert storm can bring hundreds of alerts a second. So intake works on an
# IntakeTarget (cached facts about the key's service and client) and writes with plain SQL on
# the session's connection, no ORM unit of work. One statement attaches the alert to the open
# incident with its key or opens one; its timeline entry, raw alert and event are then queued for
# the commit (events.append_at_commit): one more statement. Concurrent requests' alerts share one
# transaction (ingest_steps, for batching.GroupCommit): BEGIN, COMMIT and the commit-time work
# are paid once per batch, not once per alert.

_T = Incident.__table__
# Built once: constructing a statement with literal values costs more than running it.
_FIND_OPEN = select(_T.c.id).where(
    _T.c.service_id == bindparam("b_service"), _T.c.dedup_key == bindparam("b_dedup"),
    _T.c.status != Status.resolved.value,
)


# An alert with the key of an open incident counts itself in; otherwise it opens one, in one
# statement either way, returning (id, alert_count): a new incident starts at 1, a repeat makes
# it at least 2 (a row bringing n alerts at once, _attach_or_open_many: n, or more than n).
# Incident numbers (what engineers text back) must not skip by repeats.
# SQLite: an upsert (_upsert_many_sqlite, one row here), the partial unique index on open
# (service, dedup key) the arbiter. (SQLite numbers a row max(id) + 1 when it is stored, so a
# repeat uses up nothing.)
# PostgreSQL would draw a number from the sequence for every INSERT that meets a conflict (an
# upsert would skip a number per repeat). So an UPDATE goes first, as a CTE, and the INSERT's row
# exists only when the UPDATE found nothing. No row back: an alert with the same key won the
# INSERT a moment ago. Written as text once: SQLAlchemy would compile a DML CTE afresh on every
# call.
_NEW_COLUMNS = ("client_id", "service_id", "policy_id", "summary", "details", "source", "severity", "urgency",
                "dedup_key", "status", "alert_count", "created_at", "last_alert_at", "response_deadline",
                "held_until", "next_escalation_at", "esc_seq", "esc_step", "esc_loop")
_ATTACH_OR_OPEN_PG = text(f"""
WITH attached AS (
    UPDATE incidents SET alert_count = alert_count + 1, last_alert_at = :n_last_alert_at
    WHERE service_id = :n_service_id AND dedup_key = :n_dedup_key AND status != 'resolved'
    RETURNING id, alert_count
), opened AS (
    INSERT INTO incidents ({", ".join(_NEW_COLUMNS)})
    SELECT {", ".join(":n_" + c for c in _NEW_COLUMNS)} WHERE NOT EXISTS (SELECT 1 FROM attached)
    ON CONFLICT (service_id, dedup_key) WHERE status != 'resolved' DO NOTHING
    RETURNING id, alert_count
)
SELECT id, alert_count FROM attached UNION ALL SELECT id, alert_count FROM opened
""").bindparams(*[bindparam(f"n_{c}", type_=_T.c[c].type) for c in _NEW_COLUMNS])
_ALERTS = Alert.__table__

# The same for a group's keys at once (_attach_or_open_many), on PostgreSQL one statement: the
# open incidents with the keys are locked in the order given (each key looked up and locked in
# turn, v's rows in order), counted in, and the rest are opened in that order too. SQLite: the
# upsert with a row for each key (_upsert_many_sqlite), adding the alerts each row brings.
# Each key is one probe of the open-dedup index (LATERAL; OFFSET 0 keeps the planner from making
# it a join again), and the incidents counted in are read by their ids as an array (the primary
# key). As joins, planned with statistics from before a storm (few open incidents), they read
# every open incident and hashed them for each group: 20,000 open, 20,000 rows a group.
_ATTACH_OR_OPEN_MANY_PG = text(f"""
WITH v AS (
    SELECT * FROM json_to_recordset(CAST(:rows AS JSON)) AS v(ord integer, {{record}})
), locked AS (
    SELECT i.id, v.ord FROM v CROSS JOIN LATERAL (
        SELECT i.id FROM incidents i
        WHERE i.service_id = v.service_id AND i.dedup_key = v.dedup_key AND i.status != 'resolved' OFFSET 0
    ) i ORDER BY v.ord FOR UPDATE OF i
), attached AS (
    UPDATE incidents i SET alert_count = i.alert_count + v.alert_count, last_alert_at = v.last_alert_at
    FROM locked JOIN v ON v.ord = locked.ord WHERE i.id = locked.id AND i.id = ANY(ARRAY(SELECT id FROM locked))
    RETURNING v.ord, i.id, i.alert_count
), opened AS (
    INSERT INTO incidents ({", ".join(_NEW_COLUMNS)})
    SELECT {", ".join(_NEW_COLUMNS)} FROM v WHERE v.ord NOT IN (SELECT ord FROM locked) ORDER BY v.ord
    ON CONFLICT (service_id, dedup_key) WHERE status != 'resolved' DO NOTHING
    RETURNING id, alert_count, service_id, dedup_key
)
SELECT ord, id, alert_count, false AS created FROM attached
UNION ALL
SELECT v.ord, opened.id, opened.alert_count, true FROM opened
JOIN v ON v.service_id = opened.service_id AND v.dedup_key = opened.dedup_key
""".replace("{record}", bulk.record(_T, _NEW_COLUMNS)))


@dataclass
class IngestResult:
    outcome: str  # created | attached | acknowledged | resolved | no_open_incident | ...
    dedup_key: str
    incident_id: int | None


@dataclass(frozen=True)
class _AlertStep:
    """One alert as a group-commit step (batching.GroupCommit)."""

    target: IntakeTarget
    ev: IntakeEvent
    payload: Any
    now: datetime

    def __call__(self, session: Session) -> IngestResult:
        return ingest(session, self.target, self.ev, self.payload, self.now)

    @staticmethod
    def run_many(session: Session, steps: list[_AlertStep]) -> list[IngestResult]:
        """A group's alerts, in lock-key order (arrival order within a key). The triggers are
        attached or opened together, one statement for a run of keys (_trigger_many), each key's
        repeats counted into one timeline line and one event with every raw payload kept (an
        alert row each); a key that is also acknowledged or resolved in the group keeps its
        order, one step at a time (_one_key)."""
        out: list[IngestResult] = []
        batch: list[tuple[str, list[_AlertStep]]] = []
        for run in _by_key(steps):
            if all(s.ev.action == "trigger" for s in run):
                key = run[0].ev.dedup_key
                # Without a key of its own, each alert is its own new incident.
                batch += [(key, run)] if key else [(uuid.uuid4().hex, [s]) for s in run]
            else:
                out += _trigger_many(session, batch)
                batch = []
                out += _one_key(session, run)
        return out + _trigger_many(session, batch)


def _by_key(steps: list[_AlertStep]) -> list[list[_AlertStep]]:
    runs: list[list[_AlertStep]] = []
    for s in steps:
        if runs and _key(runs[-1][0]) == _key(s):
            runs[-1].append(s)
        else:
            runs.append([s])
    return runs


def _key(s: _AlertStep) -> tuple[int, str]:
    return s.target.service_id, s.ev.dedup_key or ""


def _one_key(session: Session, steps: list[_AlertStep]) -> list[IngestResult]:
    """One key's alerts, in arrival order: a run of triggers with an explicit key is written as
    the first of them, then the rest at once (_repeats)."""
    out: list[IngestResult] = []
    at = 0
    while at < len(steps):
        first, end = steps[at], at + 1
        if first.ev.action == "trigger" and first.ev.dedup_key:
            while end < len(steps) and steps[end].ev.action == "trigger":
                end += 1
        if end - at == 1:
            out.append(first(session))
        else:
            out += _repeats(session, steps[at:end])
        at = end
    return out


def ingest_steps(target: IntakeTarget, parsed: list[IntakeEvent], payload: Any, now: datetime) -> list[Step]:
    """A request's alerts as group-commit steps (batching.GroupCommit), each keyed by the incident
    it locks, (service, dedup key): concurrent requests' alerts then share a transaction, and a
    group's repeats of one alert are written together (_AlertStep.run_many)."""
    return [((target.service_id, ev.dedup_key or ""), _AlertStep(target, ev, payload, now)) for ev in parsed]


_COUNT_REPEATS = (
    update(_T).where(_T.c.id == bindparam("b_id"))
    .values(alert_count=_T.c.alert_count + bindparam("b_repeats"), last_alert_at=bindparam("b_at"))
    .returning(_T.c.alert_count)
)


def _repeats(session: Session, steps: list[_AlertStep]) -> list[IngestResult]:
    """Triggers of one alert key, in arrival order: the first opens the incident or attaches to
    the open one (and locks it), the rest are counted in with one statement; the repeats get one
    timeline line and one event between them."""
    first, rest = steps[0], steps[1:]
    target, dedup = first.target, first.ev.dedup_key or ""
    incident_id, created = trigger(session, target, first.ev, dedup, first.now, say_repeat=False)
    last = max(s.now for s in steps)
    count = session.connection().execute(
        _COUNT_REPEATS, {"b_id": incident_id, "b_repeats": len(rest), "b_at": last}).scalar_one()
    repeats = len(rest) + (0 if created else 1)
    _said_repeat(session, target, incident_id, count, last, repeats)
    out = []
    for s, outcome in zip(steps, ["created" if created else "attached"] + ["attached"] * len(rest), strict=True):
        _keep_alert(session, s.target, s.ev, dedup, s.payload, s.now, outcome, incident_id)
        out.append(IngestResult(outcome, dedup, incident_id))
    return out


def _trigger_many(session: Session, batch: list[tuple[str, list[_AlertStep]]]) -> list[IngestResult]:
    """Triggers of distinct keys, each key's in arrival order: each key's open incident counts
    them in, or one is opened, all in one statement (_attach_or_open_many); then, as one alert
    at a time would have it, a new incident's "triggered" line and event, each key's repeats in
    one line and one event, and every alert's raw payload."""
    if not batch:
        return []
    if len(batch) == 1 and len(batch[0][1]) == 1:  # alone: the one-alert statement
        dedup, [step] = batch[0]
        return [ingest(session, step.target, replace(step.ev, dedup_key=dedup), step.payload, step.now)]
    rows, decisions = [], []
    for dedup, steps in batch:
        first = steps[0]
        values, decision = _new_incident(first.target, first.ev, dedup, first.now)
        values["alert_count"], values["last_alert_at"] = len(steps), max(s.now for s in steps)
        rows.append(values)
        decisions.append(decision)
    found = _attach_or_open_many(session, rows)
    out: list[IngestResult] = []
    for (dedup, steps), values, decision, got in zip(batch, rows, decisions, found, strict=True):
        first, last = steps[0], values["last_alert_at"]
        if got is None:  # lost a race for the key (PostgreSQL): one at a time, as a group would
            out += _one_key(session, [_AlertStep(s.target, replace(s.ev, dedup_key=dedup), s.payload, s.now)
                                      for s in steps])
            continue
        incident_id, count, created = got
        if created:
            _opened(session, incident_id, first.target, values, decision, first.ev, first.now)
        _said_repeat(session, first.target, incident_id, count, last, len(steps) - 1 if created else len(steps))
        for i, s in enumerate(steps):
            outcome = "created" if created and i == 0 else "attached"
            _keep_alert(session, s.target, s.ev, dedup, s.payload, s.now, outcome, incident_id)
            out.append(IngestResult(outcome, dedup, incident_id))
    return out


def _attach_or_open_many(session: Session, rows: list[dict[str, Any]]) -> list[tuple[int, int, bool] | None]:
    """For each row (a new incident's values, `alert_count` the alerts it brings), in the order
    given (lock-key order): (incident id, alert count after, opened?), or None when, on
    PostgreSQL, another transaction opened an incident with that key since this one's snapshot
    (the caller then goes the one-alert way, which waits for it)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        got = {r.ord: (r.id, r.alert_count, r.created)
               for r in conn.execute(_ATTACH_OR_OPEN_MANY_PG, {"rows": bulk.as_json(
                   [{"ord": i, **row} for i, row in enumerate(rows)])})}
        return [got.get(i) for i in range(len(rows))]
    got = {}
    for at in range(0, len(rows), 256):  # SQLite takes up to 32,766 parameters a statement
        part = rows[at:at + 256]
        got.update({(r.service_id, r.dedup_key): (r.id, r.alert_count) for r in conn.execute(
            _upsert_many_sqlite(len(part)), {f"{c}_{i}": row[c] for i, row in enumerate(part) for c in _NEW_COLUMNS})})
    out: list[tuple[int, int, bool] | None] = []
    for row in rows:
        incident_id, count = got[(row["service_id"], row["dedup_key"])]
        out.append((incident_id, count, count == row["alert_count"]))  # a repeat adds to a count >= 1
    return out


@lru_cache(maxsize=128)
def _upsert_many_sqlite(n: int) -> Any:
    """The SQLite upsert for n rows at once."""
    values = ", ".join("(" + ", ".join(f":{c}_{i}" for c in _NEW_COLUMNS) + ")" for i in range(n))
    return text(f"""
INSERT INTO incidents ({", ".join(_NEW_COLUMNS)}) VALUES {values}
ON CONFLICT (service_id, dedup_key) WHERE status != 'resolved'
DO UPDATE SET alert_count = alert_count + excluded.alert_count, last_alert_at = excluded.last_alert_at
RETURNING id, alert_count, service_id, dedup_key""").bindparams(
        *[bindparam(f"{c}_{i}", type_=_T.c[c].type) for i in range(n) for c in _NEW_COLUMNS])


def write_alerts(
    session: Session, writer: GroupCommit, target: IntakeTarget, parsed: list[IntakeEvent], payload: Any, now: datetime
) -> list[IngestResult]:
    """Store a request's alerts through the process's group writer (batching.GroupCommit): the one
    write path of every intake route. Raises batching.Busy when no turn to write came in time."""
    touch(session, target, now)
    # The request's own transaction ends here, and its connection goes back to the pool: waiting
    # for the group writer while holding one could take the very connection the writer needs.
    session.commit()
    return writer.run(ingest_steps(target, parsed, payload, now))


def ingest(session: Session, target: IntakeTarget, ev: IntakeEvent, payload: Any, now: datetime) -> IngestResult:
    """Apply one parsed alert event for the target's service. The raw payload is always kept."""
    dedup = ev.dedup_key or uuid.uuid4().hex
    incident_id: int | None
    if ev.action == "trigger":
        incident_id, created = trigger(session, target, ev, dedup, now)
        outcome = "created" if created else "attached"
    else:
        incident_id = find_open(session, target.service_id, dedup)
        if incident_id is None:
            outcome = "no_open_incident"
        else:
            actor = Actor.system(target.source)
            if ev.action == "acknowledge":
                outcome = acknowledge(session, incident_id, actor, now).outcome
            else:
                outcome = resolve(session, incident_id, actor, f"Resolved by {target.source}: the alert cleared.", now).outcome
    _keep_alert(session, target, ev, dedup, payload, now, outcome, incident_id)
    return IngestResult(outcome, dedup, incident_id)


def _keep_alert(session: Session, target: IntakeTarget, ev: IntakeEvent, dedup: str, payload: Any, now: datetime,
                outcome: str, incident_id: int | None) -> None:
    """The raw alert, kept whatever became of it (written at commit, with the others)."""
    events.append_at_commit(session, _ALERTS, {
        "incident_id": incident_id, "service_id": target.service_id, "integration_key_id": target.key_id,
        "source": target.source, "action": ev.action, "dedup_key": dedup, "summary": ev.summary,
        "outcome": outcome, "received_at": now, "payload": payload,
    })


def find_open(session: Session, service_id: int, dedup_key: str) -> int | None:
    return session.connection().execute(_FIND_OPEN, {"b_service": service_id, "b_dedup": dedup_key}).scalar()


def trigger(
    session: Session, target: IntakeTarget, ev: IntakeEvent, dedup_key: str, now: datetime, *, say_repeat: bool = True
) -> tuple[int, bool]:
    """Open an incident, or attach to the open one with the same dedup key (no new page).
    Returns (incident id, created). `say_repeat=False`: the caller writes the repeat's timeline
    line and event itself (a group's repeats, together)."""
    conn = session.connection()
    values, decision = _new_incident(target, ev, dedup_key, now)
    if conn.dialect.name == "postgresql":
        stmt, params = _ATTACH_OR_OPEN_PG, {f"n_{k}": v for k, v in values.items()}
    else:
        stmt, params = _upsert_many_sqlite(1), {f"{c}_0": values[c] for c in _NEW_COLUMNS}
    row = conn.execute(stmt, params).first()
    if row is None:
        # Race (PostgreSQL): another alert with this key opened the incident just now; our INSERT
        # waited for its commit, then did nothing. Once more: the UPDATE finds it now.
        row = conn.execute(stmt, params).one()
    incident_id, count = row[0], row[1]
    if count == 1:
        _opened(session, incident_id, target, values, decision, ev, now)
        return incident_id, True
    if say_repeat:
        _said_repeat(session, target, incident_id, count, now, 1)
    return incident_id, False


def _said_repeat(session: Session, target: IntakeTarget, incident_id: int, count: int, now: datetime,
                 repeats: int) -> None:
    if repeats < 1:
        return
    times = "" if repeats == 1 else f" {repeats} times"
    note_id(session, incident_id, "alert_repeated", Actor.system(target.source),
            f"The alert fired again{times} ({count} alerts); no new page.", now, at_commit=True, alert_count=count,
            **({"repeats": repeats} if repeats > 1 else {}))
    events.publish(session, "incident.alert_repeated", now=now, incident_id=incident_id, client_id=target.client_id,
                   data={"incident": {"id": incident_id, "alert_count": count, "last_alert_at": now.isoformat()}})


def _new_incident(target: IntakeTarget, ev: IntakeEvent, dedup_key: str, now: datetime) -> tuple[dict[str, Any], Any]:
    decision = coverage_decision(target, now)
    start = decision.hold_until or now  # held alerts escalate, and the SLA clock runs, from then
    return {
        "client_id": target.client_id, "service_id": target.service_id, "policy_id": target.policy_id,
        "summary": ev.summary, "details": ev.details, "source": target.source, "severity": ev.severity,
        "urgency": decision.urgency or ev.urgency, "dedup_key": dedup_key, "status": Status.triggered.value,
        "alert_count": 1, "created_at": now, "last_alert_at": now,
        "response_deadline": start + timedelta(minutes=target.response_minutes or 60),
        "held_until": decision.hold_until, "next_escalation_at": start,
        "esc_seq": 0, "esc_step": 0, "esc_loop": 0,
    }, decision


def _opened(
    session: Session, incident_id: int, target: IntakeTarget, values: dict[str, Any], decision: Any,
    ev: IntakeEvent, now: datetime,
) -> None:
    source = Actor.system(target.source)
    note_id(session, incident_id, "triggered", source, f"Incident opened: {ev.summary}", now,
             at_commit=True, severity=ev.severity, urgency=values["urgency"])
    if decision.message:
        note_id(session, incident_id, "coverage", Actor.system("coverage"), decision.message, now, at_commit=True)
    if target.policy_id is None:
        note_id(session, incident_id, "warning", Actor.system("escalation"),
                 "No escalation policy for this service: every manager and admin will be paged.", now, at_commit=True)
    snap = snapshot_of(
        id=incident_id, status=values["status"], summary=values["summary"], urgency=values["urgency"],
        source=values["source"], client={"id": target.client_id, "name": target.client_name, "slug": target.client_slug},
        service={"id": target.service_id, "name": target.service_name}, tier=target.tier, alert_count=1,
        created_at=now, response_deadline=values["response_deadline"], next_escalation_at=values["next_escalation_at"],
    )
    events.publish(session, "incident.triggered", now=now, incident_id=incident_id, client_id=target.client_id,
                   data={"incident": snap})
