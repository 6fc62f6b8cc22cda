"""One delivery: compose the message, send it (in a sending thread, no transaction open while
waiting on the provider), and record the outcome (in the recorder thread, several outcomes per
transaction): the attempt, the timeline line, retries with backoff, a removed or disabled contact
method, and "ALL CHANNELS FAILED" when nobody could reach a person for a step.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, joinedload

from .. import bulk, incidents
from ..answers import links
from ..batching import GroupWriter
from ..clock import Clock
from ..db import Database
from ..incidents.record import note_id
from ..live import events
from ..models import (
    ContactMethod,
    DeliveryAttempt,
    Incident,
    Notification,
    NotificationAttachment,
    PageIncident,
    Status,
    User,
)
from ..notify import onetime
from ..notify.base import Delivered, OutboundMessage, Transport, TransportError, answer_text
from ..notify.message import To, compose, compose_bundle, compose_outbound
from ..notify.outbound import LINK

log = logging.getLogger("vigil.engine")

MAX_ATTEMPTS = 6
MAX_RECORD_DELAY = 2.0  # seconds an outcome may wait for the engine to finish firing steps
RECORD_WAIT = 60.0  # seconds a sending thread waits for its outcome to be recorded

# What a sender hands to the recorder: notification id, message, result, start, end, latency in ms.
Outcome = tuple[int, Any, Delivered | TransportError, datetime, datetime, int]
# Makes the one-time "tap to acknowledge" link a page carries.
LinkMaker = Callable[[Session, Notification, datetime], "links.AckLink | onetime.Link | None"]


@dataclass(frozen=True)
class Job:
    """A claimed page for a sending thread: its message (or how to write it: a page is composed
    by its sending thread, from what the claim read, out of the claim's transaction, which on
    SQLite holds the one write lock), or why it will not go out (status, reason, whether it is
    merely pointless now)."""

    nid: int
    msg: OutboundMessage | Callable[[], OutboundMessage] | None = None
    skip: tuple[str, str, bool] | None = None


def backoff(attempt: int, retry_after: float | None = None) -> timedelta:
    """5 s, 10 s, 20 s, 40 s, 80 s ... capped at 5 minutes; a provider's Retry-After wins if longer."""
    seconds = min(300.0, 5.0 * 2 ** max(0, attempt - 1))
    if retry_after is not None:
        seconds = max(seconds, min(retry_after, 3600.0))
    return timedelta(seconds=seconds)


