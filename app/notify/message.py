"""What a notification says, per purpose: short enough for an SMS, the same facts everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .base import OutboundMessage
from .outbound import BASE


@dataclass(frozen=True)
class To:
    """Whom a page goes to and through which contact method (read with the claimed page)."""

    user_id: int
    user_name: str
    method_id: int
    kind: str
    address: str
    label: str | None = None
    push_p256dh: str | None = None
    push_auth: str | None = None


def compose(
    n: Any,
    to: To,
    snapshot: dict[str, Any] | None,
    *,
    base_url: str,
    ack_url: str | None,
    details: str | None = None,
    ack_token: str | None = None,
) -> OutboundMessage:
    """A page or a message to a user. `n`: the notification (its id, purpose and message),
    `snapshot`: its incident's (incidents.snapshot), `details`: the incident's details."""
    if n.purpose in ("notice", "handoff"):
        return _as_written(n, to, snapshot, base_url=base_url, ready_url=ack_url, ready_token=ack_token)
    if n.purpose == "warning":
        short = n.message or "Vigil warning"
        subject = f"[Vigil] {short}"
        body = f"{short}\n\nSee {base_url.rstrip('/')}/schedules"
    elif snapshot is None or n.purpose == "test":
        short = "Vigil test notification"
        subject = "[Vigil] Test notification"
        body = (
            f"Hello {to.user_name}, this is a test notification to your {to.kind} "
            f"({to.label or to.address}). If you can read this, Vigil can reach you."
        )
    else:
        number, urgency, summary = snapshot["number"], snapshot["urgency"], snapshot["summary"]
        where = f"{snapshot['client']['name']} / {snapshot['service']['name']}"
        short = f"#{number} {urgency.upper()} {where}: {summary}"
        subject = f"[Vigil #{number}] {where}: {summary}"
        deadline = datetime.fromisoformat(snapshot["response_deadline"])
        lines = [
            f"#{number} {urgency.upper()} {where}",
            summary,
            "",
            f"Respond by {deadline.strftime('%H:%M UTC')}.",
            f"Reply ACK {number} to acknowledge, RES {number} to resolve.",
        ]
        if ack_url:
            lines.append(f"Acknowledge: {ack_url}")
        lines.append(f"Open: {base_url.rstrip('/')}/incidents/{snapshot['id']}")
        if details:
            lines += ["", details[:1500]]
        body = "\n".join(lines)
    return _to_user(n, to, subject, body, short, snapshot, ack_url, ack_token,
                    urgency=snapshot["urgency"] if snapshot else ("low" if n.purpose == "warning" else "high"))


def _to_user(n: Any, to: To, subject: str, body: str, short: str, incident: dict[str, Any] | None,
             ack_url: str | None, ack_token: str | None, *, urgency: str, **extra: Any) -> OutboundMessage:
    return OutboundMessage(
        notification_id=n.id,
        kind=to.kind,
        purpose=n.purpose,
        user_id=to.user_id,
        user_name=to.user_name,
        address=to.address,
        subject=" ".join(subject.split())[:300],  # one line: a CR/LF from a client or service name cannot add headers
        body=body,
        ack_url=ack_url,
        incident=incident,
        push_p256dh=to.push_p256dh,
        push_auth=to.push_auth,
        urgency=urgency,
        extra={"method_id": to.method_id, "label": to.label, **extra},
        ack_token=ack_token,
        short=short,
    )


BUNDLE_LISTED = 20  # incidents a bundled page's text names one by one (the rest: "and N more")


def compose_bundle(
    n: Any,
    to: To,
    snapshots: list[dict[str, Any]],
    *,
    base_url: str,
    ack_url: str | None,
    ack_token: str | None = None,
) -> OutboundMessage:
    """One page about several incidents (an alert storm: notify/plan.bundle): `snapshots`, those
    of its incidents still waiting when it goes out, the first first. Its link (the lock screen's
    button, 1 on a call) acknowledges each of them still waiting when it is used."""
    count, first = len(snapshots), snapshots[0]
    clients = list(dict.fromkeys(s["client"]["name"] for s in snapshots))
    who = ", ".join(clients[:3]) + (f" and {len(clients) - 3} more" if len(clients) > 3 else "")
    short = (f"{count} incidents ({who}): " + "; ".join(f"#{s['number']} {s['summary']}" for s in snapshots[:3])
             + (f"; +{count - 3} more" if count > 3 else ""))
    deadline = min(datetime.fromisoformat(s["response_deadline"]) for s in snapshots)
    lines = [f"{count} incidents need a response ({who}):", ""]
    lines += [f"#{s['number']} {s['urgency'].upper()} {s['client']['name']} / {s['service']['name']}: {s['summary']}"
              for s in snapshots[:BUNDLE_LISTED]]
    if count > BUNDLE_LISTED:
        lines.append(f"... and {count - BUNDLE_LISTED} more.")
    lines += ["", f"Respond by {deadline.strftime('%H:%M UTC')} (the earliest).",
              "Reply ACK <number> to acknowledge one, RES <number> to resolve it."]
    if ack_url:
        lines.append(f"Acknowledge all {count}: {ack_url}")
    lines.append(f"Open: {base_url.rstrip('/')}/incidents")
    return _to_user(n, to, f"[Vigil] {count} incidents need a response: {who}", "\n".join(lines), short, first,
                    ack_url, ack_token, urgency="high" if any(s["urgency"] == "high" for s in snapshots) else "low",
                    bundle=[s["id"] for s in snapshots])


def compose_outbound(n: Any, snapshot: dict[str, Any] | None, base_url: str = "",
                     attachments: list[tuple[str, str, bytes]] | None = None) -> OutboundMessage:
    """A message to someone who is not a user (notify/outbound.py): written in full when it was
    queued, so it goes out as written (with this server's address where it says outbound.BASE).
    `attachments` (filename, content type, data): the notification's own when not given."""
    if attachments is None:
        attachments = [(a.filename, a.content_type, a.data) for a in n.attachments]
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
               "attachments": attachments},
        short=body,
        outsider=True,
    )


