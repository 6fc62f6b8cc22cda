"""The engine's side of an incident: fire the escalation steps that are due, re-trigger timed-out
acknowledgements, mark missed response deadlines, note deliveries on the timeline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.orm import Session

from .. import bulk
from ..live import events
from ..models import (
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
    Incident,
    Notification,
    NotificationRule,
    PageIncident,
    Role,
    Status,
    StepFiring,
    User,
)
from ..notify.plan import PACED, Recipient, Rule, bundle, bundles_at, next_ring, page_rows
from ..schedules.rosters import layer_oncall
from . import escalation
from .record import Actor, note, note_id, publish, snapshots, try_lock_many, utc_hhmm

# Each engine entry point locks the row (skipping rows another engine holds) and re-checks that
# the work is still due under the lock: of two engines that both saw a step as due, the second
# finds it already moved on and does nothing.

_I = Incident.__table__
_F = StepFiring.__table__
# What firing reads of an incident, and writes back (one UPDATE for a whole chunk).
_FIRING_READS = select(_I.c.id, _I.c.status, _I.c.urgency, _I.c.policy_id, _I.c.created_at, _I.c.next_escalation_at,
                       _I.c.esc_seq, _I.c.esc_step, _I.c.esc_loop)


@dataclass
class PageClaim:
    """The engine's claim on the pages a chunk's firing writes: they are written already claimed
    (sending, by `engine`, leased until `lease_until`), as many of those due now as `reserve(n)`
    grants room for in its sending threads; the rest are written pending. fire_many fills in the
    claimed pages' ids and whether some due now were left pending. Written claimed, a page is one
    row version instead of two: on PostgreSQL every version of a page is an entry in each of the
    table's eight indexes."""

    engine: str
    lease_until: datetime
    reserve: Callable[[int], int]
    ids: list[int] = field(default_factory=list)
    left: bool = False


def fire_due(
    session: Session, incident_ids: list[int], now: datetime, engine: str, cache: FiringCache | None = None,
    snaps: dict[int, dict[str, Any]] | None = None, claim: PageClaim | None = None, bundle_at: int = 0,
    pace: timedelta = timedelta(0),
) -> int:
    """Fire the due step of each of these incidents (an engine's chunk). The rows are locked in
    one statement, skipping those another engine holds, and each is re-checked under the lock;
    the chunk's steps are then written together (fire_many). Returns how many were due; `snaps`,
    if given, receives the fired incidents' snapshots as moved on (their pages' messages are
    written from them); `claim`, if given, claims their pages as they are written; `bundle_at`:
    pages for this many incidents to one contact method go as one (notify/plan.bundle), and
    such a page ringing a phone waits until the last one to it is `pace` old (_paced)."""
    query = _FIRING_READS.where(bulk.among(_I.c.id)).order_by(_I.c.id)
    if session.get_bind().dialect.name == "postgresql":  # SQLite: the transaction holds the write lock
        query = query.with_for_update(skip_locked=True, key_share=True)  # the lock of record.try_lock_many
    due = [r for r in session.connection().execute(query, {"ids": incident_ids})
           if r.status == Status.triggered.value and r.next_escalation_at is not None and r.next_escalation_at <= now]
    fired = fire_many(session, due, now, engine=engine, cache=cache or FiringCache(), snaps=snaps, claim=claim,
                      bundle_at=bundle_at, pace=pace)
    if stopped := [{"id": r.id, "next_escalation_at": None} for r, ok in zip(due, fired, strict=True) if not ok]:
        bulk.update_rows(session.connection(), _I, stopped)  # nothing left to fire: stop looking at them
    return len(due)


def retrigger_due(session: Session, incident_ids: list[int], now: datetime) -> int:
    done = 0
    for inc in try_lock_many(session, incident_ids, skip_locked=True):
        if inc.status == Status.acknowledged.value and inc.ack_timeout_at and inc.ack_timeout_at <= now:
            retrigger(session, inc, now)
            done += 1
    return done


def breach_due(session: Session, incident_ids: list[int], now: datetime) -> int:
    done = 0
    for inc in try_lock_many(session, incident_ids, skip_locked=True):
        if inc.status == Status.triggered.value and not inc.sla_breached_at and inc.response_deadline <= now:
            mark_sla_breach(session, inc, now)
            done += 1
    return done


