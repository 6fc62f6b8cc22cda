"""The thin base every channel sits on.

A transport turns one OutboundMessage into one delivery attempt. It returns a Delivered, or
raises TransportError: `permanent=True` means retrying cannot help (a 410 from a push service, an
invalid phone number, a channel this server has no provider for); otherwise the engine retries
with backoff (timeouts, 429, 5xx), honouring `retry_after` when the provider gave one.
`disable_method` switches the contact method off (with the reason shown to its owner);
`remove_method` deletes it (a push subscription the service says no longer exists).

Transports never write to the database: the engine records attempts before and after. Every
network call they make has a timeout.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import requests

if TYPE_CHECKING:
    from ..db import Database


@dataclass(frozen=True)
class OutboundMessage:
    notification_id: int
    kind: str  # channel
    purpose: str  # page | help | test
    user_id: int
    user_name: str
    address: str  # e-mail, phone number, push endpoint
    subject: str  # one line: "[Vigil #1042] Acme / web: Disk full"
    body: str  # plain text
    ack_url: str | None = None  # one-tap acknowledge link (signed, one-time)
    incident: dict[str, Any] | None = None  # incidents.snapshot(...) for pages
    push_p256dh: str | None = None
    push_auth: str | None = None
    urgency: str = "high"
    extra: dict[str, Any] = field(default_factory=dict)
    ack_token: str | None = None  # the token inside ack_url (voice calls fetch their script with it)
    short: str = ""  # "#1042 HIGH Acme Retail / Web shop: Disk 95% full" (SMS, voice)
    # To someone who is not a user (a client's contact, notify/outbound.py): the subject and body
    # go out as written, with extra["headers"] and extra["attachments"] for e-mail.
    outsider: bool = False


@dataclass(frozen=True)
class Delivered:
    status_code: int | None = None
    provider_id: str | None = None
    answer: str = ""


class TransportError(Exception):
    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        status_code: int | None = None,
        retry_after: float | None = None,
        answer: str = "",
        disable_method: bool = False,
        remove_method: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent or remove_method
        self.status_code = status_code
        self.retry_after = retry_after
        self.answer = answer
        self.disable_method = disable_method
        self.remove_method = remove_method


class Transport:
    kind: ClassVar[str]
    # A second copy of a page reaches the person as one (Web Push: the same Topic replaces the
    # first). Only for such channels may a sending thread go on before the engine has recorded
    # the send; for the others (an SMS, a call, an e-mail: each copy costs and wakes) it waits,
    # so a crash re-sends at most what was on the wire (see delivery.Sender.deliver).
    collapses_copies: ClassVar[bool] = False

    def __init__(self, config: dict[str, Any], db: Database | None = None) -> None:
        # `db` is for reading installation settings (the VAPID key), never for delivery records.
        self.config = config
        self.db = db

    def send(self, msg: OutboundMessage) -> Delivered:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections kept between sends (the engine is stopping)."""


class KeepAlive:
    """HTTP sessions for a transport: one per sending thread (requests.Session is not
    thread-safe), so each thread keeps its connections to the provider open between sends
    instead of a TCP (and TLS) handshake per page; closed together when the engine stops."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sessions: list[requests.Session] = []

    def session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = _EnvironmentOnce()
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()


class _EnvironmentOnce(requests.Session):
    """requests looks up proxy and CA settings in the environment on every request, scanning
    all of os.environ twice: about a sixth of a push's CPU, paid by the engine process in an
    alert storm. They do not change while we run, so each host's are read once."""

    def __init__(self) -> None:
        super().__init__()
        self._env: dict[tuple[str, str], dict[str, Any]] = {}

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        if proxies or stream is not None or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._env:
            self._env[key] = super().merge_environment_settings(url, {}, None, None, None)
        found = self._env[key]
        return {**found, "proxies": dict(found["proxies"])}


def answer_text(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def not_configured(channel: str, settings: str) -> TransportError:
    return TransportError(f"{channel} is not configured on this server (set {settings})", permanent=True)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After in seconds, from either form (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdecimal():
        return float(value)
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
