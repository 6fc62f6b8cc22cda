"""Passwords (argon2), users and their default ways of being reached."""

from __future__ import annotations

import re
from datetime import datetime

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Client, ContactMethod, Role, User
from ..notify.contacts import EMAIL_RE, PHONE_RE
from ..notify.plan import default_rules

_hasher = PasswordHasher()  # RFC 9106 low-memory profile: ~0.3 s per hash on a small server


def use_hash_profile(name: str) -> None:
    """Choose argon2 parameters by profile name (tests use CHEAPEST; each hash records its own
    parameters, so existing hashes keep verifying and are upgraded at next login)."""
    global _hasher
    _hasher = PasswordHasher.from_parameters(getattr(profiles, name))


MIN_PASSWORD = 10


class UserError(ValueError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    ok, new_hash = verify_password(user.password_hash, password)
    if new_hash:
        user.password_hash = new_hash
    return ok


def verify_password(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    """(whether it matches, a fresh hash when the stored one uses old parameters). Works on the
    stored hash alone, so callers can check it with no database transaction open."""
    if not password_hash:
        _hasher.hash(password)  # same work either way: no timing hint that the account exists
        return False, None
    try:
        _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False, None
    return True, _hasher.hash(password) if _hasher.check_needs_rehash(password_hash) else None


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")


def find_by_email(session: Session, email: str) -> User | None:
    return session.execute(select(User).where(func.lower(User.email) == email.strip().lower())).scalar_one_or_none()


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: str,
    password: str | None,
    now: datetime,
    phone: str | None = None,
    client_id: int | None = None,
) -> User:
    email = email.strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise UserError("that is not an e-mail address")
    if not name.strip():
        raise UserError("a name is required")
    if len(name.strip()) > 200:
        raise UserError("a name is at most 200 characters")
    if role not in {r.value for r in Role}:
        raise UserError(f"role must be one of {', '.join(r.value for r in Role)}")
    if role == Role.client_viewer.value and client_id is None:
        raise UserError("a client viewer belongs to a client")
    if client_id is not None and session.get(Client, client_id) is None:
        raise UserError("unknown client")
    if phone:
        phone = re.sub(r"[\s().-]", "", phone)
        if not PHONE_RE.match(phone):
            raise UserError("the phone number must be in international form, like +33612345678")
    if find_by_email(session, email):
        raise UserError("a user with that e-mail already exists")
    if password is not None:
        validate_password(password)
    user = User(
        email=email, name=name.strip(), role=role, phone=phone or None, client_id=client_id,
        password_hash=hash_password(password) if password else None, created_at=now,
    )
    session.add(user)
    if role != Role.client_viewer.value:
        user.contact_methods.append(ContactMethod(kind="email", address=email, label="work e-mail", created_at=now))
        if phone:
            user.contact_methods.append(ContactMethod(kind="sms", address=phone, label="mobile", created_at=now))
            user.contact_methods.append(ContactMethod(kind="voice", address=phone, label="mobile", created_at=now))
        user.notification_rules.extend(default_rules(user))
    return user
