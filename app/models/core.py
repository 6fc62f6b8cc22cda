"""Typed models (SQLAlchemy 2). All instants are aware UTC (see db.UTCDateTime).

Writers of incident state live in app/incidents/; this module holds data, small derived
properties and validation only.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..db import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only aliases the rowid (and so auto-increments) for exactly "INTEGER PRIMARY KEY".
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Role(enum.StrEnum):
    admin = "admin"
    manager = "manager"
    engineer = "engineer"
    client_viewer = "client_viewer"


class Status(enum.StrEnum):
    triggered = "triggered"
    acknowledged = "acknowledged"
    handed_over = "handed_over"  # application bug handed to the client's own team
    resolved = "resolved"


OPEN_STATUSES = (Status.triggered.value, Status.acknowledged.value, Status.handed_over.value)

TIERS = {"4h": "4-hour SLA", "1h": "1-hour SLA, dual on-call"}


class Pool(Base):
    """A pool of engineers that covers a set of clients (the shared on-call pool)."""

    __tablename__ = "pools"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime]
    # On-call allowance: a daily amount per day kind, in cents (exact, no float), and the
    # country whose public holidays are paid the holiday rate (None: no holidays).
    allowance_weekday_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    allowance_weekend_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    allowance_holiday_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    allowance_currency: Mapped[str] = mapped_column(String(3), default="EUR", server_default="EUR")
    holiday_country: Mapped[str | None] = mapped_column(String(8), default="FR", server_default="FR")

    members: Mapped[list[PoolMember]] = relationship(back_populates="pool", cascade="all, delete-orphan")


class PoolMember(Base):
    __tablename__ = "pool_members"
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)

    pool: Mapped[Pool] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class Client(Base):
    __tablename__ = "clients"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    tier: Mapped[str] = mapped_column(String(8), default="4h")  # key of TIERS
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("pools.id", ondelete="SET NULL"))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("escalation_policies.id", ondelete="SET NULL"))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    # Coverage hours: {"kind": "always"} | {"kind": "after_hours", ...} | {"kind": "window", ...}.
    coverage: Mapped[dict[str, Any]] = mapped_column(default=lambda: {"kind": "always"})
    # What happens to an alert outside coverage: "hold" (escalate when coverage starts) or
    # "low_urgency" (notify at once, at low urgency). Nothing is ever dropped.
    out_of_coverage: Mapped[str] = mapped_column(String(16), default="hold")
    handover_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime]

    pool: Mapped[Pool | None] = relationship()
    policy: Mapped[EscalationPolicy | None] = relationship()
    services: Mapped[list[Service]] = relationship(back_populates="client", order_by="Service.id")


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("client_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # None: the client's policy.
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("escalation_policies.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]

    client: Mapped[Client] = relationship(back_populates="services")
    policy: Mapped[EscalationPolicy | None] = relationship()
    keys: Mapped[list[IntegrationKey]] = relationship(back_populates="service")

    @property
    def effective_policy(self) -> EscalationPolicy | None:
        return self.policy or self.client.policy


class IntegrationKey(Base):
    """A secret that lets a monitoring tool post alerts for one service.

    Only a SHA-256 of the key is stored (the key is random and long, so a fast hash is enough
    and lets intake find it with one indexed lookup); the key itself is shown once.
    """

    __tablename__ = "integration_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(32))  # alertmanager | grafana | events_v2 | generic | email
    name: Mapped[str] = mapped_column(String(120), default="")
    key_prefix: Mapped[str] = mapped_column(String(12))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    service: Mapped[Service] = relationship(back_populates="keys")


class User(UserMixin, Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default=Role.engineer.value)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))  # client viewers
    phone: Mapped[str | None] = mapped_column(String(32))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    # True until the person chooses a zone: their times follow the browser's zone (app/timefmt.py).
    timezone_auto: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Changing this logs the user out everywhere (password reset, lost phone).
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    # The secret calendar feed URL is derived from this (see app/schedules/ical.py); None: no feed.
    # Bumping it revokes the old URL.
    ical_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    # Second factor (app/accounts/totp.py): the secret is encrypted at rest
    # (app/clients/crypto.py); the last accepted time step stops a code from being used twice.
    totp_secret: Mapped[str | None] = mapped_column(Text)
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    client: Mapped[Client | None] = relationship()
    contact_methods: Mapped[list[ContactMethod]] = relationship(
        back_populates="user", order_by="ContactMethod.id", cascade="all, delete-orphan"
    )
    notification_rules: Mapped[list[NotificationRule]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # flask-login
        return self.active

    def get_id(self) -> str:  # flask-login: a new session_version invalidates old cookies
        return f"{self.id}:{self.session_version}"

    def has_role(self, *roles: Role | str) -> bool:
        return self.role in {r.value if isinstance(r, Role) else r for r in roles}


class EscalationPolicy(Base):
    __tablename__ = "escalation_policies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    preset: Mapped[str | None] = mapped_column(String(8))  # "4h" | "1h" when built from a preset
    repeat: Mapped[int] = mapped_column(Integer, default=0)  # extra passes over all steps
    response_minutes: Mapped[int] = mapped_column(Integer, default=240)  # the SLA's response deadline
    ack_timeout_minutes: Mapped[int | None] = mapped_column(Integer)  # re-trigger if acked, not resolved
    created_at: Mapped[datetime]

    steps: Mapped[list[EscalationStep]] = relationship(
        back_populates="policy", order_by="EscalationStep.position", cascade="all, delete-orphan"
    )


class EscalationStep(Base):
    """One step: notify its targets in parallel, then wait `delay_minutes` before the next step
    (or, after the last step, before the next pass when the policy repeats)."""

    __tablename__ = "escalation_steps"
    __table_args__ = (UniqueConstraint("policy_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("escalation_policies.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    delay_minutes: Mapped[int] = mapped_column(Integer, default=30)

    policy: Mapped[EscalationPolicy] = relationship(back_populates="steps")
    targets: Mapped[list[EscalationTarget]] = relationship(
        back_populates="step", cascade="all, delete-orphan", order_by="EscalationTarget.id"
    )


class EscalationTarget(Base):
    """Who a step notifies: a user, or (schedules) whoever holds a schedule layer at that moment."""

    __tablename__ = "escalation_targets"
    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("escalation_steps.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "user" | "layer"
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # No ON DELETE: a layer that a policy pages cannot vanish under it (the service says which).
    layer_id: Mapped[int | None] = mapped_column(ForeignKey("schedule_layers.id"))

    step: Mapped[EscalationStep] = relationship(back_populates="targets")
    user: Mapped[User | None] = relationship()


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        # One open incident per (service, dedup key). Also what makes two simultaneous triggers
        # with the same key safe: the loser's INSERT fails and it attaches instead.
        Index(
            "uq_incidents_open_dedup",
            "service_id",
            "dedup_key",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        Index("ix_incidents_due", "status", "next_escalation_at"),
        Index("ix_incidents_client_created", "client_id", "created_at"),
        # Response deadlines still to watch (the engine looks at every tick): by the status
        # prefix of ix_incidents_due, every open incident was read at each look (migration 0019).
        Index("ix_incidents_deadline", "status", "response_deadline",
              sqlite_where=text("sla_breached_at IS NULL"), postgresql_where=text("sla_breached_at IS NULL")),
        # Acknowledgements that time out (the engine looks at every tick): only the incidents that
        # have one. PostgreSQL read them through the whole table or ix_incidents_due's status,
        # 4 ms a tick with 26,000 incidents (migration 0020).
        Index("ix_incidents_ack_timeout", "status", "ack_timeout_at",
              sqlite_where=text("ack_timeout_at IS NOT NULL"), postgresql_where=text("ack_timeout_at IS NOT NULL")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("escalation_policies.id", ondelete="SET NULL"))
    summary: Mapped[str] = mapped_column(String(1024))
    details: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str | None] = mapped_column(String(32))
    urgency: Mapped[str] = mapped_column(String(8), default="high")  # high | low
    dedup_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=Status.triggered.value)
    alert_count: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    last_alert_at: Mapped[datetime]
    response_deadline: Mapped[datetime]
    responded_at: Mapped[datetime | None]  # first human action: ack, claim, hand-over or resolve
    sla_breached_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    ack_timeout_at: Mapped[datetime | None]
    handed_over_at: Mapped[datetime | None]
    handover_reason: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution_summary: Mapped[str | None] = mapped_column(Text)
    # Set when the alert arrived outside the client's coverage hours and was held.
    held_until: Mapped[datetime | None]

    # Escalation position, all in the database so a restart loses nothing. `esc_seq` counts
    # fired steps; the engine claims a step by locking the row and checking it is still due, and
    # the unique (incident_id, seq) on StepFiring makes a second firing impossible.
    esc_seq: Mapped[int] = mapped_column(Integer, default=0)
    esc_step: Mapped[int] = mapped_column(Integer, default=0)  # index of the next step to fire
    esc_loop: Mapped[int] = mapped_column(Integer, default=0)  # pass over the policy (repeat)
    next_escalation_at: Mapped[datetime | None]

    # The #1/#2 responder slots of a dual on-call incident.
    slot1_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    slot1_at: Mapped[datetime | None]
    slot2_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    slot2_at: Mapped[datetime | None]

    client: Mapped[Client] = relationship()
    service: Mapped[Service] = relationship()
    policy: Mapped[EscalationPolicy | None] = relationship()
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id])
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id])
    slot1_user: Mapped[User | None] = relationship(foreign_keys=[slot1_user_id])
    slot2_user: Mapped[User | None] = relationship(foreign_keys=[slot2_user_id])
    timeline: Mapped[list[TimelineEntry]] = relationship(
        back_populates="incident", order_by="TimelineEntry.id", cascade="all, delete-orphan"
    )

    @property
    def number(self) -> int:
        """The short human number (#1042) used in SMS replies and e-mail subjects."""
        return self.id

    @property
    def is_open(self) -> bool:
        return self.status != Status.resolved.value

    @property
    def sla_kept(self) -> bool | None:
        if self.responded_at is None:
            return None if self.sla_breached_at is None else False
        return self.responded_at <= self.response_deadline


class Alert(Base):
    """The raw accepted payload, kept for audit, and what became of it."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    integration_key_id: Mapped[int | None] = mapped_column(ForeignKey("integration_keys.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    dedup_key: Mapped[str | None] = mapped_column(String(255))
    summary: Mapped[str] = mapped_column(String(1024), default="")
    outcome: Mapped[str] = mapped_column(String(32), default="")  # created | attached | resolved | ignored ...
    received_at: Mapped[datetime]
    payload: Mapped[Any] = mapped_column(JSON)


class TimelineEntry(Base):
    __tablename__ = "timeline_entries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    incident: Mapped[Incident] = relationship(back_populates="timeline")
    actor: Mapped[User | None] = relationship()


class StepFiring(Base):
    """One escalation step that fired (or was skipped), with how late it was."""

    __tablename__ = "step_firings"
    __table_args__ = (UniqueConstraint("incident_id", "seq"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    step_index: Mapped[int] = mapped_column(Integer)
    loop: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime]
    fired_at: Mapped[datetime]
    lateness_ms: Mapped[int] = mapped_column(Integer)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    engine: Mapped[str] = mapped_column(String(120), default="")
    targets: Mapped[list[Any]] = mapped_column(default=list)  # user ids notified


class ContactMethod(Base):
    """Where a user can be reached: an e-mail address, a phone (SMS, voice), a push subscription
    on one device, or the recording channel used by tests and demos."""

    __tablename__ = "contact_methods"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # push | sms | voice | email | recording
    address: Mapped[str] = mapped_column(String(2048))  # e-mail, E.164 phone, or push endpoint
    label: Mapped[str] = mapped_column(String(200), default="")
    push_p256dh: Mapped[str | None] = mapped_column(String(200))
    push_auth: Mapped[str | None] = mapped_column(String(100))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    last_success_at: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="contact_methods")


class NotificationRule(Base):
    """For incidents of an urgency, notify on every enabled method of `kind` after a delay; only
    within a daily window of the user's own zone when one is set (minutes after local midnight,
    [start, end), wrapping past midnight when end <= start: 22:00-08:00 is the night)."""

    __tablename__ = "notification_rules"
    __table_args__ = (Index("ix_notification_rules_user", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    urgency: Mapped[str] = mapped_column(String(8))  # high | low
    kind: Mapped[str] = mapped_column(String(16))
    delay_minutes: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[int | None] = mapped_column(Integer)  # None: all day
    window_end: Mapped[int | None] = mapped_column(Integer)

    user: Mapped[User] = relationship(back_populates="notification_rules")


class Operation(Base):
    """Client-generated operation ids, so a replayed request returns its first answer."""

    __tablename__ = "operations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    op_id: Mapped[str] = mapped_column(String(100), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    status_code: Mapped[int] = mapped_column(Integer)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class Event(Base):
    """The append-only event bus. Ids only grow, and become visible in id order (see below), so a
    follower or a reconnecting client can ask for everything after the last id it saw."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(48))
    incident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    client_id: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


