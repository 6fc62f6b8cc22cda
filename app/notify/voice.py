"""Voice calls through the Twilio-compatible provider. The call fetches its script from
/twilio/voice/<token> when it is answered (answers/calls.py writes it from the incident's state
at that moment), so a call picked up after someone else acknowledged says so instead of asking
again."""

from __future__ import annotations

from .base import Delivered, OutboundMessage, TransportError
from .twilio import TwilioTransport
from .twiml import say

RING_SECONDS = "30"  # then voicemail would answer; the other channels are already out


class VoiceTransport(TwilioTransport):
    kind = "voice"

    def send(self, msg: OutboundMessage) -> Delivered:
        base = str(self.config.get("BASE_URL", "")).rstrip("/")
        form = {"To": msg.address, "Timeout": RING_SECONDS}
        if msg.outsider:  # someone who is not a user (notify/outbound.py): the message, read twice
            form["Twiml"] = say(f"{msg.body} I repeat. {msg.body} Goodbye.")
        elif msg.incident is None:
            form["Twiml"] = say(f"This is a test call from Vigil for {msg.user_name}. "
                                "If you can hear this, Vigil can reach you on this number. Goodbye.")
        elif msg.ack_token:
            form.update(Url=f"{base}/twilio/voice/{msg.ack_token}", Method="POST",
                        StatusCallback=f"{base}/twilio/status/{msg.notification_id}")
        else:
            raise TransportError("a paging call needs an acknowledgement token", permanent=True)
        return self.create("Voice", "Calls", form, msg)
