"""Runbooks: managers write them per client (optionally per service); the client's engineers read
them from the incident. Client viewers never see them (they hold operational detail)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import access, audit
from ..access import Denied
from ..models import Incident, Runbook, Service, User

MAX_BODY = 100_000


class RunbookError(ValueError):
    pass


def _check_read(session: Session, user: User, client_id: int) -> None:
    if user.has_role("client_viewer") or not access.can_see_client(session, user, client_id):
        raise Denied("runbook not found", 404)


def for_client(session: Session, user: User, client_id: int) -> list[Runbook]:
    _check_read(session, user, client_id)
    return list(session.execute(select(Runbook).where(Runbook.client_id == client_id).order_by(Runbook.title)).scalars())


def for_incident(session: Session, user: User, inc: Incident) -> list[Runbook]:
    """The client's general runbooks and those of the incident's service."""
    if user.has_role("client_viewer"):
        return []
    _check_read(session, user, inc.client_id)
    return list(session.execute(
        select(Runbook).where(Runbook.client_id == inc.client_id,
                              or_(Runbook.service_id.is_(None), Runbook.service_id == inc.service_id))
        .order_by(Runbook.service_id.is_(None), Runbook.title)
    ).scalars())


def get(session: Session, user: User, runbook_id: int) -> Runbook:
    rb = session.get(Runbook, runbook_id)
    if rb is None:
        raise Denied("runbook not found", 404)
    _check_read(session, user, rb.client_id)
    return rb


def save(session: Session, user: User, client_id: int, *, title: str, body: str, service_id: int | None,
         now: datetime, runbook: Runbook | None = None) -> Runbook:
    access.check_manage_client(session, user, client_id)
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise RunbookError("a runbook needs a title of at most 200 characters")
    if len(body or "") > MAX_BODY:
        raise RunbookError(f"a runbook is at most {MAX_BODY} characters")
    if service_id is not None:
        svc = session.get(Service, service_id)
        if svc is None or svc.client_id != client_id:
            raise RunbookError("that service belongs to another client")
    if runbook is None:
        runbook = Runbook(client_id=client_id, created_at=now)
        session.add(runbook)
    runbook.title, runbook.body, runbook.service_id = title, body or "", service_id
    runbook.updated_at, runbook.updated_by_id = now, user.id
    session.flush()
    audit.record(session, "runbook.saved", actor=user, client_id=client_id, at=now, target=f"runbook #{runbook.id}",
                 title=title)
    return runbook


def delete(session: Session, user: User, runbook: Runbook, now: datetime) -> None:
    access.check_manage_client(session, user, runbook.client_id)
    audit.record(session, "runbook.deleted", actor=user, client_id=runbook.client_id, at=now,
                 target=f"runbook #{runbook.id}", title=runbook.title)
    session.delete(runbook)