# Commit order on PostgreSQL. A sequence hands out ids at INSERT time, so a transaction holding
# id 10 could commit after one holding id 11, and a follower that had read 11 would never see 10.
# The fix is to draw the final id inside COMMIT: a deferred constraint trigger runs there, takes a
# transaction-scoped advisory lock (held until the commit is complete, so event-writing commits
# pass one at a time) and renumbers the transaction's events from the sequence. The serialised
# section is the tail of one COMMIT, all inside the server; no client round trip happens under the
# lock, so a busy web worker cannot stretch it. The NOTIFY wakes followers (LISTEN) at commit and
# is dropped on rollback. SQLite needs none of this: it already serialises writers.
EVENTS_PG_CHANNEL = "vigil_events"
EVENTS_ORDER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION vigil_events_commit_order() RETURNS trigger AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({0x56494749});
    UPDATE events SET id = nextval('events_id_seq') WHERE id = NEW.id;
    PERFORM pg_notify('{EVENTS_PG_CHANNEL}', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
EVENTS_ORDER_TRIGGER = """
CREATE CONSTRAINT TRIGGER events_commit_order AFTER INSERT ON events
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION vigil_events_commit_order()
"""
# The migration installs the same; this makes create_all() (tests) match it.
for _ddl in (EVENTS_ORDER_FUNCTION, EVENTS_ORDER_TRIGGER):
    event.listen(Event.__table__, "after_create", DDL(_ddl).execute_if(dialect="postgresql"))


class EngineHeartbeat(Base):
    __tablename__ = "engine_heartbeats"
    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(200))


class Setting(Base):
    """Installation-wide values that must survive restarts (e.g. the VAPID key pair)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
