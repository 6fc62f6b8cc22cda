"""E-mail over SMTP (smtplib): plain text, with the one-tap acknowledge link.

SMTP's own answer decides retries: 4xx replies, timeouts and dropped connections are retried;
5xx replies (unknown mailbox, refused credentials) and TLS failures are permanent.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urlsplit

from .base import Delivered, OutboundMessage, Transport, TransportError, not_configured

SETTINGS = "VIGIL_SMTP_HOST and VIGIL_SMTP_FROM"


class EmailTransport(Transport):
    kind = "email"

    def __init__(self, config: dict[str, Any], db: Any = None) -> None:
        super().__init__(config, db)
        # Our own name for HELO and Message-IDs: without it smtplib asks DNS for the FQDN, which
        # can take seconds on a badly configured host.
        self.hostname = urlsplit(str(config.get("BASE_URL", ""))).hostname or "vigil.invalid"

    def send(self, msg: OutboundMessage) -> Delivered:
        c = self.config
        if not (c.get("SMTP_HOST") and c.get("SMTP_FROM")):
            raise not_configured("E-mail", SETTINGS)
        mail = self.build(msg)
        timeout = float(c.get("SMTP_TIMEOUT_SECONDS", 10.0))
        try:
            with smtplib.SMTP(c["SMTP_HOST"], int(c.get("SMTP_PORT", 587)), local_hostname=self.hostname,
                              timeout=timeout) as smtp:
                if c.get("SMTP_STARTTLS", True):
                    smtp.starttls(context=ssl.create_default_context(cafile=c.get("SMTP_CA_FILE")))
                if c.get("SMTP_USERNAME"):
                    smtp.login(c["SMTP_USERNAME"], c.get("SMTP_PASSWORD") or "")
                smtp.send_message(mail)
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

    def build(self, msg: OutboundMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = msg.subject
        mail["From"] = self.config["SMTP_FROM"]
        mail["To"] = msg.address
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        # Stable per page: a page sent again (a retry after a timeout, another engine after
        # this one died mid-send) carries the same Message-ID, so mail programs that drop
        # duplicates show it once.
        mail["Message-ID"] = f"<vigil.notification.{msg.notification_id}@{self.hostname}>" \
            if msg.notification_id else make_msgid("vigil", domain=self.hostname)
        # Not a person writing: vacation responders and filters keep quiet.
        mail["Auto-Submitted"] = "auto-generated"
        if msg.incident is not None:
            mail["X-Vigil-Incident"] = str(msg.incident["id"])
            mail["X-Priority"] = "1" if msg.urgency == "high" else "3"
        # A message to a client's contact (notify/outbound.py) carries its own headers: who it
        # is from, threading (Message-ID, In-Reply-To, References), List-Unsubscribe...
        for name, value in msg.extra.get("headers", {}).items():
            del mail[name]
            mail[name] = " ".join(str(value).split())  # one line: no header can be smuggled in
        mail.set_content(msg.body)
        for filename, content_type, data in msg.extra.get("attachments", ()):
            maintype, _, subtype = content_type.partition("/")
            mail.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
        return mail


def _reply_error(what: str, code: int, text: bytes | str) -> TransportError:
    detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return TransportError(f"{what}: {code} {detail}", permanent=500 <= code < 600, status_code=code)
