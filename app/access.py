"""Who may see and do what. Checked in the service layer, not only in views.

- admin, manager: every client.
- engineer: the clients of the pools they belong to.
- client viewer: their own client only, read-only.
Invisible objects answer 404 (their existence is not disclosed); visible but forbidden, 403.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from .db import is_id
from .errors import Denied
from .models import Client, Incident, Pool, PoolMember, Role, Schedule, User


def visible_client_ids(session: Session, user: User) -> set[int] | None:
    """The client ids a user may see; None means all of them."""
    if user.has_role(Role.admin, Role.manager):
        return None
    if user.has_role(Role.client_viewer):
        return {user.client_id} if user.client_id else set()
    pools = select(PoolMember.pool_id).where(PoolMember.user_id == user.id)
    return set(session.execute(select(Client.id).where(Client.pool_id.in_(pools))).scalars())


def visible_incidents(
    session: Session, user: User, statuses: list[str] | tuple[str, ...], *, limit: int, before_id: int | None = None
) -> list[Incident]:
    """The incidents of these statuses the user may see, newest first, with client and service."""
    q = (
        select(Incident)
        .where(Incident.status.in_(statuses))
        .options(joinedload(Incident.client), joinedload(Incident.service))
        .order_by(Incident.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        q = q.where(Incident.id < before_id)
    visible = visible_client_ids(session, user)
    if visible is not None:
        q = q.where(Incident.client_id.in_(visible))
    return list(session.execute(q).unique().scalars())


def can_see_client(session: Session, user: User, client_id: int) -> bool:
    ids = visible_client_ids(session, user)
    return ids is None or client_id in ids


def check_see_incident(session: Session, user: User, inc: Incident | None) -> Incident:
    if inc is None or not can_see_client(session, user, inc.client_id):
        raise Denied("incident not found", 404)
    return inc


def check_act_on_incident(session: Session, user: User, inc: Incident | None) -> Incident:
    inc = check_see_incident(session, user, inc)
    if not user.has_role(Role.admin, Role.manager, Role.engineer):
        raise Denied("your role cannot act on incidents")
    return inc


def require_role(user: User, *roles: Role) -> None:
    if not user.has_role(*roles):
        raise Denied("your role cannot do this")


def is_staff(user: User) -> bool:
    """Admins and managers: they configure clients, keys and connection info."""
    return user.has_role(Role.admin, Role.manager)


def client_by_slug(session: Session, user: User, slug: str) -> Client:
    """A client the user may see, by its short name; 404 otherwise."""
    client = session.execute(select(Client).where(Client.slug == slug)).scalar_one_or_none()
    if client is None or not can_see_client(session, user, client.id):
        raise Denied("client not found", 404)
    return client


def check_client_exists(session: Session, client_id: int) -> Client:
    client = session.get(Client, client_id)
    if client is None:
        raise Denied("client not found", 404)
    return client


def check_see_connections(session: Session, user: User, client_id: int) -> Client:
    """Connection info of a client: its engineers (the pool's), managers and admins. A client
    viewer is never told that connection info exists, even for its own client: 404."""
    if user.has_role(Role.client_viewer) or not can_see_client(session, user, client_id):
        raise Denied("client not found", 404)
    return check_client_exists(session, client_id)


def check_manage_connections(session: Session, user: User, client_id: int) -> Client:
    client = check_see_connections(session, user, client_id)
    if not is_staff(user):
        raise Denied("only managers and admins manage connection info")
    return client


def check_manage_client(session: Session, user: User, client_id: int) -> Client:
    """Integration keys and other client configuration: managers and admins."""
    if not can_see_client(session, user, client_id):
        raise Denied("client not found", 404)
    client = check_client_exists(session, client_id)
    if not is_staff(user):
        raise Denied("only managers and admins configure clients")
    return client


def check_ingest(session: Session, user: User, client_id: int) -> Client:
    """Posting alerts with an API token: people who may act on the client's incidents."""
    if not can_see_client(session, user, client_id):
        raise Denied("service not found", 404)
    client = check_client_exists(session, client_id)
    if not user.has_role(Role.admin, Role.manager, Role.engineer):
        raise Denied("your role cannot post alerts")
    return client


def check_paged(user: User) -> None:
    """Client viewers are never paged (accounts.users.create_user gives them no contact method
    and no rule; policies offer only staff and engineers): their role has nothing to set up here,
    403, even for a contact method of their own."""
    if not user.has_role(Role.admin, Role.manager, Role.engineer):
        raise Denied("client viewers are not paged: there are no contact methods or notification rules to manage")


# --- schedules and pools -----------------------------------------------------------------------


def schedule_pool_ids(session: Session, user: User) -> set[int] | None:
    """Pools whose schedules (and the pools themselves) a user may see; None means all. For
    objects looked up by id: a client viewer sees none, so each is hidden (404), like another
    pool's from an engineer."""
    if user.has_role(Role.admin, Role.manager):
        return None
    if not user.has_role(Role.engineer):
        return set()
    return set(session.execute(select(PoolMember.pool_id).where(PoolMember.user_id == user.id)).scalars())


def visible_pool_ids(session: Session, user: User) -> set[int] | None:
    """For the screens and lists of schedules and shifts: as schedule_pool_ids, but a client
    viewer's role is refused outright (403): it sees nothing of schedules."""
    if not user.has_role(Role.admin, Role.manager, Role.engineer):
        raise Denied("your role cannot see schedules")
    return schedule_pool_ids(session, user)


def check_see_schedule(session: Session, user: User, schedule_id: int) -> Schedule:
    """The schedule, or 404 when it does not exist or the user may not see it. Views that
    change it check this first, then require_manager: visible but forbidden is 403."""
    pools = schedule_pool_ids(session, user)
    row = session.get(Schedule, schedule_id) if is_id(schedule_id) else None
    if row is None or (pools is not None and row.pool_id not in pools):
        raise Denied("schedule not found", 404)
    return row


def check_see_pool(session: Session, user: User, pool_id: int) -> Pool:
    """The pool, or 404 when it does not exist or the user is not in it (nor staff)."""
    pools = schedule_pool_ids(session, user)
    row = session.get(Pool, pool_id) if is_id(pool_id) else None
    if row is None or (pools is not None and row.id not in pools):
        raise Denied("pool not found", 404)
    return row


def require_manager(user: User) -> None:
    if not user.has_role(Role.admin, Role.manager):
        raise Denied("only managers and admins can change schedules")
