"""Logging in: the password step, the second step (a TOTP code, or enrolling when an admin
requires it), and the server-side record of every logged-in device.

Every step counts against the login throttle before it checks anything, writes an audit entry
(success, failure, lockout), and checks the password with no database transaction open (argon2
takes a noticeable fraction of a second; on SQLite an open write transaction would hold up
alert intake meanwhile).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from .. import audit
from ..clients.crypto import Vault
from ..models import LoginSession, User
from . import throttle, totp
from .users import find_by_email, verify_password

SEEN_EVERY = timedelta(hours=1)  # how fresh a device's "last seen" is kept (one write an hour)
WRONG = "Wrong e-mail or password. Check both and try again (an admin can reset a forgotten password)."


@dataclass
class Step:
    outcome: str  # in | totp | enrol | refused | locked
    message: str = ""
    user: User | None = None


def _locked(session: Session, user: User | None, email: str, until: datetime, now: datetime,
            ip: str | None, ua: str | None) -> Step:
    audit.record(session, "login.locked", actor=user or f"unknown account {email[:200]!r}", at=now, ip=ip,
                 user_agent=ua, until=until.isoformat())
    session.commit()
    minutes = max(1, int((until - now).total_seconds() + 59) // 60)
    return Step("locked", f"Too many attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}.")


def password_step(session: Session, config: dict[str, Any], email: str, password: str, now: datetime,
                  ip: str | None, ua: str | None) -> Step:
    email = email.strip()[:254]
    user = find_by_email(session, email) if email else None
    until = throttle.reserve(session, config, email, ip, now)
    # Committed: every worker sees the count before the password is checked, and no transaction
    # (on SQLite, no write lock) is open while argon2 works.
    session.commit()
    if until is not None:
        return _locked(session, user, email, until, now, ip, ua)
    stored = user.password_hash if user is not None and user.active else None
    ok, new_hash = verify_password(stored, password)
    if not ok:
        audit.record(session, "login.failed", actor=user or f"unknown account {email[:200]!r}", at=now, ip=ip,
                     user_agent=ua, factor="password")
        session.commit()
        return Step("refused", WRONG)
    assert user is not None
    throttle.succeeded(session, config, email, ip)
    if new_hash:
        user.password_hash = new_hash
    if totp.enabled(user):
        session.commit()
        return Step("totp", user=user)
    if totp.required_for(session, user):
        session.commit()
        return Step("enrol", user=user)
    return Step("in", user=user)


def pending_user(session: Session, user_id: Any, version: Any) -> User | None:
    """The user half-way through logging in, if still valid (a password reset ends it)."""
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or user.session_version != version:
        return None
    return user


def totp_step(session: Session, config: dict[str, Any], vault: Vault, user: User, code: str, now: datetime,
              ip: str | None, ua: str | None) -> Step:
    until = throttle.reserve(session, config, user.email, ip, now)
    session.commit()
    if until is not None:
        return _locked(session, user, user.email, until, now, ip, ua)
    if totp.verify(session, vault, user, code, now):
        throttle.succeeded(session, config, user.email, ip)
        return Step("in", user=user)
    audit.record(session, "login.failed", actor=user, at=now, ip=ip, user_agent=ua, factor="totp")
    session.commit()
    return Step("refused", "That code is not right, or it was already used. Wait for the next one.")


def enrol_step(session: Session, config: dict[str, Any], vault: Vault, user: User, secret: str, code: str,
               now: datetime, ip: str | None, ua: str | None) -> Step:
    until = throttle.reserve(session, config, user.email, ip, now)
    session.commit()
    if until is not None:
        return _locked(session, user, user.email, until, now, ip, ua)
    if totp.enable(session, vault, user, secret, code, now):
        throttle.succeeded(session, config, user.email, ip)
        return Step("in", user=user)
    session.commit()
    return Step("refused", "That code is not right: check the phone's clock, and type the code now shown.")


def start_session(session: Session, user: User, now: datetime, ip: str | None, ua: str | None, factor: str,
                  *, keep_days: int = 14) -> str:
    """Record the new logged-in device; its id goes in the (signed) session cookie. The user's
    ended sessions, and those unused for longer than a cookie lives, are forgotten."""
    session.execute(delete(LoginSession).where(
        LoginSession.user_id == user.id,
        LoginSession.revoked_at.is_not(None) | (LoginSession.last_seen_at < now - timedelta(days=keep_days) - SEEN_EVERY),
    ))
    sid = secrets.token_urlsafe(32)
    session.add(LoginSession(id=sid, user_id=user.id, created_at=now, last_seen_at=now, ip=(ip or None) and ip[:64],
                             user_agent=(ua or "")[:400] or None))
    audit.record(session, "login.succeeded", actor=user, at=now, ip=ip, user_agent=ua, factor=factor)
    return sid


def live_session(session: Session, user: User, sid: Any, now: datetime, *, touch: bool = True) -> LoginSession | None:
    if not isinstance(sid, str):
        return None
    row = session.get(LoginSession, sid)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        return None
    if touch and now - row.last_seen_at >= SEEN_EVERY:
        row.last_seen_at = now  # committed by web.authenticate, before the view runs
    return row


def end_session(session: Session, sid: Any, now: datetime) -> None:
    if isinstance(sid, str):
        session.execute(update(LoginSession).where(LoginSession.id == sid, LoginSession.revoked_at.is_(None))
                        .values(revoked_at=now))


def end_all_sessions(session: Session, user: User, now: datetime) -> None:
    session.execute(update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
                    .values(revoked_at=now))


def devices(session: Session, user: User) -> list[LoginSession]:
    return list(session.execute(
        select(LoginSession).where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
        .order_by(LoginSession.last_seen_at.desc())
    ).scalars())
