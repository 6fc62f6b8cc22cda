"""Integration keys: random, shown once, stored as a SHA-256; and what a key leads to.

Intake is the hot path (hundreds of alerts a second in an alert storm), so a key resolves to a
small frozen IntakeTarget, cached per process for a few seconds: a revoked key or a changed
client setting takes effect within CACHE_SECONDS everywhere (at once in the process that made
the change).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..models import Client, EscalationPolicy, IntegrationKey, MaintenanceWindow, Service

SOURCES = ("alertmanager", "grafana", "events_v2", "generic", "email")
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class MaintenanceSpan:
    """A client's maintenance window as intake needs it (app/status/maintenance.py owns them)."""

    title: str
    starts_at: datetime
    ends_at: datetime
    service_ids: tuple[int, ...]  # empty: all the client's services
    hold: bool  # alerts are recorded but not paged until the window ends

    def covers(self, service_id: int, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at and (not self.service_ids or service_id in self.service_ids)


@dataclass(frozen=True)
class IntakeTarget:
    """Where an alert lands: a service, and what its incident needs to know about the client."""

    key_id: int | None
    source: str
    service_id: int
    service_name: str
    client_id: int
    client_name: str
    client_slug: str
    tier: str
    policy_id: int | None
    response_minutes: int | None
    coverage: dict[str, Any]
    out_of_coverage: str
    timezone: str
    revoked: bool = False
    last_used_at: datetime | None = None
    maintenance: tuple[MaintenanceSpan, ...] = ()


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    # 32 hex characters, like a PagerDuty routing key, so tools that check the format accept it.
    return secrets.token_hex(16)


def create_key(
    session: Session, service: Service, source: str, *, now: datetime, name: str = "", key: str | None = None
) -> tuple[IntegrationKey, str]:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}")
    plain = key or new_key()
    row = IntegrationKey(
        service=service, source=source, name=name or source, key_prefix=plain[:6],
        key_hash=digest(plain), created_at=now,
    )
    session.add(row)
    return row, plain


def find_key(session: Session, plain: str) -> IntegrationKey | None:
    if not plain or len(plain) > 200:
        return None
    return session.execute(select(IntegrationKey).where(IntegrationKey.key_hash == digest(plain))).scalar_one_or_none()


def revoke(session: Session, key: IntegrationKey, now: datetime) -> None:
    key.revoked_at = now
    # This process stops accepting the key at once; others within CACHE_SECONDS.
    forget_cached_keys()


_cache: dict[tuple[str, str], tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def cached(session: Session, name: str, load: Callable[[], Any]) -> Any:
    """`load()`, kept CACHE_SECONDS per database and `name` with the keys' targets (and forgotten
    with them): for the other facts intake reads on every message, e.g. where a client's mail
    lands and its mail rules."""
    cache_key = (str(session.get_bind().url), name)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(cache_key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load()
    with _cache_lock:
        _cache[cache_key] = (now + CACHE_SECONDS, value)
    return value


def forget(session: Session, name: str) -> None:
    with _cache_lock:
        _cache.pop((str(session.get_bind().url), name), None)


def forget_cached_keys() -> None:
    """Drop every cached key (after revoking one, or changing a client or service)."""
    with _cache_lock:
        _cache.clear()


def target_for_service(session: Session, service_id: int, source: str = "manual", key_id: int | None = None) -> IntakeTarget:
    s, c = Service.__table__.c, Client.__table__.c
    p = EscalationPolicy.__table__.c
    row = session.connection().execute(
        select(s.id, s.name, s.policy_id, c.id.label("client_id"), c.name.label("client_name"), c.slug, c.tier,
               c.policy_id.label("client_policy_id"), c.coverage, c.out_of_coverage, c.timezone)
        .join_from(Service.__table__, Client.__table__, s.client_id == c.id)
        .where(s.id == service_id)
    ).one()
    policy_id = row.policy_id or row.client_policy_id
    response = session.connection().execute(select(p.response_minutes).where(p.id == policy_id)).scalar() if policy_id else None
    return IntakeTarget(
        key_id=key_id, source=source, service_id=row.id, service_name=row.name, client_id=row.client_id,
        client_name=row.client_name, client_slug=row.slug, tier=row.tier, policy_id=policy_id,
        response_minutes=response, coverage=row.coverage or {"kind": "always"},
        out_of_coverage=row.out_of_coverage, timezone=row.timezone,
        maintenance=maintenance_spans(session, row.client_id),
    )


def maintenance_spans(session: Session, client_id: int) -> tuple[MaintenanceSpan, ...]:
    """The client's windows not over yet (cached with the key: a window changed in this process
    forgets the cache at once, in others within CACHE_SECONDS)."""
    m = MaintenanceWindow.__table__.c
    rows = session.connection().execute(
        select(m.title, m.starts_at, m.ends_at, m.service_ids, m.hold_pages)
        .where(m.client_id == client_id, m.state.in_(("scheduled", "in_progress"))).order_by(m.starts_at).limit(50)
    ).all()
    return tuple(MaintenanceSpan(r.title, r.starts_at, r.ends_at, tuple(int(i) for i in r.service_ids or ()), r.hold_pages)
                 for r in rows)


def target_cached(session: Session, service_id: int, source: str) -> IntakeTarget:
    """target_for_service, cached like a key's target (CACHE_SECONDS): for sources without a key
    (client e-mail), which may bring hundreds of messages a second too."""
    return cached(session, f"service:{service_id}:{source}",  # type: ignore[no-any-return]
                  lambda: target_for_service(session, service_id, source))


def lookup(session: Session, plain: str) -> IntakeTarget | None:
    """The target of an integration key (revoked ones included: the caller refuses them)."""
    if not plain or len(plain) > 200:
        return None
    h = digest(plain)

    def load() -> IntakeTarget | None:
        k = IntegrationKey.__table__.c
        row = session.connection().execute(
            select(k.id, k.service_id, k.source, k.revoked_at, k.last_used_at).where(k.key_hash == h)
        ).first()
        if row is None:
            return None
        base = target_for_service(session, row.service_id, row.source, row.id)
        return IntakeTarget(**{**base.__dict__, "revoked": row.revoked_at is not None, "last_used_at": row.last_used_at})

    return cached(session, h, load)  # type: ignore[no-any-return]


def touch(session: Session, target: IntakeTarget, now: datetime, every_seconds: float = 60.0) -> None:
    """Record that a key was used: at most once a minute (it is for humans, not for billing)."""
    if target.key_id is None:
        return
    if target.last_used_at is not None and (now - target.last_used_at).total_seconds() < every_seconds:
        return
    k = IntegrationKey.__table__.c
    session.connection().execute(update(IntegrationKey.__table__).where(k.id == target.key_id).values(last_used_at=now))
    with _cache_lock:
        for ck, (exp, t) in list(_cache.items()):
            if isinstance(t, IntakeTarget) and t.key_id == target.key_id:
                _cache[ck] = (exp, IntakeTarget(**{**t.__dict__, "last_used_at": now}))
