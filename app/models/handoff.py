"""Hand-off tables, both ways: a client's contact chain and the hand-overs that walk it (the
client's team takes the bug), and the shift starts an engineer confirms ("I'm ready"), the notes
the outgoing engineer leaves, and the one-time links both send out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .core import Base, BigId, Client, Incident, User


class ClientContact(Base):
    """One person or desk of a client's team, tried in `position` order when an incident is
    handed over to them: by e-mail, SMS and/or a call, within their hours, then `delay_minutes`
    of waiting for an answer before the next contact is tried."""

    __tablename__ = "client_contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(200), default="")  # "technical hotline", "duty manager"...
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))  # E.164
    channels: Mapped[list[Any]] = mapped_column(default=list)  # of "email", "sms", "voice"
    # When they may be tried, in the client's zone: {"kind": "always"} or {"kind": "window",
    # "start": "08:00", "end": "18:00", "days": [0, 1, 2, 3, 4]} (schedules/coverage.py).
    hours: Mapped[dict[str, Any]] = mapped_column(default=lambda: {"kind": "always"})
    delay_minutes: Mapped[int] = mapped_column(Integer, default=15)
    created_at: Mapped[datetime]

    client: Mapped[Client] = relationship()


class Handover(Base):
    """An incident handed over to the client's team, followed until someone there takes it.

    The chain is copied when the hand-over starts (editing it later changes the next hand-over,
    not this one). `position` is the next contact to try and `next_at` when: the engine moves
    it with a compare-and-set on `position`, like escalation steps, so restarts and several
    engines never skip or repeat a contact. Waiting on the client runs from `started_at` to
    `taken_at` (someone took it) or `ended_at` (the incident was resolved first)."""

    __tablename__ = "handovers"
    __table_args__ = (Index("ix_handovers_due", "next_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")
    chain: Mapped[list[Any]] = mapped_column(default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # contacts actually tried
    next_at: Mapped[datetime | None]
    started_at: Mapped[datetime]
    taken_at: Mapped[datetime | None]
    taken_by: Mapped[str | None] = mapped_column(String(200))  # the name the client's person gave
    taken_contact: Mapped[str | None] = mapped_column(String(200))  # the contact whose link it was
    exhausted_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]

    incident: Mapped[Incident] = relationship()
    started_by: Mapped[User | None] = relationship()


class ShiftStart(Base):
    """One engineer starting one shift of a layer: found ahead of time (to flag a phone that
    cannot be reached before the shift), told at the start (the hand-off notification), and
    confirmed ("I'm ready"), or reported to the manager when not confirmed in time. Unique per
    (layer, start, user): neither a restart nor a second engine tells anyone twice."""

    __tablename__ = "shift_starts"
    __table_args__ = (
        UniqueConstraint("layer_id", "starts_at", "user_id"),
        Index("ix_shift_starts_unconfirmed", "ready_at", "confirm_by"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("schedule_layers.id", ondelete="CASCADE"))
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    previous_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    label: Mapped[str] = mapped_column(String(300), default="")  # "Primary (Pool A on-call)"
    found_at: Mapped[datetime]
    unreachable_warned_at: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]
    confirm_by: Mapped[datetime | None]
    ready_at: Mapped[datetime | None]
    ready_via: Mapped[str | None] = mapped_column(String(32))
    reported_at: Mapped[datetime | None]  # the manager (and the outgoing engineer) were told
    # Set with reported_at when the team tells the outgoing engineer: until the incoming one
    # confirms, the layer's pages go to both (schedules/rosters.layer_oncall).
    outgoing_stays: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    previous_user: Mapped[User | None] = relationship(foreign_keys=[previous_user_id])


class HandoffNote(Base):
    """What the outgoing engineer of a layer leaves for the next one (the shift starting at
    `for_start`)."""

    __tablename__ = "handoff_notes"
    __table_args__ = (Index("ix_handoff_notes_layer_start", "layer_id", "for_start"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("schedule_layers.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    for_start: Mapped[datetime]
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]

    author: Mapped[User | None] = relationship()


class HandoffLink(Base):
    """A one-time link with no login: "we have it" for a client's contact (kind "handover"), or
    "I'm ready" for an engineer starting a shift (kind "ready"). Minted by the engine when it
    sends the message that carries it, so only a SHA-256 of it is ever stored; bound to its
    hand-over (and so one incident) or its shift start; used once."""

    __tablename__ = "handoff_links"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # handover | ready
    handover_id: Mapped[int | None] = mapped_column(ForeignKey("handovers.id", ondelete="CASCADE"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    shift_start_id: Mapped[int | None] = mapped_column(ForeignKey("shift_starts.id", ondelete="CASCADE"), index=True)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"))
    contact: Mapped[str] = mapped_column(String(300), default="")  # whom it was sent to, for the record
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[str | None] = mapped_column(String(200))

    handover: Mapped[Handover | None] = relationship()
    shift_start: Mapped[ShiftStart | None] = relationship()