class Sender:
    """Sends claimed pages (Engine._dispatch hands them over) and records what became of them."""

    def __init__(self, db: Database, clock: Clock, config: dict[str, Any], transports: dict[str, Transport], *,
                 transact: Callable[[Callable[[Session], Any]], Any], wake: threading.Event,
                 links: dict[str, LinkMaker] | None = None) -> None:
        self.db, self.clock, self.config, self.transports = db, clock, config, transports
        # One-time links that other messages carry, by purpose ("we have it" in a hand-over,
        # "I'm ready" in a shift's hand-off), minted like ack links as each message goes out.
        self.links = links or {}
        self.transact = transact  # the engine's write transactions (see Engine.transact)
        self.wake = wake  # tells the engine loop something changed (a retry is scheduled...)
        # Outcomes are written by one thread, several per transaction (see batching.py), and
        # not while the engine is firing steps: in an alert storm, paging people comes before
        # writing down that we did (the outcomes wait, and are then written in fewer batches).
        self.firing_done = threading.Event()
        self.firing_done.set()
        self.outcomes: GroupWriter[Outcome] = GroupWriter(self.record_batch, name="vigil-record")

    def close(self) -> None:
        self.outcomes.close()
        for transport in self.transports.values():
            transport.close()

    def prepare(self, s: Session, ids: list[int], now: datetime, make_link: LinkMaker,
                known: dict[int, dict[str, Any]] | None = None) -> list[Job]:
        """In the transaction that claimed these pages: read them (with whom and how they
        reach, their incidents' snapshots and details: a few statements for the whole batch,
        no ORM objects) and write each page's fresh one-time ack link, before the page goes out.
        A page's message is composed from these by its sending thread, once this transaction has
        committed (a user's page; a message to someone who is not a user was written when it was
        queued). Nothing else is locked here: pages that will not go out are settled by their
        sending thread (_not_sent), which locks properly."""
        conn = s.connection()
        found = conn.execute(_CLAIMED, {"ids": ids}).all()
        bundled = bundles_of(conn, [n.id for n in found if n.purpose == "page"])
        incident_ids = {n.incident_id for n in found if n.incident_id} | {i for b in bundled.values() for i, _ in b}
        known = known or {}  # snapshots read in this transaction already (the chunk just fired)
        snaps = {i: known[i] for i in incident_ids if i in known}
        snaps.update(incidents.snapshots(s, incident_ids - snaps.keys()))
        # A page about one incident carries its details; a bundle lists summaries only.
        alone = {n.incident_id for n in found if n.incident_id and n.id not in bundled}
        details = dict(conn.execute(_DETAILS, {"ids": list(alone)}).all()) if alone else {}
        outbound = [n.id for n in found if n.user_id is None]
        attached: dict[int, list[tuple[str, str, bytes]]] = {}
        if outbound:
            for a in conn.execute(_ATTACHMENTS, {"ids": outbound}):
                attached.setdefault(a.notification_id, []).append((a.filename, a.content_type, a.data))
        jobs = []
        base_url = self.config.get("BASE_URL", "")
        for n in found:
            snap = snaps.get(n.incident_id) if n.incident_id else None
            # A bundle goes out about those of its incidents still waiting (about one: as its own page).
            live = [snaps[i] for i, _ in bundled.get(n.id, ()) if i in snaps and not _pointless(n.purpose, snaps[i])]
            if n.id in bundled:
                snap = live[0] if live else snap
            if n.id in bundled and not live:
                jobs.append(Job(n.id, skip=("cancelled", "every incident of the page was acknowledged or closed "
                                                         "before sending", True)))
            elif why := _pointless(n.purpose, snap):
                jobs.append(Job(n.id, skip=("cancelled", why, True)))
            elif n.user_id is None:  # to someone who is not a user (notify/outbound.py)
                if n.kind not in self.transports:
                    jobs.append(Job(n.id, skip=("failed", f"this server has no {n.kind} channel", False)))
                else:
                    msg = compose_outbound(n, snap, base_url=base_url, attachments=attached.get(n.id, []))
                    made = self.links[n.purpose](s, n, now) if n.purpose in self.links else None
                    if made is not None and LINK in msg.body:
                        msg = replace(msg, body=msg.body.replace(LINK, made.url), short=msg.short.replace(LINK, made.url))
                    jobs.append(Job(n.id, msg))
            elif n.method_id is None or not n.method_enabled:
                jobs.append(Job(n.id, skip=("cancelled", "contact method removed or disabled before sending", False)))
            elif n.method_kind not in self.transports:
                jobs.append(Job(n.id, skip=("failed", f"this server has no {n.method_kind} channel", False)))
            else:
                link = make_link(s, n, now) if (snap is not None and n.purpose in ("page", "help")) else (
                    self.links[n.purpose](s, n, now) if n.purpose in self.links else None)
                to = To(n.user_id, n.user_name, n.method_id, n.method_kind, n.method_address, n.method_label,
                        n.method_p256dh, n.method_auth)
                if len(live) > 1:
                    jobs.append(Job(n.id, partial(compose_bundle, n, to, live, base_url=base_url,
                                                  ack_url=link.url if link else None,
                                                  ack_token=link.token if link else None)))
                    continue
                jobs.append(Job(n.id, partial(
                    compose, n, to, snap, base_url=base_url, details=details.get(snap["id"] if snap else n.incident_id),
                    ack_url=link.url if link else None, ack_token=link.token if link else None)))
        return jobs

    def deliver(self, job: Job) -> None:
        """Send one claimed page (in a sending thread); its outcome goes to the recorder."""
        if job.skip is not None:
            status, why, pointless = job.skip
            return self._not_sent(job.nid, status, why, self.clock.now(), pointless)
        nid = job.nid
        assert job.msg is not None
        try:
            msg = job.msg if isinstance(job.msg, OutboundMessage) else job.msg()
        except Exception as e:  # a bug: the page fails, said on its incident, instead of waiting for its lease
            log.exception("composing page %s failed", nid)
            now = self.clock.now()
            self.outcomes.put((nid, None, TransportError(f"the message could not be written: {type(e).__name__}: {e}",
                                                         permanent=True), now, now, 0))
            return
        transport = self.transports[msg.kind]
        # No transaction is open while we wait on the network.
        started = self.clock.now()
        t0 = time.monotonic()
        result: Delivered | TransportError
        try:
            result = transport.send(msg)
        except TransportError as e:
            result = e
        except Exception as e:  # a bug or an unexpected library error: retry, loudly
            log.exception("transport %s crashed", msg.kind)
            result = TransportError(f"{type(e).__name__}: {e}")
        latency = int((time.monotonic() - t0) * 1000)
        recorded = self.outcomes.put((nid, msg, result, started, self.clock.now(), latency))
        # Should this engine die, the pages it sent but had not yet recorded go out again from
        # another engine. So before taking its next page, a thread waits until this one's outcome
        # is committed: that keeps them to one per sending thread, the ones on the wire at that
        # instant. Not for a channel where a second copy shows as one (Web Push's Topic): those
        # go on at once, a storm's first pushes first.
        if not transport.collapses_copies and not recorded.wait(RECORD_WAIT):
            log.warning("the outcome of page %s is not recorded after %.0f s; sending the next one", nid, RECORD_WAIT)

    def _not_sent(self, nid: int, status: str, why: str, now: datetime, pointless: bool = False) -> None:
        """A claimed page that will not go out: cancelled (pointless now, or its contact method
        is gone) or failed (no such channel)."""

        def settle(s: Session) -> None:
            n = s.get(Notification, nid, options=[joinedload(Notification.user)])
            if n is None or n.status != "sending":
                return
            if pointless:  # nobody needs this page any more: nothing to tell
                n.status, n.last_error, n.lease_until = status, why, None
                return
            # Not reached through this method after all: it may have been the person's last.
            _lock_incident(s, n.incident_id)
            n.status, n.last_error, n.lease_until = status, why, None
            if status == "failed":
                self._record_failure(s, n, why, now)
            else:
                self._check_reached(s, n, now)

        self.transact(settle)

    def record_batch(self, batch: list[Outcome]) -> None:
        self.firing_done.wait(timeout=MAX_RECORD_DELAY)

        try:
            self.transact(lambda s: self._record_all(s, batch))
        except Exception:
            if len(batch) == 1:
                raise
            log.warning("recording %d deliveries together failed; recording them one by one", len(batch))
            for outcome in batch:
                try:
                    self.transact(lambda s, o=outcome: self._record_all(s, [o]))
                except Exception:
                    log.exception("recording delivery %s failed", outcome[0])
        self.wake.set()

    def _record_all(self, s: Session, outcomes: list[Outcome]) -> None:
        """Write these attempts' outcomes: the delivered ones together (_Delivered), the failed
        ones one by one (_record)."""
        failed = [o for o in outcomes if not isinstance(o[2], Delivered)]
        # held: the session only keeps weak references
        loaded = _preload(s, [o[0] for o in failed]) if failed else []
        delivered = _Delivered.read(s, [o[0] for o in outcomes if isinstance(o[2], Delivered)])
        for outcome in sorted(outcomes, key=lambda o: o[0]):  # one lock order for every batch
            nid, msg, result, started, now, latency = outcome
            if isinstance(result, Delivered):
                delivered.record(s, nid, msg, result, started, now, latency)
            else:
                self._record(s, nid, msg, result, started, now, latency)
        delivered.write(s)
        del loaded

    def _record(self, s: Session, nid: int, msg: Any, result: TransportError, started: datetime,
                now: datetime, latency: int) -> None:
        """Write one failed attempt's outcome, as of `now`, when the provider answered."""
        n = s.get(Notification, nid, options=[joinedload(Notification.user), joinedload(Notification.contact_method)])
        if n is None:
            return
        _lock_incident(s, n.incident_id)
        method: ContactMethod | None = n.contact_method
        where = _where(n)
        attempt = DeliveryAttempt(
            notification_id=n.id, channel=n.kind, target=_target(n, msg), started_at=started,
            finished_at=now, latency_ms=latency,
            status_code=result.status_code,
            provider_answer=answer_text(result.answer) if result.answer else None,
            outcome="sent", error=None,
        )
        s.add(attempt)
        err = result
        detail = err.message + (f" ({err.status_code})" if err.status_code else "")
        attempt.error = detail
        n.last_error = detail
        removed = ""
        if method:
            method.last_failure_at = now
            if err.remove_method:
                removed = " The subscription was removed."
                self._remove_method(s, n, method)
            elif err.disable_method:
                method.enabled = False
                method.disabled_reason = detail
        if err.permanent or n.attempts >= MAX_ATTEMPTS:
            attempt.outcome = n.status = "failed"
            n.lease_until = None
            self._record_failure(s, n, detail, now, removed, where)
        else:
            attempt.outcome = "retry"
            wait = backoff(n.attempts, err.retry_after)
            n.status, n.lease_until, n.not_before = "pending", None, now + wait
            for incident_id in incidents.paged_incidents(s, n):
                incidents.note_delivery(s, incident_id, "delivery_retry",
                                        f"{where}: failed ({detail}); retrying in {int(wait.total_seconds())} s.",
                                        now, notification=n.id, channel=n.kind)

    @staticmethod
    def _remove_method(s: Session, n: Notification, method: ContactMethod) -> None:
        """The push service says the subscription is gone (404/410): it can never work again, so
        it goes, and so do the pages still queued for it. Attempts keep their own target."""
        # SKIP LOCKED: we hold no lock on those pages' incidents (the lock order of db.py); a
        # page skipped here finds its contact method gone when it is claimed, and is cancelled.
        queued = (select(Notification.id).where(
            Notification.contact_method_id == method.id, Notification.status == "pending", Notification.id != n.id,
        ).with_for_update(skip_locked=True))
        s.execute(update(Notification).where(Notification.id.in_(queued), Notification.status == "pending")
                  .values(status="cancelled", last_error="push subscription removed"))
        n.contact_method = None
        s.delete(method)

    def _record_failure(self, s: Session, n: Notification, detail: str, now: datetime, extra: str = "",
                        where: str | None = None) -> None:
        where = where or _where(n)
        for incident_id in incidents.paged_incidents(s, n):
            incidents.note_delivery(s, incident_id, "delivery_failed", f"{where}: FAILED ({detail}).{extra}",
                                    now, notification=n.id, channel=n.kind)
        self._check_reached(s, n, now)

    def _check_reached(self, s: Session, n: Notification, now: datetime) -> None:
        if n.firing_id is None or n.incident_id is None or n.user_id is None:
            return
        for incident_id, firing_id in incidents.bundled_steps(s, n.id) or [(n.incident_id, n.firing_id)]:  # a bundle: each incident's own step
            inc = _lock_incident(s, incident_id)
            if inc is None or inc.status != Status.triggered.value and n.purpose == "page":
                continue  # acknowledged (or closed) meanwhile: nobody needs to be told who was unreachable
            s.flush()
            # When every channel of a person has failed for this step, say so loudly; escalation
            # carries on regardless (the next step is already scheduled). A page that reached them
            # for this step may be a bundle's, written for another of its incidents.
            in_bundles = select(PageIncident.notification_id).where(PageIncident.firing_id == firing_id)
            open_or_ok = s.execute(
                select(func.count()).select_from(Notification).where(
                    (Notification.firing_id == firing_id) | Notification.id.in_(in_bundles),
                    Notification.user_id == n.user_id,
                    Notification.status.in_(("pending", "sending", "sent")),
                )
            ).scalar_one()
            if open_or_ok == 0:
                incidents.note_delivery(
                    s, incident_id, "unreachable",
                    f"ALL CHANNELS FAILED for {n.user.name}: they have not been reached. Escalation continues.",
                    now, user=n.user_id,
                )


