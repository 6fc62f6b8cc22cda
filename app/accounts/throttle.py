"""Login rate limiting and temporary lockout, per account and per client address.

Counters live in the database, so every gunicorn worker and host sees the same ones. An attempt
is counted *before* the password is checked (an atomic upsert that returns the new count): of
many simultaneous guesses, each gets its own number, and those past the limit are refused
without being checked. A success clears the account's counter and gives the address its
attempt back, so an office behind one address is not locked out by its own logins.

The account key is a hash of the e-mail as typed, whether or not such an account exists: the
answers (and their timing) are the same either way, so the limiter does not reveal accounts.

Trade-off: anyone can lock an account for LOGIN_LOCK_MINUTES by failing to log in as it. A
phone keeps its session for weeks (VIGIL_SESSION_DAYS) and an admin can unlock at once (a
password reset clears the counter), which we judged better than unlimited guessing.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, literal, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..models import LoginThrottle

_T = LoginThrottle.__table__
_INSERT = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def account_key(email: str) -> str:
    return "account:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def ip_key(ip: str | None) -> str:
    return f"ip:{ip or 'unknown'}"[:80]


def _limits(config: dict[str, Any], email: str, ip: str | None) -> list[tuple[str, int]]:
    return [(account_key(email), config["LOGIN_MAX_FAILURES"]), (ip_key(ip), config["LOGIN_MAX_FAILURES_PER_IP"])]


def reserve(session: Session, config: dict[str, Any], email: str, ip: str | None, now: datetime) -> datetime | None:
    """Count one attempt for the account and the address. Returns the instant until which the
    attempt must be refused, or None when it may go ahead. Commit before checking the password
    (so the count is seen by everyone, and no lock is held while argon2 works)."""
    window = timedelta(minutes=config["LOGIN_LOCK_MINUTES"])
    locked: datetime | None = None
    for key, limit in _limits(config, email, ip):
        attempts, until = _bump(session, key, now, window)
        if until is not None and until > now:
            locked = max(locked or until, until)
        elif attempts > limit:
            until = now + window
            # The window restarts with the lock: when the lock ends, so does the count.
            session.execute(update(_T).where(_T.c.key == key).values(locked_until=until, attempts=0, window_start=now))
            locked = max(locked or until, until)
    _forget_stale(session, now, window)
    return locked


def _bump(session: Session, key: str, now: datetime, window: timedelta) -> tuple[int, datetime | None]:
    stale = _T.c.window_start < literal(now - window, _T.c.window_start.type)
    fresh_now = literal(now, _T.c.window_start.type)
    insert = _INSERT[session.get_bind().dialect.name](_T).values(key=key, attempts=1, window_start=now, locked_until=None)
    stmt = insert.on_conflict_do_update(
        index_elements=[_T.c.key],
        set_={"attempts": case((stale, 1), else_=_T.c.attempts + 1),
              "window_start": case((stale, fresh_now), else_=_T.c.window_start)},
    ).returning(_T.c.attempts, _T.c.locked_until)
    attempts, until = session.execute(stmt).one()
    return int(attempts), until


def succeeded(session: Session, config: dict[str, Any], email: str, ip: str | None) -> None:
    session.execute(delete(_T).where(_T.c.key == account_key(email), _T.c.locked_until.is_(None)))
    session.execute(update(_T).where(_T.c.key == ip_key(ip), _T.c.attempts > 0).values(attempts=_T.c.attempts - 1))


def unlock(session: Session, email: str) -> None:
    """An admin vouches for the account (password reset): its lockout ends now."""
    session.execute(delete(_T).where(_T.c.key == account_key(email)))


def locked_until(session: Session, email: str, now: datetime) -> datetime | None:
    row = session.get(LoginThrottle, account_key(email))
    return row.locked_until if row is not None and row.locked_until and row.locked_until > now else None


def _forget_stale(session: Session, now: datetime, window: timedelta) -> None:
    # Keeps the table as small as the attacks of the last window.
    cutoff = now - window
    session.execute(delete(_T).where(
        _T.c.window_start < literal(cutoff, _T.c.window_start.type),
        (_T.c.locked_until.is_(None)) | (_T.c.locked_until < literal(now, _T.c.locked_until.type)),
    ))
