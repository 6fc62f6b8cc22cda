"""Security models: the append-only audit log, API tokens, encrypted connection info, login
throttles and server-side login sessions.

The audit table has no foreign keys on purpose: an entry must outlive the user, client or
incident it names (and a cascading SET NULL would be an UPDATE, which the table refuses).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DDL, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .core import Base, BigId, Client, User

__all__ = ["ApiToken", "AuditEntry", "ConnectionInfo", "LoginSession", "LoginThrottle"]


class AuditEntry(Base):
    """Who did what, when, from where. Written by app/audit.py only; never updated or deleted
    (an ORM guard in audit.py, and a trigger on PostgreSQL)."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_client_at", "client_id", "at"),
        Index("ix_audit_entries_actor_at", "actor_id", "at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(48))  # login.succeeded, connection.revealed, incident.acknowledged...
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_label: Mapped[str] = mapped_column(String(300), default="")  # name and e-mail, kept as they were then
    actor_role: Mapped[str | None] = mapped_column(String(16))
    client_id: Mapped[int | None] = mapped_column(Integer)
    incident_id: Mapped[int | None] = mapped_column(Integer)
    target: Mapped[str | None] = mapped_column(String(200))  # "connection:12", "token:3"...
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION vigil_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'audit_entries is append-only: ' || TG_OP || ' refused';
END;
$$ LANGUAGE plpgsql
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
FOR EACH ROW EXECUTE FUNCTION vigil_audit_append_only()
"""
# The migration installs the same trigger; this makes create_all() (tests) match it. (No "%"
# in the SQL: DDL() formats its text.)
for _ddl in (APPEND_ONLY_FUNCTION, APPEND_ONLY_TRIGGER):
    event.listen(AuditEntry.__table__, "after_create", DDL(_ddl).execute_if(dialect="postgresql"))


class ApiToken(Base):
    """A personal API token: random, shown once, stored as a SHA-256, limited to its scopes."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists so a token can be recognised
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(64))  # space-separated: read ingest write
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    last_used_ip: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())


class ConnectionInfo(Base):
    """How to get into a client's environment. Only `kind` and `label` are in the clear; the
    host, user, jump host, VPN profile, instructions, password and key are one encrypted blob."""

    __tablename__ = "connection_infos"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # ssh | vpn | bastion | other
    label: Mapped[str] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(Text)  # Fernet token of the JSON payload (app/clients/crypto.py)
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    client: Mapped[Client] = relationship()


class LoginThrottle(Base):
    """Login attempts counted per account (a hash of the e-mail typed, whether or not such an
    account exists) and per client address, in the database so every worker sees them."""

    __tablename__ = "login_throttles"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)  # "account:<sha256>" | "ip:<address>"
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class LoginSession(Base):
    """One logged-in browser or phone. The signed cookie names it; logging out (or an admin)
    revokes it here, so a copied cookie dies with the session instead of living on."""

    __tablename__ = "login_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # random, in the session cookie
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    revoked_at: Mapped[datetime | None]