def _pointless(purpose: str, snap: dict[str, Any] | None) -> str | None:
    """Why a page should not go out any more (its incident's snapshot says), if it should not."""
    if purpose not in ("page", "help") or snap is None:
        return None
    if snap["status"] in (Status.resolved.value, Status.handed_over.value):
        return f"incident {snap['status'].replace('_', ' ')} before sending"
    if purpose == "page" and snap["status"] == Status.acknowledged.value:
        return "incident acknowledged before sending"
    return None


_N, _M = Notification.__table__, ContactMethod.__table__
_U = User.__table__
# A claimed page, with whom and through which method it goes (Sender.prepare).
_CLAIMED = (select(_N, _U.c.name.label("user_name"), _M.c.id.label("method_id"), _M.c.enabled.label("method_enabled"),
                   _M.c.kind.label("method_kind"), _M.c.address.label("method_address"),
                   _M.c.label.label("method_label"), _M.c.push_p256dh.label("method_p256dh"),
                   _M.c.push_auth.label("method_auth"))
            .select_from(_N.outerjoin(_U, _U.c.id == _N.c.user_id).outerjoin(_M, _M.c.id == _N.c.contact_method_id))
            .where(bulk.among(_N.c.id)))
_I = Incident.__table__
_DELIVERED = (select(_N.c.id, _N.c.kind, _N.c.purpose, _N.c.incident_id, _N.c.contact_method_id, _N.c.address, _N.c.client_id,
                     _U.c.name.label("user_name"), _M.c.label, _M.c.address.label("method_address"),
                     _I.c.client_id.label("incident_client_id"))
              .select_from(_N.outerjoin(_U, _U.c.id == _N.c.user_id).outerjoin(_M, _M.c.id == _N.c.contact_method_id)
                           .outerjoin(_I, _I.c.id == _N.c.incident_id))
              .where(bulk.among(_N.c.id)))
