"""What a notification says, per purpose: short enough for an SMS, the same facts everywhere."""

from __future__ import annotations

from typing import Any

from ..models import ContactMethod, Incident, Notification, User
from .base import OutboundMessage
from .outbound import BASE


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
    if n.purpose in ("notice", "handoff"):
        return _as_written(n, user, method, incident, base_url=base_url, ready_url=ack_url, ready_token=ack_token)
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


def compose_outbound(n: Notification, snapshot: dict[str, Any] | None, base_url: str = "") -> OutboundMessage:
    """A message to someone who is not a user (notify/outbound.py): written in full when it was
    queued, so it goes out as written (with this server's address where it says outbound.BASE)."""
    body = (n.message or "").replace(BASE, base_url.rstrip("/"))
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


def _as_written(n: Notification, user: User, method: ContactMethod, incident: Incident | None, *, base_url: str,
                ready_url: str | None, ready_token: str | None) -> OutboundMessage:
    """A notice (a hand-over nobody took, a shift start not confirmed, a phone that cannot be
    reached) or a shift's hand-off: the text written when it was planned, with where to look, and
    for a hand-off the one-time "I'm ready" link (the lock screen shows it as an action). Sent as
    written on every channel (a call reads it out, without the links)."""
    text = n.message or "Vigil"
    base = base_url.rstrip("/")
    where = f"{base}/incidents/{incident.id}" if incident is not None else f"{base}/"
    if method.kind == "voice":
        body = text.replace("\n", ". ")
        if n.purpose == "handoff":
            body += " To confirm that you are ready, use the link sent to your phone or e-mail, or open Vigil."
    else:
        body = text + (f"\n\nI'm ready: {ready_url}" if ready_url else "") + f"\n\nOpen: {where}"
    first = text.split("\n")[0]
    return OutboundMessage(
        notification_id=n.id, kind=method.kind, purpose=n.purpose, user_id=user.id, user_name=user.name,
        address=method.address, subject=" ".join(f"[Vigil] {first}".split())[:300], body=body,
        ack_url=ready_url, ack_token=ready_token, push_p256dh=method.push_p256dh, push_auth=method.push_auth,
        urgency="high", extra={"method_id": method.id, "label": method.label,
                               "incident_id": incident.id if incident is not None else None},
        short=first, outsider=True)  # "as written": SMS and calls say the text, not a page's lines
