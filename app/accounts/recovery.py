"""What an admin does for a user who is locked out or lost their phone: reset the password
(optionally removing the second factor), which also ends every session of that user."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit
from ..models import User
from . import logins, throttle, tokens, totp
from .users import UserError, hash_password, validate_password


def users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.role, User.name)).scalars())


def reset_password(
    session: Session, admin: User | str, user: User, now: datetime, *, password: str | None = None,
    clear_totp: bool = False, revoke_tokens: bool = False,
) -> str:
    """Set a new password (a generated one when none is given; it is returned to be passed on),
    log the user out everywhere, end any lockout. `admin` is the admin, or a label for the CLI."""
    if password:
        validate_password(password)
    else:
        password = secrets.token_urlsafe(12)  # 96 bits, typed once and changed
    user.password_hash = hash_password(password)
    user.session_version += 1  # every session cookie of this user stops working
    logins.end_all_sessions(session, user, now)
    throttle.unlock(session, user.email)
    audit.record(session, "user.password_reset", actor=admin, at=now, target=f"user:{user.id}", user=user.email)
    if clear_totp and totp.enabled(user):
        totp.disable(session, user, admin, now)
    if revoke_tokens and isinstance(admin, User):
        tokens.revoke_all(session, admin, user, now)
    return password


def find(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise UserError("no such user")
    return user
