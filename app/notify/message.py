"""What a notification says, per purpose: short enough for an SMS, the same facts everywhere."""

from __future__ import annotations

from typing import Any

from ..models import ContactMethod, Incident, Notification, User
from .base import OutboundMessage


def compose(
    n: Notification,
    user: User,
    method: ContactMethod,
    incident: Incident | None,
    *,
    base_url: str,
    ack_url: str | None,
    snapshot: dict[str, Any] | None,
    ack_token: str | None = None,
) -> OutboundMessage:
    if n.purpose == "warning":
        short = n.message or "Vigil warning"
        subject = f"[Vigil] {short}"
        body = f"{short}\n\nSee {base_url.rstrip('/')}/schedules"
    elif incident is None or n.purpose == "test":
        short = "Vigil test notification"
        subject = "[Vigil] Test notification"
        body = (
            f"Hello {user.name}, this is a test notification to your {method.kind} "
            f"({method.label or method.address}). If you can read this, Vigil can reach you."
        )
    else:
        where = f"{incident.client.name} / {incident.service.name}"
        short = f"#{incident.number} {incident.urgency.upper()} {where}: {incident.summary}"
        subject = f"[Vigil #{incident.number}] {where}: {incident.summary}"
        lines = [
            f"#{incident.number} {incident.urgency.upper()} {where}",
            incident.summary,
            "",
            f"Respond by {incident.response_deadline.strftime('%H:%M UTC')}.",
            f"Reply ACK {incident.number} to acknowledge, RES {incident.number} to resolve.",
        ]
        if ack_url:
            lines.append(f"Acknowledge: {ack_url}")
        lines.append(f"Open: {base_url.rstrip('/')}/incidents/{incident.id}")
        if incident.details:
            lines += ["", incident.details[:1500]]
        body = "\n".join(lines)
    return OutboundMessage(
        notification_id=n.id,
        kind=method.kind,
        purpose=n.purpose,
        user_id=user.id,
        user_name=user.name,
        address=method.address,
        subject=" ".join(subject.split())[:300],  # one line: a CR/LF from a client or service name cannot add headers
        body=body,
        ack_url=ack_url,
        incident=snapshot,
        push_p256dh=method.push_p256dh,
        push_auth=method.push_auth,
        urgency=incident.urgency if incident else ("low" if n.purpose == "warning" else "high"),
        extra={"method_id": method.id, "label": method.label},
        ack_token=ack_token,
        short=short,
    )


def compose_outbound(n: Notification, snapshot: dict[str, Any] | None) -> OutboundMessage:
    """A message to someone who is not a user (notify/outbound.py): written in full when it was
    queued, so it goes out as written."""
    body = n.message or ""
    return OutboundMessage(
        notification_id=n.id,
        kind=n.kind,
        purpose=n.purpose,
        user_id=0,
        user_name=n.address or "",
        address=n.address or "",
        subject=n.subject or "",
        body=body,
        incident=snapshot,
        urgency="low",
        extra={"headers": dict(n.headers or {}),
               "attachments": [(a.filename, a.content_type, a.data) for a in n.attachments]},
        short=body,
        outsider=True,
    )