def _as_written(n: Any, to: To, snapshot: dict[str, Any] | None, *, base_url: str,
                ready_url: str | None, ready_token: str | None) -> OutboundMessage:
    """A notice (a hand-over nobody took, a shift start not confirmed, a phone that cannot be
    reached) or a shift's hand-off: the text written when it was planned, with where to look, and
    for a hand-off the one-time "I'm ready" link (the lock screen shows it as an action). Sent as
    written on every channel (a call reads it out, without the links)."""
    text = n.message or "Vigil"
    base = base_url.rstrip("/")
    incident_id = snapshot["id"] if snapshot is not None else None
    where = f"{base}/incidents/{incident_id}" if incident_id is not None else f"{base}/"
    if to.kind == "voice":
        body = text.replace("\n", ". ")
        if n.purpose == "handoff":
            body += " To confirm that you are ready, use the link sent to your phone or e-mail, or open Vigil."
    else:
        body = text + (f"\n\nI'm ready: {ready_url}" if ready_url else "") + f"\n\nOpen: {where}"
    first = text.split("\n")[0]
    return OutboundMessage(
        notification_id=n.id, kind=to.kind, purpose=n.purpose, user_id=to.user_id, user_name=to.user_name,
        address=to.address, subject=" ".join(f"[Vigil] {first}".split())[:300], body=body,
        ack_url=ready_url, ack_token=ready_token, push_p256dh=to.push_p256dh, push_auth=to.push_auth,
        urgency="high", extra={"method_id": to.method_id, "label": to.label, "incident_id": incident_id},
        short=first, outsider=True)  # "as written": SMS and calls say the text, not a page's lines
