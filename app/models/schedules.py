"""Schedules: layers on rotations (with their history), overrides and claimed open slots, and the
record of which coverage gaps managers were warned about.

The pure model these rows map onto is app/schedules/rotations.py; app/schedules/rosters.py does
the mapping.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .core import Base, Pool, User

LENGTHS = ("weekly", "daily", "custom")


class Schedule(Base):
    """Who is on call for a pool: one or more layers (e.g. primary and secondary for dual
    on-call). `timezone` is the zone the timeline is read in (its days); each rotation carries
    its own zone for its hand-offs."""

    __tablename__ = "schedules"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id", ondelete="CASCADE"), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    # None: staffed 24/7. Otherwise a coverage.Coverage dict: the layers have shifts only then.
    coverage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]

    pool: Mapped[Pool] = relationship()
    layers: Mapped[list[ScheduleLayer]] = relationship(
        back_populates="schedule", order_by="ScheduleLayer.position", cascade="all, delete-orphan"
    )


class ScheduleLayer(Base):
    """A rotation with an identity: what an escalation step targets ("the primary on call")."""

    __tablename__ = "schedule_layers"
    __table_args__ = (UniqueConstraint("schedule_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]

    schedule: Mapped[Schedule] = relationship(back_populates="layers")
    rotations: Mapped[list[LayerRotation]] = relationship(
        back_populates="layer", order_by="LayerRotation.effective_from", cascade="all, delete-orphan"
    )


class LayerRotation(Base):
    """One version of a layer's rotation, in force from `effective_from` until the next version's.

    Editing a rotation adds a version instead of changing this one, so the past (and the
    allowances paid for it) never changes. The first version's `effective_from` is when the
    layer began. `start` is the anchor: participant #1's first hand-off; its wall-clock time and
    weekday in `timezone` are the hand-off time and day ("weekly"/"daily" follow the local clock
    across DST; "custom" is `length_hours` of elapsed time).
    """

    __tablename__ = "layer_rotations"
    __table_args__ = (UniqueConstraint("layer_id", "effective_from"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("schedule_layers.id", ondelete="CASCADE"))
    effective_from: Mapped[datetime]
    start: Mapped[datetime]
    length: Mapped[str] = mapped_column(String(8), default="weekly")  # one of LENGTHS
    length_hours: Mapped[int | None] = mapped_column(Integer)  # custom only
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    layer: Mapped[ScheduleLayer] = relationship(back_populates="rotations")
    members: Mapped[list[RotationMember]] = relationship(
        order_by="RotationMember.position", cascade="all, delete-orphan"
    )


class RotationMember(Base):
    """A turn in the rotation. No user: an open slot in the cycle (offered to the pool)."""

    __tablename__ = "rotation_members"
    rotation_id: Mapped[int] = mapped_column(ForeignKey("layer_rotations.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User | None] = relationship()


class ScheduleOverride(Base):
    """`user` holds `layer` during [starts_at, ends_at), whatever the rotation says; no user
    makes it an open slot. Overlapping overrides: the later one (higher id) wins.

    kind: "override" (a manager's), "swap" (one half of a swap), "claim" (an engineer took an
    open slot), "open" (a stretch deliberately left open, to be claimed)."""

    __tablename__ = "schedule_overrides"
    __table_args__ = (Index("ix_schedule_overrides_layer_span", "layer_id", "starts_at", "ends_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("schedule_layers.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    replaces_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16), default="override")
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    layer: Mapped[ScheduleLayer] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    replaces_user: Mapped[User | None] = relationship(foreign_keys=[replaces_user_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])


class ScheduleWarning(Base):
    """A gap (a covered stretch where a layer has nobody who can be paged) that managers were
    warned about. Unique per (layer, start): a gap is announced once, across restarts and
    however many engines run."""

    __tablename__ = "schedule_warnings"
    __table_args__ = (UniqueConstraint("layer_id", "starts_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("schedule_layers.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    message: Mapped[str] = mapped_column(Text)
    warned_at: Mapped[datetime]


__all__ = [
    "LENGTHS", "LayerRotation", "RotationMember", "Schedule", "ScheduleLayer", "ScheduleOverride",
    "ScheduleWarning",
]
