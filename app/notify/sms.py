"""SMS through the Twilio-compatible provider. Short (two segments at most), with the reply
syntax and the one-tap link; replies come back to /twilio/sms (see answers/replies.py)."""

from __future__ import annotations

from .base import Delivered, OutboundMessage
from .twilio import TwilioTransport

LIMIT = 300  # characters of the incident line; the whole text stays within two segments


def text(msg: OutboundMessage) -> str:
    if msg.outsider:  # someone who is not a user (notify/outbound.py): as written
        return msg.body[:1600]
    if msg.incident is None:
        return f"Vigil: test SMS for {msg.user_name}. If you can read this, Vigil can reach you on this number."
    n = msg.incident["number"]
    short = msg.short if len(msg.short) <= LIMIT else msg.short[: LIMIT - 1] + "…"
    if bundle := msg.extra.get("bundle"):  # several incidents (message.compose_bundle)
        lines = [f"Vigil {short}", "Reply ACK <number> for one"]
        if msg.ack_url:
            lines.append(f"All {len(bundle)}: {msg.ack_url}")
        return "\n".join(lines)
    lines = [f"Vigil {short}", f"Reply ACK {n} or RES {n}"]
    if msg.ack_url:
        lines.append(msg.ack_url)
    return "\n".join(lines)


class SmsTransport(TwilioTransport):
    kind = "sms"

    def send(self, msg: OutboundMessage) -> Delivered:
        base = str(self.config.get("BASE_URL", "")).rstrip("/")
        form = {"To": msg.address, "Body": text(msg)}
        if msg.incident is not None and not msg.outsider:
            form["StatusCallback"] = f"{base}/twilio/status/{msg.notification_id}"
        return self.create("SMS", "Messages", form, msg)
