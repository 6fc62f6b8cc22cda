"""The recording channel: delivers to an in-memory log. Used by tests and demos, and as the
channel of last resort in development; every delivery also lands on the incident timeline
(the engine writes that for every channel)."""

from __future__ import annotations

import threading
from typing import ClassVar

from .base import Delivered, OutboundMessage, Transport


class RecordingTransport(Transport):
    kind = "recording"
    collapses_copies = True  # a log in memory: nobody's phone
    _lock: ClassVar[threading.Lock] = threading.Lock()
    sent: ClassVar[list[OutboundMessage]] = []

    def send(self, msg: OutboundMessage) -> Delivered:
        with self._lock:
            self.sent.append(msg)
        return Delivered(status_code=None, provider_id=f"rec-{msg.notification_id}", answer="recorded")

    @classmethod
    def clear(cls) -> None:
        with cls._lock:
            cls.sent.clear()
