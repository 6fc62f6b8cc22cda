"""Changing a person: their details, role, and whether they may log in and be paged. Service
functions with validation; a refusal raises EditError with a message fit for a form; audited."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit
from ..errors import EditError
from ..models import Role, User
from ..notify.contacts import EMAIL_RE, PHONE_RE
from . import logins


def update_user(session: Session, actor: User, user: User, *, name: str, email: str, role: str, phone: str | None,
                client_id: int | None, now: datetime) -> User:
    if user.has_role(Role.admin) and not actor.has_role(Role.admin):
        raise EditError("only an admin can change an admin")
    if role == Role.admin.value and not actor.has_role(Role.admin):
        raise EditError("only an admin can make someone an admin")
    if role not in {r.value for r in Role}:
        raise EditError(f"the role must be one of {', '.join(r.value.replace('_', ' ') for r in Role)}")
    if user.id == actor.id and role != user.role:
        raise EditError("you cannot change your own role: ask another admin")
    name, email = (name or "").strip(), (email or "").strip().lower()
    if not name:
        raise EditError("a name is required")
    if not EMAIL_RE.match(email):
        raise EditError("that is not an e-mail address")
    if session.execute(select(User.id).where(func.lower(User.email) == email, User.id != user.id)).first():
        raise EditError("another person already has that e-mail")
    phone = re.sub(r"[\s().-]", "", phone or "") or None
    if phone and not PHONE_RE.match(phone):
        raise EditError("the phone number must be in international form, like +33612345678")
    if role == Role.client_viewer.value and client_id is None:
        raise EditError("a client viewer belongs to a client: choose it")
    user.name, user.email, user.role, user.phone = name, email, role, phone
    user.client_id = client_id if role == Role.client_viewer.value else None
    session.flush()
    audit.record(session, "user.updated", actor=actor, at=now, target=f"user:{user.id}", user=user.email)
    return user


def set_active(session: Session, actor: User, user: User, active: bool, now: datetime) -> None:
    """Deactivate (cannot log in, is never paged, every session ends; the history keeps the
    name) or reactivate a person."""
    if user.id == actor.id:
        raise EditError("you cannot deactivate yourself")
    if user.has_role(Role.admin) and not actor.has_role(Role.admin):
        raise EditError("only an admin can deactivate an admin")
    if user.active == active:
        return
    user.active = active
    if not active:
        user.session_version += 1
        logins.end_all_sessions(session, user, now)
    audit.record(session, "user.deactivated" if not active else "user.reactivated", actor=actor, at=now,
                 target=f"user:{user.id}", user=user.email)
