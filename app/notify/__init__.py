"""Notification channels: one small module per channel on a thin base (see base.py).

push: Web Push (webpush.py) · sms, voice: a Twilio-compatible provider (sms.py, voice.py) ·
email: SMTP (email.py) · webhook: a status page's news to a client's webhook (webhook.py) ·
recording: an in-memory log for tests and demos (recording.py).
"""

from __future__ import annotations

from .base import Transport
from .email import EmailTransport
from .recording import RecordingTransport
from .sms import SmsTransport
from .voice import VoiceTransport
from .webhook import WebhookTransport
from .webpush import WebPushTransport

TRANSPORTS: dict[str, type[Transport]] = {
    t.kind: t for t in (WebPushTransport, SmsTransport, VoiceTransport, EmailTransport, WebhookTransport,
                        RecordingTransport)
}
