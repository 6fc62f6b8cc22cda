"""Typed models, one module per area; everything is importable from app.models."""

from .core import *  # noqa: F403
from .core import Base, BigId, Role, Status  # noqa: F401  (explicit for type checkers)
from .handoff import ClientContact, HandoffLink, HandoffNote, Handover, ShiftStart  # noqa: F401
from .heartbeats import PING_RING, HeartbeatMonitor, HeartbeatPing  # noqa: F401
from .mail import ClientMail, InboundMail, MailAttachment, MailThread  # noqa: F401
from .notify import (  # noqa: F401
    AckToken,
    DeliveryAttempt,
    InboundMessage,
    Notification,
    NotificationAttachment,
    PageIncident,
)
from .reports import Postmortem, ReportContact  # noqa: F401
from .runbooks import Runbook  # noqa: F401
from .schedules import *  # noqa: F403
from .security import ApiToken, AuditEntry, ConnectionInfo, LoginSession, LoginThrottle  # noqa: F401
from .status import MaintenanceWindow, PublicUpdate, StatusComponent, StatusPage, StatusSubscriber  # noqa: F401
