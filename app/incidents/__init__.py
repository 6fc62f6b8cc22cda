"""Incidents: the only writers of incident state, and what is due when (escalation, policies).

Each change is written with its timeline entry and its event, in the same transaction.

record.py: the snapshot, the timeline and the row lock · trigger.py: alerts open or join an
incident (the intake fast path) · actions.py: acknowledge, claim, escalate, log, hand over,
resolve · firing.py: the engine's due steps, re-triggers and missed deadlines · escalation.py:
what is due, and when (pure) · policies.py: policies as data, and the tier presets ·
heartbeats.py: the engine opens and resolves the incidents of heartbeat monitors.
"""

from ..errors import ActionError
from .actions import (
    acknowledge,
    claim_slot,
    escalate_now,
    hand_over,
    log_action,
    reopen,
    resolve,
    run_once,
    write_to_client,
)
from .firing import (
    FiringCache,
    PageClaim,
    breach_due,
    bundled,
    bundled_steps,
    fire_due,
    fire_step,
    mark_sla_breach,
    note_delivery,
    paged_incidents,
    retrigger,
    retrigger_due,
)
from .mail import Processed, pending_mail, process_mail, release_mail
from .mail import processor as mail_processor
from .mail import sweep as sweep_mail
from .record import MAX_TEXT, Actor, Outcome, snapshot, snapshot_of, snapshots, timeline_of
from .trigger import IngestResult, find_open, ingest, ingest_steps, trigger, write_alerts

__all__ = [
    "MAX_TEXT", "ActionError", "Actor", "FiringCache", "IngestResult", "Outcome", "PageClaim", "Processed", "pending_mail",
    "mail_processor", "process_mail", "release_mail", "sweep_mail", "acknowledge", "breach_due", "bundled", "bundled_steps",
    "claim_slot", "escalate_now", "find_open", "fire_due", "fire_step", "hand_over", "ingest", "ingest_steps",
    "log_action", "mark_sla_breach", "note_delivery", "paged_incidents", "reopen", "resolve", "retrigger", "retrigger_due", "run_once",
    "snapshot", "snapshot_of", "snapshots", "timeline_of", "trigger", "write_alerts", "write_to_client",
]
