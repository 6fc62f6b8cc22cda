"""E-mail over SMTP (smtplib): plain text, with the one-tap acknowledge link.

SMTP's own answer decides retries: 4xx replies, timeouts and dropped connections are retried;
5xx replies (unknown mailbox, refused credentials) and TLS failures are permanent.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
from email.charset import QP, Charset
from email.header import Header
from email.message import EmailMessage, Message
from email.policy import compat32
from email.utils import formataddr, formatdate, getaddresses, make_msgid
from typing import Any
from urllib.parse import urlsplit

from .base import Delivered, OutboundMessage, Transport, TransportError, not_configured

SETTINGS = "VIGIL_SMTP_HOST and VIGIL_SMTP_FROM"
IDLE_SECONDS = 20.0  # a connection unused longer is closed rather than reused (servers drop idle ones)


class EmailTransport(Transport):
    kind = "email"

    def __init__(self, config: dict[str, Any], db: Any = None) -> None:
        super().__init__(config, db)
        # Our own name for HELO and Message-IDs: without it smtplib asks DNS for the FQDN, which
        # can take seconds on a badly configured host.
        self.hostname = urlsplit(str(config.get("BASE_URL", ""))).hostname or "vigil.invalid"
        self._local = threading.local()  # each sending thread's connection (smtplib's is not thread-safe)
        self._lock = threading.Lock()
        self._open: set[smtplib.SMTP] = set()

    def send(self, msg: OutboundMessage) -> Delivered:
        c = self.config
        if not (c.get("SMTP_HOST") and c.get("SMTP_FROM")):
            raise not_configured("E-mail", SETTINGS)
        mail = self.build(msg)
        timeout = float(c.get("SMTP_TIMEOUT_SECONDS", 10.0))
        try:
            self._deliver(mail, timeout)
        except smtplib.SMTPRecipientsRefused as e:
            code, text = next(iter(e.recipients.values()))
            raise _reply_error("the mail server refused the address", code, text) from None
        except smtplib.SMTPResponseException as e:
            raise _reply_error("the mail server refused the message", e.smtp_code, e.smtp_error) from None
        except smtplib.SMTPNotSupportedError as e:
            raise TransportError(f"the mail server does not support {e}", permanent=True) from None
        except ssl.SSLError as e:  # before OSError: a certificate problem is configuration, not weather
            raise TransportError(f"TLS with the mail server failed: {e.reason or e}", permanent=True) from None
        except TimeoutError:
            raise TransportError(f"the mail server did not answer within {timeout:g} s") from None
        except (smtplib.SMTPException, OSError) as e:
            raise TransportError(f"cannot talk to the mail server: {type(e).__name__}: {e}") from None
        return Delivered(status_code=250, provider_id=mail["Message-ID"], answer="250 accepted")

    def _deliver(self, mail: Message, timeout: float) -> None:
        """Over this sending thread's connection, kept open between messages (a burst of client
        answers pays one connection, STARTTLS and login per thread, not one per message), or a new
        one. A kept connection the server has dropped meanwhile is replaced once; any other
        failure closes it, so the next message starts clean."""
        kept = self._take()
        if kept is not None:
            try:
                kept.send_message(mail)
                self._keep(kept)
                return
            except smtplib.SMTPServerDisconnected:
                self._drop(kept)  # dropped while idle: the message did not go; once more, on a new one
            except BaseException:
                self._drop(kept)
                raise
        smtp = self._connect(timeout)
        try:
            smtp.send_message(mail)
        except BaseException:
            _close(smtp)
            raise
        self._keep(smtp)

    def _connect(self, timeout: float) -> smtplib.SMTP:
        c = self.config
        smtp = smtplib.SMTP(c["SMTP_HOST"], int(c.get("SMTP_PORT", 587)), local_hostname=self.hostname, timeout=timeout)
        try:
            if c.get("SMTP_STARTTLS", True):
                smtp.starttls(context=ssl.create_default_context(cafile=c.get("SMTP_CA_FILE")))
            if c.get("SMTP_USERNAME"):
                smtp.login(c["SMTP_USERNAME"], c.get("SMTP_PASSWORD") or "")
        except BaseException:
            _close(smtp)
            raise
        return smtp

    def _take(self) -> smtplib.SMTP | None:
        held: tuple[smtplib.SMTP, float] | None = getattr(self._local, "smtp", None)
        self._local.smtp = None
        if held is None:
            return None
        smtp, used = held
        if time.monotonic() - used > IDLE_SECONDS:
            self._drop(smtp)
            return None
        return smtp

    def _keep(self, smtp: smtplib.SMTP) -> None:
        self._local.smtp = (smtp, time.monotonic())
        with self._lock:
            self._open.add(smtp)

    def _drop(self, smtp: smtplib.SMTP) -> None:
        with self._lock:
            self._open.discard(smtp)
        _close(smtp)

    def close(self) -> None:
        with self._lock:
            connections, self._open = self._open, set()
        for smtp in connections:
            _close(smtp)

    def build(self, msg: OutboundMessage) -> Message:
        """The message: a plain one (no attachment: every page and nearly every answer) put
        together directly, with the stdlib's RFC 2047 and quoted-printable encoders, which costs
        a tenth of an EmailMessage's header parsing (~2 ms a message, in a burst of client mail
        most of the engine's time); one with attachments as an EmailMessage."""
        mail: Message = EmailMessage() if msg.extra.get("attachments") else Message(policy=_PLAIN)
        plain = not isinstance(mail, EmailMessage)

        def put(name: str, value: str) -> None:
            del mail[name]
            mail[name] = _encoded(name, value) if plain else value

        put("Subject", msg.subject)
        put("From", self.config["SMTP_FROM"])
        put("To", msg.address)
        put("Date", formatdate(localtime=False, usegmt=True))
        # Stable per page: a page sent again (a retry after a timeout, another engine after
        # this one died mid-send) carries the same Message-ID, so mail programs that drop
        # duplicates show it once.
        put("Message-ID", f"<vigil.notification.{msg.notification_id}@{self.hostname}>"
            if msg.notification_id else make_msgid("vigil", domain=self.hostname))
        # Not a person writing: vacation responders and filters keep quiet.
        put("Auto-Submitted", "auto-generated")
        if msg.incident is not None:
            put("X-Vigil-Incident", str(msg.incident["id"]))
            put("X-Priority", "1" if msg.urgency == "high" else "3")
        # A message to a client's contact (notify/outbound.py) carries its own headers: who it
        # is from, threading (Message-ID, In-Reply-To, References), List-Unsubscribe...
        for name, value in msg.extra.get("headers", {}).items():
            put(name, " ".join(str(value).split()))  # one line: no header can be smuggled in
        if plain:
            mail["MIME-Version"] = "1.0"
            body = msg.body if msg.body.endswith("\n") else msg.body + "\n"
            ascii_lines = body.isascii() and all(len(line) <= 998 for line in body.splitlines())
            mail.set_payload(body, "us-ascii" if ascii_lines else _UTF8)
            return mail
        assert isinstance(mail, EmailMessage)
        mail.set_content(msg.body)
        for filename, content_type, data in msg.extra.get("attachments", ()):
            maintype, _, subtype = content_type.partition("/")
            mail.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
        return mail


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


# Header lines as long as SMTP allows (998): values are one line each (see build), and folding a
# long address or link (List-Unsubscribe) would leave a space at its start for some readers.
_PLAIN = compat32.clone(max_line_length=998)
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP  # readable in the raw source, unlike base64, and 7-bit safe
_ADDRESSES = frozenset({"from", "to", "cc", "reply-to", "sender"})


def _encoded(name: str, value: str) -> str:
    """A header's value as a plain message carries it: ASCII as is, else RFC 2047 encoded (an
    address's display name only, never the address itself)."""
    if value.isascii():
        return value
    if name.lower() in _ADDRESSES:
        return ", ".join(formataddr(pair, charset="utf-8") for pair in getaddresses([value]))
    return Header(value, "utf-8").encode()


def _reply_error(what: str, code: int, text: bytes | str) -> TransportError:
    detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return TransportError(f"{what}: {code} {detail}", permanent=500 <= code < 600, status_code=code)