def note_delivery(session: Session, incident_id: int, kind: str, message: str, now: datetime, **data: Any) -> None:
    """A delivery outcome on the incident's timeline (written by the engine after each attempt)."""
    inc = session.get(Incident, incident_id)
    if inc is None:
        return
    # A burst of outcomes is recorded in one transaction: the lines go in at its commit, and the
    # incident (loaded with what its snapshot reads) needs no flush for its event.
    note(session, inc, kind, Actor.system("notifications"), message, now, at_commit=True, **data)
    publish(session, inc, "notified", now, flush=False, message=message)


def fire_step(
    session: Session,
    inc: Incident,
    now: datetime,
    *,
    actor: Actor | None = None,
    manual: bool = False,
    engine: str = "",
    cache: FiringCache | None = None,
) -> bool:
    """Fire the incident's next step (the caller holds the row lock): fire_many for one loaded
    incident, which is then read again. Returns False when no step is left."""
    session.flush()  # what the caller changed on it goes first
    row = session.connection().execute(_FIRING_READS.where(_I.c.id == inc.id)).one()
    fired = fire_many(session, [row], now, actor=actor, manual=manual, engine=engine, cache=cache or FiringCache())
    session.expire(inc, ["esc_seq", "esc_step", "esc_loop", "next_escalation_at"])
    return fired[0]


