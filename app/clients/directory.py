"""Managing who and what Vigil covers: clients, services, pools and their members.

Service functions with validation; a refusal raises DirectoryError with a message fit for a form.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..intake.keys import forget_cached_keys
from ..models import TIERS, Client, EscalationPolicy, Pool, PoolMember, Role, Service, User

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class DirectoryError(ValueError):
    pass


def today(client: Client, now: datetime) -> date:
    """The client's today, in its own time zone: what "the last 30 days" or "last month" mean to
    it (at 00:30 in Paris it is already tomorrow in Paris, still today in UTC)."""
    return now.astimezone(ZoneInfo(client.timezone)).date()


def _name(value: str, what: str, limit: int = 200) -> str:
    value = (value or "").strip()
    if not value:
        raise DirectoryError(f"{what} is required")
    if len(value) > limit:
        raise DirectoryError(f"{what} is longer than {limit} characters")
    return value


def _timezone(value: str) -> str:
    try:
        if len(value) > 64:  # clients.timezone; no zone name is that long
            raise ValueError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        raise DirectoryError(f"unknown time zone {value[:80]!r} (e.g. Europe/Paris)") from None
    return value


def save_client(
    session: Session,
    *,
    now: datetime,
    client: Client | None = None,
    name: str,
    slug: str,
    tier: str,
    pool_id: int | None,
    policy_id: int | None,
    timezone: str = "Europe/Paris",
    handover_email: str | None = None,
) -> Client:
    name = _name(name, "a name")
    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug):
        raise DirectoryError("the short name must be 2–63 lowercase letters, digits or dashes")
    if tier not in TIERS:
        raise DirectoryError(f"the contract tier must be one of {', '.join(TIERS)}")
    clash = session.execute(select(Client.id).where(Client.slug == slug)).scalar()
    if clash is not None and (client is None or clash != client.id):
        raise DirectoryError(f"another client already uses the short name {slug!r}")
    if pool_id is not None and session.get(Pool, pool_id) is None:
        raise DirectoryError("unknown pool")
    if policy_id is None:
        raise DirectoryError("choose an escalation policy: an alert must always reach someone")
    if session.get(EscalationPolicy, policy_id) is None:
        raise DirectoryError("unknown escalation policy")
    email = (handover_email or "").strip() or None
    if email and (not EMAIL_RE.match(email) or len(email) > 254):
        raise DirectoryError("the client team's e-mail is not an e-mail address")
    if client is None:
        client = Client(created_at=now)
        session.add(client)
    client.name, client.slug, client.tier = name, slug, tier
    client.pool_id, client.policy_id = pool_id, policy_id
    client.timezone, client.handover_email = _timezone(timezone), email
    session.flush()
    forget_cached_keys()  # intake caches client facts for a few seconds
    return client


def add_service(session: Session, client: Client, name: str, *, now: datetime, policy_id: int | None = None) -> Service:
    name = _name(name, "a service name")
    if session.execute(select(Service.id).where(Service.client_id == client.id, func.lower(Service.name) == name.lower())).scalar():
        raise DirectoryError(f"{client.name} already has a service called {name!r}")
    if policy_id is not None and session.get(EscalationPolicy, policy_id) is None:
        raise DirectoryError("unknown escalation policy")
    service = Service(client_id=client.id, name=name, policy_id=policy_id, created_at=now)
    session.add(service)
    session.flush()
    return service


def save_pool(session: Session, name: str, member_ids: list[int], *, now: datetime, pool: Pool | None = None) -> Pool:
    name = _name(name, "a pool name", 120)
    clash = session.execute(select(Pool.id).where(Pool.name == name)).scalar()
    if clash is not None and (pool is None or clash != pool.id):
        raise DirectoryError(f"a pool called {name!r} already exists")
    users = session.execute(select(User).where(User.id.in_(member_ids))).scalars().all() if member_ids else []
    if any(not u.has_role(Role.engineer, Role.manager, Role.admin) for u in users):
        raise DirectoryError("only engineers, managers and admins can be in a pool")
    if pool is None:
        pool = Pool(name=name, created_at=now)
        session.add(pool)
        session.flush()
    pool.name = name
    pool.members.clear()
    session.flush()
    for u in users:
        pool.members.append(PoolMember(user_id=u.id))
    session.flush()
    return pool
