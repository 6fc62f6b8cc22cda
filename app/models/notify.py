"""Notification tables: one-time acknowledgement links, and the provider webhooks already seen.

Contact methods, rules, notifications and delivery attempts live in core.py (the engine and the
escalation planner read them on every tick)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .core import Base, BigId, Incident, User


class AckToken(Base):
    """A one-time, expiring credential carried by a notification ("tap to acknowledge"), bound to
    one user and one incident. Only a SHA-256 of the token is stored: it is random and long, so a
    fast hash is enough, and a database leak does not hand out working links."""

    __tablename__ = "ack_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # Who used it and how ("op-…" from the page or the service worker, "voice:CA…"): the same
    # operation again gets the first answer back instead of "already used".
    used_op_id: Mapped[str | None] = mapped_column(String(100))

    user: Mapped[User] = relationship()
    incident: Mapped[Incident] = relationship()


class InboundMessage(Base):
    """A provider webhook we acted on (an SMS reply), by the provider's id: a replayed request
    carries the same id and is refused, even with a valid signature."""

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("provider", "provider_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str] = mapped_column(String(64))
    from_address: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(String(1600))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[datetime]