_P = PageIncident.__table__
# A bundled page's incidents (notify/plan.bundle), with their clients: its first incident first.
_BUNDLED = (select(_P.c.notification_id, _P.c.incident_id, _I.c.client_id)
            .select_from(_P.join(_I, _I.c.id == _P.c.incident_id))
            .where(bulk.among(_P.c.notification_id)).order_by(_P.c.notification_id, _P.c.incident_id))


def bundles_of(conn: Any, notification_ids: list[int]) -> dict[int, list[tuple[int, int]]]:
    """The bundled pages among these, with their incidents (id, client id) in incident order;
    a page that is not bundled is not in it."""
    out: dict[int, list[tuple[int, int]]] = {}
    if notification_ids:
        for r in conn.execute(_BUNDLED, {"ids": notification_ids}):
            out.setdefault(r.notification_id, []).append((r.incident_id, r.client_id))
    return out


_DETAILS = select(_I.c.id, _I.c.details).where(bulk.among(_I.c.id))
_ATTACHMENTS = select(NotificationAttachment.__table__).where(
    bulk.among(NotificationAttachment.__table__.c.notification_id)
).order_by(NotificationAttachment.__table__.c.id)
_REACHED = update(_M).where(_M.c.id == bindparam("b_id")).values(last_success_at=bindparam("b_at"))


