"""Report tables: an incident's post-mortem (the fields an engineer fills in), the client's
report contacts (who receives the monthly report), and the indexes the reports read by."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .core import Alert, Base, Client, Incident, TimelineEntry, User
from .notify import Notification


class Postmortem(Base):
    """What an engineer writes after an incident; the timeline and actions come from the
    incident itself, so only these fields are stored."""

    __tablename__ = "postmortems"
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    impact: Mapped[str] = mapped_column(Text, default="")
    root_cause: Mapped[str] = mapped_column(Text, default="")
    went_well: Mapped[str] = mapped_column(Text, default="")
    follow_ups: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    incident: Mapped[Incident] = relationship()
    updated_by: Mapped[User | None] = relationship()


class ReportContact(Base):
    """Someone at the client who receives the monthly report by e-mail."""

    __tablename__ = "report_contacts"
    __table_args__ = (UniqueConstraint("client_id", "email"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime]

    client: Mapped[Client] = relationship()


# What the reports read by (migration 0017 creates the same): a period of incidents, the
# engineer who answered, timeline entries of a kind ("coverage", "reopened"), pages per person
# and time, alerts per source; incidents per client and state, messages per channel and outcome
# (/metrics).
Index("ix_incidents_created", Incident.created_at)
Index("ix_incidents_acknowledged_by", Incident.acknowledged_by_id, Incident.created_at,  # partial: 0019
      postgresql_where=text("acknowledged_by_id IS NOT NULL"), sqlite_where=text("acknowledged_by_id IS NOT NULL"))
Index("ix_timeline_kind_incident", TimelineEntry.kind, TimelineEntry.incident_id)
Index("ix_notifications_user_created", Notification.user_id, Notification.created_at)
Index("ix_alerts_source", Alert.source)
Index("ix_incidents_client_status", Incident.client_id, Incident.status)
Index("ix_notifications_kind_status", Notification.kind, Notification.status)