def fire_many(
    session: Session,
    rows: Sequence[Row[Any]],
    now: datetime,
    *,
    actor: Actor | None = None,
    manual: bool = False,
    engine: str = "",
    cache: FiringCache,
    snaps: dict[int, dict[str, Any]] | None = None,
    claim: PageClaim | None = None,
    bundle_at: int = 0,
    pace: timedelta = timedelta(0),
) -> list[bool]:
    """Fire the next step of each of these incidents (rows of _FIRING_READS, locked by the
    caller): resolve its targets (once per chunk, FiringCache), record the firing, plan the
    pages, note it on the timeline, move the position on. Set-wise: one INSERT of the firings
    (their unique (incident_id, seq) refuses a second firing of a step, and with it the whole
    chunk, which the engine then replays one by one), one of all the pages, one UPDATE of the
    positions (bulk.py), the lines and events at commit. For each row, whether a step was left to fire."""
    plans: list[_Plan] = []
    out: list[bool] = []
    for row in rows:
        plan = _plan(session, row, now, manual=manual, cache=cache)
        out.append(plan is not None)
        if plan is not None:
            plans.append(plan)
    if not plans:
        return out
    conn = session.connection()
    # The new firings' ids, matched to their rows by (incident_id, seq), which is unique: with no
    # order asked of RETURNING, SQLite writes them in one statement too (in the order asked, one
    # each: it has no column to sort them back by), and PostgreSQL reads them from one parameter.
    written = {(r.incident_id, r.seq): r.id for r in bulk.insert_returning(conn, _F, [{
        "incident_id": p.row.id, "seq": p.row.esc_seq, "step_index": p.pos.step, "loop": p.pos.loop, "due_at": p.due,
        "fired_at": now, "lateness_ms": p.lateness, "manual": manual, "engine": engine,
        "targets": [u.id for u in p.users],
    } for p in plans], ("id", "incident_id", "seq"))}
    firing_ids = [written[p.row.id, p.row.esc_seq] for p in plans]
    pages: list[dict[str, Any]] = []
    who = actor or Actor.system("escalation")
    moves = []
    for p, firing_id in zip(plans, firing_ids, strict=True):
        inc_id, pos = p.row.id, p.pos
        minute = int((p.due - p.row.created_at).total_seconds() // 60)
        label = f"Step {pos.step + 1}" + (f", pass {pos.loop + 1}" if pos.loop else "") + f" (M+{minute})"
        if p.users:
            purpose = "help" if p.row.status == Status.acknowledged.value else "page"
            planned = page_rows(inc_id, p.row.urgency, firing_id, p.users, now, purpose)
            pages += planned
            reached = {r["user_id"] for r in planned}
            unreachable = [u.name for u in p.users if u.id not in reached]
            msg = f"{label}: notifying {', '.join(u.name for u in p.users)}" + (
                f" ({'; '.join(p.why)})." if p.why else ".")
            if manual:
                msg = f"Escalated by hand by {who.label}. " + msg
            if p.lateness >= 5000:
                msg += f" Fired {p.lateness // 1000} s late (the engine was not running when it fell due)."
            note_id(session, inc_id, "escalated", who, msg, now, at_commit=True, step=pos.step, loop=pos.loop,
                    users=[u.id for u in p.users], lateness_ms=p.lateness)
            if unreachable:
                note_id(session, inc_id, "warning", Actor.system("escalation"),
                        f"NOBODY REACHABLE: {', '.join(unreachable)} has no enabled contact method.", now,
                        at_commit=True)
        else:
            note_id(session, inc_id, "step_skipped", who,
                    f"{label}: {'; '.join(p.nobody) or 'no targets'}. Going straight to the next step.", now,
                    at_commit=True, step=pos.step, loop=pos.loop)
        if p.exhausted and p.row.status == Status.triggered.value:
            note_id(session, inc_id, "exhausted", Actor.system("escalation"),
                    "ESCALATION EXHAUSTED: every step has fired and nobody has acknowledged.", now, at_commit=True)
        moves.append({"id": inc_id, "esc_seq": p.row.esc_seq + 1, "esc_step": p.next_pos.step,
                      "esc_loop": p.next_pos.loop, "next_escalation_at": p.next_due})
    if pages:
        bundles: list[list[dict[str, Any]]] = []
        joins: list[tuple[int, list[dict[str, Any]]]] = []
        if not manual:  # an alert storm: one page per contact method for many incidents (plan.bundle)
            pages, bundles = bundle(pages, bundle_at)
            if bundles and pace:
                pages, bundles, joins = _paced(conn, pages, bundles, now, pace)
        _claim_as_written(conn, pages, firing_ids, now, claim)
        if bundles or joins:
            _write_bundles(conn, bundles, joins)
    bulk.update_rows(conn, _I, moves)
    read = snapshots(session, [p.row.id for p in plans])  # as moved on
    if snaps is not None:
        snaps.update(read)
    by_client: dict[int, list[_Plan]] = {}
    for p in plans:
        by_client.setdefault(read[p.row.id]["client"]["id"], []).append(p)
    for client_id, group in by_client.items():
        # An alert storm (as many of a client's incidents as make a bundled page): one event
        # tells screens of them all, with each one's snapshot; otherwise one event an incident.
        storm = bundles_at(len(group), bundle_at)
        for p in group[:1] if storm else group:
            data = {"incident": read[p.row.id], "step": p.pos.step, "loop": p.pos.loop,
                    "users": [u.name for u in p.users]}
            if storm:
                data.update(incidents=[q.row.id for q in group], snapshots=[read[q.row.id] for q in group])
            events.publish(session, "incident.escalated", now=now, incident_id=p.row.id, client_id=client_id,
                           data=data)
    return out


def _claim_as_written(conn: Any, pages: list[dict[str, Any]], firing_ids: list[int], now: datetime,
                      claim: PageClaim | None) -> None:
    """Write the planned pages, those due now claimed as far as there is room (PageClaim)."""
    for p in pages:  # every row with the same keys: one statement
        p["claimed_by"] = p["lease_until"] = None
    if claim is None:
        bulk.insert_rows(conn, Notification.__table__, pages)
        return
    due_now = [p for p in pages if p["not_before"] <= now]
    room = claim.reserve(len(due_now)) if due_now else 0
    for p in due_now[:room]:
        p.update(status="sending", claimed_by=claim.engine, lease_until=claim.lease_until, attempts=1)
    bulk.insert_rows(conn, Notification.__table__, pages)
    claim.left = len(due_now) > room
    if room:
        claim.ids = list(conn.execute(_CLAIMED_NOW, {"ids": firing_ids, "engine": claim.engine}).scalars())


def _write_bundles(conn: Any, bundles: list[list[dict[str, Any]]], joins: list[tuple[int, list[dict[str, Any]]]]) -> None:
    """Each bundle's page (written as its first page) lists its incidents, each with its firing;
    a bundle joining a page that waits (_paced) adds its incidents to that page's list."""
    leads = conn.execute(_LEADS, {"ids": [b[0]["firing_id"] for b in bundles]}).all() if bundles else []
    page_of = {(r.firing_id, r.contact_method_id): r.id for r in leads}
    placed = [(page_of[b[0]["firing_id"], b[0]["contact_method_id"]], b) for b in bundles] + joins
    bulk.insert_rows(conn, PageIncident.__table__, [
        {"notification_id": nid, "incident_id": p["incident_id"], "firing_id": p["firing_id"]}
        for nid, b in placed for p in b])


def bundled(session: Session, notification_id: int) -> list[int]:
    """The incidents a bundled page lists (_write_bundles), in id order; none for a page about
    one incident."""
    return [incident_id for incident_id, _ in bundled_steps(session, notification_id)]


def bundled_steps(session: Session, notification_id: int) -> list[tuple[int, int]]:
    """bundled(), each incident with the firing of its step the page is for."""
    return [(r.incident_id, r.firing_id) for r in session.execute(_BUNDLED, {"id": notification_id})]


def paged_incidents(session: Session, n: Notification) -> list[int]:
    """The incidents a page is about: a bundle's every one, else its own (none for a message that
    is about no incident)."""
    if not n.incident_id:
        return []
    return (n.purpose == "page" and bundled(session, n.id)) or [n.incident_id]


def _paced(conn: Any, pages: list[dict[str, Any]], bundles: list[list[dict[str, Any]]], now: datetime,
           every: timedelta) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]], list[tuple[int, list[dict[str, Any]]]]]:
    """A storm rings a phone once in a while, not at every look (notify/plan.PACED): a bundle for
    a call or an SMS to a number rung less than `every` ago joins the bundle already waiting for
    it, or waits itself until `every` after the last ring. Returns the pages to write, the
    bundles to write, and the bundles joining a waiting page (its id)."""
    ringing = [b for b in bundles if b[0]["kind"] in PACED]
    if not ringing:
        return pages, bundles, []
    params = {"users": sorted({b[0]["user_id"] for b in ringing}),
              "methods": [b[0]["contact_method_id"] for b in ringing], "since": now - 2 * every, "now": now}
    waiting_q = _WAITING.with_for_update(of=_N) if conn.dialect.name == "postgresql" else _WAITING
    waiting = {r.contact_method_id: r.id for r in conn.execute(waiting_q, params)}  # locked: no claim meanwhile
    last = dict(conn.execute(_LAST_RUNG, params).all())
    kept, joins, joined = [], [], set()
    for b in bundles:
        method = b[0]["contact_method_id"]
        if b[0]["kind"] not in PACED:
            kept.append(b)
        elif method in waiting:
            joins.append((waiting[method], b))
            joined.add(id(b[0]))
        else:
            b[0]["not_before"] = next_ring(last.get(method), now, every)
            kept.append(b)
    return [p for p in pages if id(p) not in joined], kept, joins