@dataclass
class _Delivered:
    """A recording batch's delivered pages, the common outcome: read in one statement (the pages
    with their person, method and incident's client) and written in three (the attempts, the
    pages, the methods) plus the timeline lines and events at commit, where the unit of work
    would load, then flush, each one by one. A delivery changes nothing of its incident: its
    event carries the incident's id only (a partial snapshot, as a repeated alert's), and
    screens showing the incident read its timeline again."""

    pages_read: dict[int, Any] = field(default_factory=dict)
    bundled: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # bundles_of
    attempts: list[dict[str, Any]] = field(default_factory=list)
    pages: list[dict[str, Any]] = field(default_factory=list)
    methods: dict[int, datetime] = field(default_factory=dict)  # a method's last success, once a batch

    @classmethod
    def read(cls, s: Session, ids: list[int]) -> _Delivered:
        out = cls()
        if not ids:
            return out
        out.pages_read = {r.id: r for r in s.connection().execute(_DELIVERED, {"ids": ids})}
        out.bundled = bundles_of(s.connection(), [r.id for r in out.pages_read.values() if r.purpose == "page"])
        return out

    def record(self, s: Session, nid: int, msg: Any, result: Delivered, started: datetime, now: datetime,
               latency: int) -> None:
        n = self.pages_read.get(nid)
        if n is None:
            return
        address = getattr(msg, "address", "") or (n.method_address or "")
        self.attempts.append({
            "notification_id": n.id, "channel": n.kind, "target": _target_text(n.kind, address, msg),
            "started_at": started, "finished_at": now, "latency_ms": latency, "status_code": result.status_code,
            "provider_answer": answer_text(result.answer) if result.answer else None, "outcome": "sent", "error": None,
        })
        self.pages.append({"id": n.id, "status": "sent", "sent_at": now, "provider_id": result.provider_id,
                           "lease_until": None, "last_error": None})
        if n.contact_method_id is not None:
            self.methods[n.contact_method_id] = max(now, self.methods.get(n.contact_method_id, now))
        if n.incident_client_id is not None:  # the page's incident exists
            message = f"{_where_text(n.kind, n.user_name, n.label, n.address)}: delivered in {latency} ms."
            # A bundle's delivery is on the timeline of each of its incidents (the proof is per
            # incident), and told to screens in one event per client, naming its incidents there.
            members = self.bundled.get(n.id) or [(n.incident_id, n.incident_client_id)]
            if n.id in self.bundled and msg is not None:  # those it named: not those answered before it went
                named = set(msg.extra.get("bundle") or ([msg.incident["id"]] if msg.incident else []))
                members = [m for m in members if m[0] in named] or members
            for incident_id, _ in members:
                note_id(s, incident_id, "delivered", incidents.Actor.system("notifications"), message, now,
                        at_commit=True, notification=n.id, channel=n.kind, latency_ms=latency)
            by_client: dict[int, list[int]] = {}
            for incident_id, client_id in members:
                by_client.setdefault(client_id, []).append(incident_id)
            for client_id, ids in by_client.items():
                data: dict[str, Any] = {"incident": {"id": ids[0]}, "message": message}
                if len(members) > 1:
                    data["incidents"] = ids
                events.publish(s, "incident.notified", now=now, incident_id=ids[0], client_id=client_id, data=data)

    def write(self, s: Session) -> None:
        conn = s.connection()
        bulk.insert_rows(conn, DeliveryAttempt.__table__, self.attempts)
        bulk.update_rows(conn, _N, self.pages)
        bulk.update_rows(conn, _M, [{"id": m, "last_success_at": at} for m, at in sorted(self.methods.items())])


