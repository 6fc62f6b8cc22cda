"""Notification tables: the notifications to send and each attempt at sending one, one-time
acknowledgement links, and the provider webhooks already seen.

A user's contact methods and notification rules live in core.py, beside the User that owns them
(its relationships delete them with it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .core import Base, BigId, ContactMethod, Incident, User


class Notification(Base):
    """A message that must reach one contact method of a user, or one address of someone who is
    not a user (a client's contact: see notify/outbound.py). Written before sending (pending),
    claimed with a lease (sending), then sent or failed; an expired lease is retried."""

    __tablename__ = "notifications"
    __table_args__ = (
        # The backstop of "exactly once": a step can reach a contact method only once.
        UniqueConstraint("firing_id", "contact_method_id"),
        Index("ix_notifications_due", "status", "not_before"),
        # Partial (migration 0019): a page's row is written and then updated once or twice, each
        # version an entry in every index that holds it, and most pages have no client and no
        # once_key. (A query by `column = :value` implies `column IS NOT NULL`, on both databases,
        # so these indexes serve it; a partial index by state would not serve `status = :value`
        # in PostgreSQL's prepared plans.)
        Index("ix_notifications_client_id", "client_id",
              postgresql_where=text("client_id IS NOT NULL"), sqlite_where=text("client_id IS NOT NULL")),
        Index("uq_notifications_once_key", "once_key", unique=True,
              postgresql_where=text("once_key IS NOT NULL"), sqlite_where=text("once_key IS NOT NULL")),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    firing_id: Mapped[int | None] = mapped_column(ForeignKey("step_firings.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    contact_method_id: Mapped[int | None] = mapped_column(ForeignKey("contact_methods.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    # page | help | test | warning for users; for outsiders, what the feature says (client_mail...)
    purpose: Mapped[str] = mapped_column(String(16), default="page")
    # The text of a notification that is not about an incident (e.g. a coming coverage gap), or
    # the body of a message to an outsider.
    message: Mapped[str | None] = mapped_column(Text)
    # A message to someone who is not a user: where it goes (an e-mail address, a phone number),
    # its subject, the mail headers it carries (threading, List-Unsubscribe...) and whose client.
    address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(300))
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    # "At most one message for this": a feature's own key (a monthly report per client and
    # month, a step of a hand-over chain...). Queued twice, the second is refused by the index.
    once_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sending|sent|failed|cancelled
    not_before: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    # The engine sending it (status sending): when that engine's heartbeat stops, the page goes
    # back to pending at once, rather than when the lease runs out.
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    provider_id: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User | None] = relationship()
    contact_method: Mapped[ContactMethod | None] = relationship()
    attempts_log: Mapped[list[DeliveryAttempt]] = relationship(order_by="DeliveryAttempt.id")
    attachments: Mapped[list[NotificationAttachment]] = relationship(
        order_by="NotificationAttachment.id", cascade="all, delete-orphan")


class PageIncident(Base):
    """An incident that a bundled page is about. In an alert storm one page per person and contact
    method carries the incidents of one engine look (incidents/firing.py): its row names the
    first of them (incident_id, firing_id), and these rows name every one of them, the first
    included, each with its own step's firing. A page that is not bundled has none."""

    __tablename__ = "page_incidents"
    notification_id: Mapped[int] = mapped_column(BigId, ForeignKey("notifications.id", ondelete="CASCADE"),
                                                 primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True,
                                             index=True)
    firing_id: Mapped[int] = mapped_column(BigId, ForeignKey("step_firings.id", ondelete="CASCADE"))


class NotificationAttachment(Base):
    """A file an e-mail to an outsider carries (the monthly report's PDF)."""

    __tablename__ = "notification_attachments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    # Kept on the attempt itself: a push subscription the service said is gone is deleted, and
    # the record must still say where the attempt went.
    channel: Mapped[str | None] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(String(300))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))  # sent | retry | failed
    status_code: Mapped[int | None] = mapped_column(Integer)
    provider_answer: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


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