@dataclass
class _Plan:
    """One incident's step about to fire, and where its escalation goes next."""

    row: Row[Any]
    pos: escalation.Position
    due: datetime
    lateness: int
    users: list[Recipient]
    nobody: list[str]  # "Night layer: nobody on call"
    why: list[str]  # layers held by two
    next_pos: escalation.Position
    next_due: datetime | None
    exhausted: bool


def _plan(session: Session, row: Row[Any], now: datetime, *, manual: bool, cache: FiringCache) -> _Plan | None:
    spec = cache.policy(session, row.policy_id)
    pos = escalation.Position(row.esc_loop, row.esc_step)
    if not spec.steps or pos.step >= len(spec.steps) or pos.loop > spec.repeat:
        return None
    due = row.next_escalation_at if (not manual and row.next_escalation_at) else now
    user_ids: list[int] = []
    nobody: list[str] = []
    why: list[str] = []
    for target in spec.steps[pos.step].targets:
        found, label = cache.target(session, target, now)
        if not found:
            nobody.append(f"{label}: nobody on call")
        elif len(found) > 1:
            why.append(label)  # a layer held by two (an outgoing engineer kept responsible): say so
        user_ids += [u for u in found if u not in user_ids]
    users = cache.people(session, user_ids)
    nxt = escalation.after(spec, pos, due)
    next_due = row.next_escalation_at
    if nxt is None:
        next_pos = escalation.Position(spec.repeat + 1, len(spec.steps))
        if row.status == Status.triggered.value:
            next_due = None
    else:
        next_pos, ndue = nxt
        if row.status == Status.triggered.value:
            # Skipped step (nobody on call): the next one fires now, not at its usual minute.
            next_due = ndue if users else now
    return _Plan(row, pos, due, max(0, int((now - due).total_seconds() * 1000)), users, nobody, why, next_pos,
                 next_due, nxt is None)


