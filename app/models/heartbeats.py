"""Heartbeat monitors: a nightly backup or a cron job pings its URL; no ping in time opens an
incident. The monitor row holds everything the engine decides on (state, last ping, when to look
next); its pings are a ring of the last PING_RING per monitor, so a hammered URL writes over old
slots instead of growing a table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .core import Base, Service

PING_RING = 100  # pings kept per monitor (the screen shows the newest)


class HeartbeatMonitor(Base):
    """One expected ping: every `period_seconds` (or on `cron` in `timezone`), `grace_seconds`
    of slack before it counts as down.

    `state` is what the last ping or the engine decided: new (never pinged, never alerts), up, or
    down; "late" (past due, within the grace) is derived by the clock (intake/heartbeat_schedule).
    `alerted`: the engine opened this monitor's incident (at `alerted_at`) and has not resolved it
    (a success ping after `alerted_at` says the pings resumed, seen by the engine or not). `alert_pending`:
    a /fail ping the engine has not acted on yet. `check_at`: when the engine must look next
    (the deadline, or at once after a /fail or a ping that ends an alert; None: nothing due).
    `version` is bumped by every write: the engine acts with a compare-and-set on it, so two
    engines, or a ping arriving meanwhile, never make it act twice or on stale facts."""

    __tablename__ = "heartbeat_monitors"
    __table_args__ = (Index("ix_heartbeat_monitors_check_at", "check_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token: Mapped[str] = mapped_column(String(36), unique=True)  # uuid4: the ping URL's secret
    period_seconds: Mapped[int] = mapped_column(Integer, default=86400)
    grace_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    cron: Mapped[str | None] = mapped_column(String(120))  # None: every period_seconds
    state: Mapped[str] = mapped_column(String(8), default="new")  # new | up | down
    alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    alerted_at: Mapped[datetime | None]  # when the engine last opened (or counted into) the incident
    alert_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    check_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=0)
    pings: Mapped[int] = mapped_column(BigInteger, default=0)  # received, ever (numbers the ring)
    last_ping_at: Mapped[datetime | None]
    last_ping_kind: Mapped[str | None] = mapped_column(String(8))  # success | fail
    last_start_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    service: Mapped[Service] = relationship()


class HeartbeatPing(Base):
    """One of a monitor's last PING_RING pings: slot `n % PING_RING` of ping number `n`."""

    __tablename__ = "heartbeat_pings"
    monitor_id: Mapped[int] = mapped_column(ForeignKey("heartbeat_monitors.id", ondelete="CASCADE"), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(8))  # success | start | fail
    source: Mapped[str] = mapped_column(String(8))  # http | email
    at: Mapped[datetime]
    remote: Mapped[str] = mapped_column(String(64), default="")  # the caller's address, or the sender
    body: Mapped[str] = mapped_column(Text, default="")  # an excerpt, at most heartbeats.BODY_EXCERPT
