"""The audit log: who did what, to which client, when, from which address and device.

Append-only in the application: record() is the only writer, and the guards below refuse any
UPDATE or DELETE of an audit row, whether it comes from the ORM unit of work or from a Core
statement. On PostgreSQL a trigger refuses them as well (see models/security.py and the
migration), so not even a hand-written SQL statement from the app can rewrite history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Delete, Update, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .models import AuditEntry, User

_TABLE = AuditEntry.__table__


class AuditTampering(Exception):
    """An attempt to change or remove an audit entry."""


def record(
    session: Session,
    action: str,
    *,
    actor: Any,
    client_id: int | None = None,
    incident_id: int | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    at: datetime | None = None,
    target: str | None = None,
    **data: Any,
) -> AuditEntry:
    """Append one entry. `actor` is a User, an incidents.Actor, or a label (a system, or the
    e-mail typed at a failed login). In a request, the address and device default to the
    request's (behind VIGIL_PROXY_COUNT proxies, the client's real address)."""
    user, label = _who(actor)
    if ip is None or user_agent is None:
        req_ip, req_ua = request_origin()
        ip, user_agent = ip or req_ip, user_agent or req_ua
    entry = AuditEntry(
        at=at or _now(), action=action, actor_id=user.id if user else None, actor_label=label[:300],
        actor_role=user.role if user else None, client_id=client_id, incident_id=incident_id,
        target=target, ip=(ip or None) and ip[:64], user_agent=(user_agent or None) and user_agent[:400],
        data=data,
    )
    session.add(entry)
    return entry


def human(session: Session, action: str, actor: Any, inc: Any, now: datetime, **data: Any) -> None:
    """An incident action by a person (an Actor with a user); systems are on the timeline only."""
    if getattr(actor, "user", None) is not None:
        record(session, action, actor=actor, client_id=inc.client_id, incident_id=inc.id, at=now,
               target=f"incident:{inc.id}", **data)


def _who(actor: Any) -> tuple[User | None, str]:
    if isinstance(actor, User):
        return actor, f"{actor.name} <{actor.email}>"
    user = getattr(actor, "user", None)
    if isinstance(user, User):  # an incidents.Actor: keep how it came ("via SMS", "via link")
        label = f"{user.name} <{user.email}>"
        via = getattr(actor, "label", "")
        return user, label if via == user.name else f"{label} ({via})"
    if actor is None:
        return None, "system"
    return None, str(getattr(actor, "label", actor))


def request_origin() -> tuple[str | None, str | None]:
    from flask import has_request_context, request

    if not has_request_context():
        return None, None
    return request.remote_addr, request.headers.get("User-Agent")


def _now() -> datetime:
    from flask import current_app, has_app_context

    if has_app_context() and "vigil" in current_app.extensions:
        return current_app.extensions["vigil"].clock.now()  # type: ignore[no-any-return]
    from datetime import UTC

    return datetime.now(UTC)


def entries_for_client(session: Session, client_id: int, start: datetime, end: datetime) -> list[AuditEntry]:
    """What happened to one client's environment and incidents in [start, end), oldest first."""
    return list(session.execute(
        select(AuditEntry)
        .where(AuditEntry.client_id == client_id, AuditEntry.at >= start, AuditEntry.at < end)
        .order_by(AuditEntry.at, AuditEntry.id)
    ).scalars())


# --- append-only guards ----------------------------------------------------------------------


@event.listens_for(Session, "before_flush")
def _refuse_changed_entries(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditTampering("audit entries cannot be changed or deleted")


@event.listens_for(Engine, "before_execute")
def _refuse_audit_writes(conn: Any, clauseelement: Any, multiparams: Any, params: Any, options: Any) -> None:
    # Also catches session.execute(update(AuditEntry)...) and the ORM's own flush statements.
    # By name: an ORM statement carries an annotated copy of the table, not the table itself.
    if isinstance(clauseelement, Update | Delete) and getattr(clauseelement.table, "name", None) == _TABLE.name:
        raise AuditTampering("audit entries cannot be changed or deleted")


# --- words for people (the audit page and the access report) -------------------------------

DESCRIPTIONS = {
    "login.succeeded": "logged in",
    "login.failed": "failed to log in ({factor})",
    "login.locked": "was refused: too many login attempts",
    "totp.enabled": "turned on the second factor",
    "totp.disabled": "removed the second factor of {user}",
    "user.password_reset": "reset the password of {user}",
    "user.password_changed": "changed their own password",
    "user.updated": "changed the details of {user}",
    "user.deactivated": "deactivated {user}",
    "user.reactivated": "reactivated {user}",
    "policy.updated": "changed the escalation policy {name}",
    "policy.deleted": "deleted the escalation policy {name}",
    "token.created": "created API token {name} ({prefix}…)",
    "token.revoked": "revoked API token {name} ({prefix}…)",
    "key.created": "created integration key {name} ({prefix}…) for {service}",
    "key.revoked": "revoked integration key {name} ({prefix}…) of {service}",
    "heartbeat.created": "created heartbeat monitor {name} for {service}",
    "heartbeat.changed": "changed heartbeat monitor {name} of {service}",
    "heartbeat.deleted": "deleted heartbeat monitor {name} of {service}",
    "connection.revealed": "revealed connection info “{label}”",
    "connection.reveal_failed": "tried to reveal connection info “{label}” (it could not be decrypted)",
    "connection.created": "added connection info “{label}”",
    "connection.updated": "changed connection info “{label}”",
    "connection.deleted": "deleted connection info “{label}”",
    "incident.acknowledged": "acknowledged incident #{incident}",
    "incident.claimed": "took responder slot #{slot} of incident #{incident}",
    "incident.escalated": "escalated incident #{incident} by hand",
    "incident.handed_over": "handed incident #{incident} over to the client's team",
    "incident.resolved": "resolved incident #{incident}",
    "status.webhook_added": "added the status page webhook {address}",
    "status.webhook_removed": "removed the status page webhook {address}",
    "report.exported": "exported the access report of {client} ({start} to {end})",
    "settings.changed": "changed {target}",
}


class _Blank(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return "?"


def describe(e: AuditEntry) -> str:
    template = DESCRIPTIONS.get(e.action, e.action)
    return template.format_map(_Blank({**(e.data or {}), "incident": e.incident_id, "target": e.target}))