def resolve_target(session: Session, target: escalation.TargetSpec, now: datetime) -> tuple[list[int], str]:
    """The ids of the people a step target means at `now`, and a label for the timeline."""
    if target.kind == "user":
        user = session.get(User, target.id)
        if user is None or not user.active:
            return [], f"user #{target.id} (inactive or removed)"
        return [user.id], user.name
    if target.kind == "layer":
        return layer_oncall(session, target.id, now)
    return [], f"unknown target kind {target.kind!r}"


class FiringCache:
    """What an engine tick reads again and again: policies, and how to reach people. The engine
    makes a fresh one every tick, so nothing here is older than one tick. The chunks of a look,
    fired at once in threads on PostgreSQL, share it: what one is reading, the others wait for
    rather than read too (the first chunks of a storm's look all wanted the same policy, layer
    and people at the same moment, and each read them)."""

    def __init__(self) -> None:
        self._policies: dict[int | None, escalation.PolicySpec] = {}
        self._people: dict[int, Recipient] = {}
        self._not_people: set[int] = set()  # read, and found gone or inactive
        self._targets: dict[tuple[escalation.TargetSpec, datetime], tuple[list[int], str]] = {}
        self._reading = threading.Lock()

    def target(self, session: Session, target: escalation.TargetSpec, now: datetime) -> tuple[list[int], str]:
        """Who a step target means at `now` (an alert storm asks about the same layer a hundred
        times in one tick)."""
        key = (target, now)
        if key not in self._targets:
            with self._reading:
                if key not in self._targets:
                    self._targets[key] = resolve_target(session, target, now)
        return self._targets[key]

    def policy(self, session: Session, policy_id: int | None) -> escalation.PolicySpec:
        if policy_id not in self._policies:
            with self._reading:
                if policy_id not in self._policies:
                    self._policies[policy_id] = _load_policy(session, policy_id)
        return self._policies[policy_id]

    def people(self, session: Session, ids: list[int]) -> list[Recipient]:
        """The active ones of these people, with their notification rules and enabled contact
        methods (plain rows: three statements for all of a look's new names)."""
        if self._unknown(ids):
            with self._reading:
                self._read_people(session, ids)
        return [self._people[i] for i in ids if i in self._people]

    def _unknown(self, ids: list[int]) -> list[int]:
        """Of these people, the ones not read yet."""
        return [i for i in ids if i not in self._people and i not in self._not_people]

    def _read_people(self, session: Session, ids: list[int]) -> None:
        if missing := self._unknown(ids):  # again, under the lock: another chunk may have read them
            conn = session.connection()
            found = conn.execute(_PEOPLE, {"ids": missing}).all()
            rules: dict[int, list[Rule]] = {}
            for r in conn.execute(_RULES, {"ids": missing}):
                rules.setdefault(r.user_id, []).append(
                    (r.urgency, r.kind, r.delay_minutes, r.window_start, r.window_end))
            methods: dict[int, list[tuple[int, str]]] = {}
            for m in conn.execute(_METHODS, {"ids": missing}):
                methods.setdefault(m.user_id, []).append((m.id, m.kind))
            for u in found:
                self._people[u.id] = Recipient(u.id, u.name, tuple(rules.get(u.id, ())), tuple(methods.get(u.id, ())),
                                               u.timezone or "UTC")
            self._not_people.update(i for i in missing if i not in self._people)


_N = Notification.__table__
# The pages just written claimed for these firings (ids in order: the order they go out in).
_CLAIMED_NOW = (select(_N.c.id).where(bulk.among(_N.c.firing_id), _N.c.status == "sending",
                                      _N.c.claimed_by == bindparam("engine")).order_by(_N.c.id))
# A storm's pages waiting to ring these people's phones (_paced), and when each phone last rang
# or is due to (by the index on user and creation time: the last two paces' pages).
_P = PageIncident.__table__
_RECENT = (bulk.among(_N.c.user_id, "users"), _N.c.created_at >= bindparam("since"),
           bulk.among(_N.c.contact_method_id, "methods"), _N.c.purpose.in_(("page", "help")))
_WAITING = (select(_N.c.id, _N.c.contact_method_id)
            .where(*_RECENT, _N.c.status == "pending", _N.c.not_before > bindparam("now"),
                   select(_P.c.incident_id).where(_P.c.notification_id == _N.c.id).exists())
            .order_by(_N.c.id))
