"""Status-page tables: a client's page and its look, its components (the client's services as the
public sees them), the public updates engineers write on incidents, maintenance windows, and the
people subscribed to the page's news."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .core import Base, Client, Service

VISIBILITIES = ("public", "private", "login")  # private: a secret link or a client viewer's login
COMPONENT_STATES = ("operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance")
UPDATE_STATES = ("investigating", "identified", "monitoring", "resolved")
WINDOW_STATES = ("scheduled", "in_progress", "completed", "cancelled")


class StatusPage(Base):
    """A client's status page at /status/<client slug>: who may read it, and its look."""

    __tablename__ = "status_pages"
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True)
    visibility: Mapped[str] = mapped_column(String(8), default="login")
    # SHA-256 of the secret that opens a private page (?key=...); the secret is shown once.
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200), default="")  # "" : the client's name
    logo_url: Mapped[str | None] = mapped_column(String(500))
    color: Mapped[str] = mapped_column(String(7), default="#1f5fbf")  # #rrggbb, validated
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    client: Mapped[Client] = relationship()


class StatusComponent(Base):
    """A service as the client's page shows it. Its state is derived (open incidents, maintenance)
    unless an engineer set `override`."""

    __tablename__ = "status_components"
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))  # None: the service's name
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    override: Mapped[str | None] = mapped_column(String(24))  # one of COMPONENT_STATES
    override_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    service: Mapped[Service] = relationship()


class PublicUpdate(Base):
    """What the client is told about an incident, written apart from the internal timeline."""

    __tablename__ = "public_updates"
    __table_args__ = (Index("ix_public_updates_client_created", "client_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))  # one of UPDATE_STATES
    title: Mapped[str | None] = mapped_column(String(200))  # renames the public incident
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))  # never shown
    created_at: Mapped[datetime]


class MaintenanceWindow(Base):
    """Planned work on a client's services (all of them when `service_ids` is empty). While it
    runs, alerts for those services are recorded but held (when `hold_pages`) until it ends."""

    __tablename__ = "maintenance_windows"
    __table_args__ = (Index("ix_maintenance_windows_client_state", "client_id", "state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    service_ids: Mapped[list[Any]] = mapped_column(default=list)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    hold_pages: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(16), default="scheduled")  # one of WINDOW_STATES
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StatusSubscriber(Base):
    """Someone who asked for a page's news by e-mail: told only once they confirmed (double
    opt-in); their links are derived from the app's secret (app/status/subscribers.py)."""

    __tablename__ = "status_subscribers"
    __table_args__ = (UniqueConstraint("client_id", "kind", "address"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8), default="email")  # email
    address: Mapped[str] = mapped_column(String(320))
    nonce: Mapped[str] = mapped_column(String(32))  # new on every (re)subscription: old links die
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
