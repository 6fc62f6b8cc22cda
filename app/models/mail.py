"""Client e-mail: each client's mail settings, every message received (raw, before anything else),
its attachments, and the Message-IDs that thread replies into an incident."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .core import Base, BigId


class ClientMail(Base):
    """How a client's address behaves. No row: the defaults (address = the slug, nobody allowed
    yet, unknown senders held for review, replies reopen for 7 days)."""

    __tablename__ = "client_mail"
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The local part of the address (<local>@VIGIL_MAIL_DOMAIN); None: the client's slug.
    local_part: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Addresses ("ops@acme.fr") and domains ("@acme.fr" or "acme.fr") that may open incidents.
    allowed_senders: Mapped[list[Any]] = mapped_column(JSON, default=list)
    unknown_senders: Mapped[str] = mapped_column(String(8), default="hold")  # refuse | hold
    reopen_days: Mapped[int] = mapped_column(Integer, default=7)  # 0: a reply never reopens
    rate_per_hour: Mapped[int] = mapped_column(Integer, default=30)  # per sender
    default_service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="SET NULL"))


class InboundMail(Base):
    """One message accepted (SMTP 250, or HTTP 202): the raw bytes are written first, in the
    transaction that answers; what became of it is filled in when it is processed."""

    __tablename__ = "inbound_mails"
    __table_args__ = (
        Index("ix_inbound_mails_sender_received", "sender", "received_at"),
        Index("ix_inbound_mails_status", "status"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    received_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(16))  # smtp | http | sendgrid | mailgun
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="SET NULL"))
    recipient: Mapped[str] = mapped_column(String(320), default="")
    mail_from: Mapped[str] = mapped_column(String(320), default="")  # the envelope sender; "" = null (a bounce)
    sender: Mapped[str] = mapped_column(String(320), default="")  # the From header's address, lower case
    subject: Mapped[str] = mapped_column(String(1024), default="")
    message_id: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer, default=0)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # received (stored, not yet processed) | processed | held (unknown sender, for review) |
    # loop (an auto-reply, a bounce, a list: recorded, never an incident) | released | discarded
    status: Mapped[str] = mapped_column(String(16), default="received")
    verdict: Mapped[str] = mapped_column(String(200), default="")  # why (loop reason, hold reason)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))  # opened | replied | reopened | followed_up | duplicate
    processed_at: Mapped[datetime | None]
    parse_error: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)  # the full text, quoted history included
    reply_to: Mapped[str | None] = mapped_column(String(320))  # where answers go


class MailAttachment(Base):
    """An attachment of an inbound message: always listed; its bytes kept up to the size limit."""

    __tablename__ = "mail_attachments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mail_id: Mapped[int] = mapped_column(ForeignKey("inbound_mails.id", ondelete="CASCADE"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes | None] = mapped_column(LargeBinary)  # None: over the limit, listed only


class MailThread(Base):
    """A Message-ID (ours or the client's) and the incident it belongs to: In-Reply-To and
    References of a reply find the incident here."""

    __tablename__ = "mail_threads"
    message_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    outbound: Mapped[bool] = mapped_column(Boolean, default=False)


__all__ = ["ClientMail", "InboundMail", "MailAttachment", "MailThread"]