_LAST_RUNG = (select(_N.c.contact_method_id, func.max(func.coalesce(_N.c.sent_at, _N.c.not_before)))
              .where(*_RECENT, _N.c.status.in_(("pending", "sending", "sent")))
              .group_by(_N.c.contact_method_id))
_BUNDLED = (select(_P.c.incident_id, _P.c.firing_id).where(_P.c.notification_id == bindparam("id"))
            .order_by(_P.c.incident_id))
# The pages just written for these firings, to find a bundle's own (unique: firing, method).
_LEADS = select(_N.c.id, _N.c.firing_id, _N.c.contact_method_id).where(bulk.among(_N.c.firing_id))
_U, _R, _CM = User.__table__, NotificationRule.__table__, ContactMethod.__table__
_PEOPLE = select(_U.c.id, _U.c.name, _U.c.timezone).where(bulk.among(_U.c.id), _U.c.active)
_RULES = (select(_R.c.user_id, _R.c.urgency, _R.c.kind, _R.c.delay_minutes, _R.c.window_start, _R.c.window_end)
          .where(bulk.among(_R.c.user_id)).order_by(_R.c.id))
_METHODS = (select(_CM.c.id, _CM.c.user_id, _CM.c.kind)
            .where(bulk.among(_CM.c.user_id), _CM.c.enabled).order_by(_CM.c.id))
_P, _S, _T = EscalationPolicy.__table__, EscalationStep.__table__, EscalationTarget.__table__
_POLICY = select(_P.c.repeat, _P.c.response_minutes, _P.c.ack_timeout_minutes).where(_P.c.id == bindparam("id"))
_STEPS = (select(_S.c.id, _S.c.delay_minutes, _T.c.kind, _T.c.user_id, _T.c.layer_id)
          .select_from(_S.outerjoin(_T, _T.c.step_id == _S.c.id))
          .where(_S.c.policy_id == bindparam("id")).order_by(_S.c.position, _S.c.id, _T.c.id))


def _load_policy(session: Session, policy_id: int | None) -> escalation.PolicySpec:
    conn = session.connection()
    policy = conn.execute(_POLICY, {"id": policy_id}).first() if policy_id else None
    if policy is not None:
        steps: dict[int, tuple[int, list[escalation.TargetSpec]]] = {}
        for r in conn.execute(_STEPS, {"id": policy_id}):
            _, targets = steps.setdefault(r.id, (r.delay_minutes, []))
            if r.kind is not None:
                targets.append(escalation.TargetSpec(r.kind, r.user_id if r.kind == "user" else r.layer_id or 0))
        return escalation.PolicySpec(tuple(escalation.StepSpec(d, tuple(t)) for d, t in steps.values()),
                                     repeat=policy.repeat, response_minutes=policy.response_minutes,
                                     ack_timeout_minutes=policy.ack_timeout_minutes)
    # No policy (deleted, or a service set up without one): never page nobody. Every manager and
    # admin is paged, every 30 minutes, until someone answers.
    staff = session.execute(
        select(User.id).where(User.role.in_([Role.manager.value, Role.admin.value]), User.active)
    ).scalars().all()
    targets = tuple(escalation.TargetSpec("user", uid) for uid in staff)
    return escalation.PolicySpec((escalation.StepSpec(30, targets),), repeat=8)


def retrigger(session: Session, inc: Incident, now: datetime) -> None:
    """The acknowledgement timed out without a resolution: start escalating again from step 1."""
    who = inc.acknowledged_by.name if inc.acknowledged_by else "someone"
    minutes = inc.policy.ack_timeout_minutes if inc.policy else None
    inc.status = Status.triggered.value
    inc.ack_timeout_at = None
    inc.esc_step, inc.esc_loop = 0, 0
    inc.next_escalation_at = now
    note(session, inc, "retriggered", Actor.system("escalation"),
          f"Acknowledged by {who} but not resolved within {minutes} minutes: escalating again.", now)
    publish(session, inc, "retriggered", now)


def mark_sla_breach(session: Session, inc: Incident, now: datetime) -> None:
    inc.sla_breached_at = now
    note(session, inc, "sla_breached", Actor.system("escalation"),
          f"RESPONSE DEADLINE MISSED: nobody responded by {utc_hhmm(inc.response_deadline)}.", now)
    publish(session, inc, "sla_breached", now)