_WITH_NAMES = [joinedload(Incident.client), joinedload(Incident.service)]  # what snapshot() reads


def _preload(s: Session, notification_ids: list[int]) -> list[Any]:
    """Load a batch's notifications and incidents in two queries; _record then finds them in
    the session instead of asking one by one, as long as the caller keeps what this returns
    (the identity map holds objects weakly: dropped, they would be loaded again one by one)."""
    found: list[Any] = list(s.execute(select(Notification).where(Notification.id.in_(notification_ids)).options(
        joinedload(Notification.user), joinedload(Notification.contact_method))).scalars().all())
    incident_ids = {n.incident_id for n in found if n.incident_id}
    if incident_ids:
        found += s.execute(select(Incident).where(Incident.id.in_(incident_ids)).options(*_WITH_NAMES)).unique().scalars().all()
    return found


def _lock_incident(s: Session, incident_id: int | None) -> Incident | None:
    """Race (PostgreSQL): a person's last two channels failing at once, in two transactions,
    would each still see the other as in flight, and neither would say "all channels failed".
    The incident's row lock orders them, so the second sees the first one's outcome. Taken before
    touching any notification row of the incident: the lock order of db.py."""
    if incident_id is None:
        return None
    return s.execute(select(Incident).where(Incident.id == incident_id).with_for_update(key_share=True)
                     .execution_options(populate_existing=True)).scalar_one_or_none()


def _target(n: Notification, msg: Any) -> str:
    address = getattr(msg, "address", "") or (n.contact_method.address if n.contact_method else "")
    return _target_text(n.kind, address, msg)


def _shown(kind: str, address: str) -> str:
    """An address as the records show it: a push endpoint's or a webhook's host only (their URLs
    are capabilities, not something to show around), a phone number or an e-mail address whole."""
    if kind in ("push", "webhook"):
        return urlsplit(address).hostname or f"{kind} service"
    return address


def _target_text(kind: str, address: str, msg: Any) -> str:
    """Where an attempt went, for the record."""
    address = _shown(kind, address)
    label = getattr(msg, "extra", {}).get("label") or ""
    return (address + (f" ({label})" if label else ""))[:300]


def _where(n: Notification) -> str:
    return _where_text(n.kind, n.user.name if n.user is not None else None,
                       n.contact_method.label if n.contact_method else None, n.address)


def _where_text(kind: str, user_name: str | None, label: str | None, address: str | None) -> str:
    names = {"push": "Push", "sms": "SMS", "voice": "Voice call", "email": "E-mail", "webhook": "Webhook",
             "recording": "Recording"}
    who = user_name if user_name is not None else (_shown(kind, address) if address else "someone")
    return f"{names.get(kind, kind)} to {who}" + (f" ({label})" if label else "")
