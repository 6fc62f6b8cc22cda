"""Client e-mail test helpers: a real SMTP listener on loopback, the corpus, and the rules."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app import incidents
from app.clock import ManualClock
from app.db import Database
from app.intake.mail.listener import Handler, Settings, controller
from app.models import ClientMail, InboundMail, Incident
from tests.helpers import free_port

DOMAIN = "mail.vigil.test"
CORPUS = Path(__file__).resolve().parent / "payloads" / "mail"


def corpus(name: str, ref: str | None = None) -> bytes:
    raw = (CORPUS / name).read_bytes()
    return raw.replace(b"%%REF%%", ref.encode()) if ref else raw


def allow(database: Database, client_id: int, *senders: str, unknown: str = "refuse", **more: Any) -> None:
    from app.intake.keys import forget_cached_keys

    forget_cached_keys()  # intake caches where a client's mail lands for a few seconds
    with database.transaction() as s:
        row = s.get(ClientMail, client_id) or ClientMail(client_id=client_id)
        row.allowed_senders = list(senders)
        row.unknown_senders = unknown
        for k, v in more.items():
            setattr(row, k, v)
        s.add(row)


@contextmanager
def listening(database: Database, clock: ManualClock, *, process: bool = True, **settings: Any) -> Iterator[Handler]:
    """The listener on a free loopback port; `handler.settings.port` is where to send."""
    port = settings.pop("port", None) or free_port()
    s = Settings(domain=DOMAIN, host="127.0.0.1", port=port, **settings)
    handler = Handler(database, clock, s, incidents.mail_processor() if process else None)
    server = controller(handler)
    try:
        server.start()
    except BaseException:
        server.stop(no_assert=True)
        handler.close()
        raise
    try:
        yield handler
    finally:
        server.stop()
        handler.close()


def send(handler: Handler, raw: bytes, *, mail_from: str = "ops@acme.test", to: str = f"acme@{DOMAIN}") -> tuple[int, bytes]:
    """One message over SMTP: the answer to DATA (or to the refusing command)."""
    with smtplib.SMTP("127.0.0.1", handler.settings.port, timeout=10) as smtp:
        smtp.ehlo("client.acme.test")
        code, text = smtp.mail(mail_from)
        if code != 250:
            return code, text
        code, text = smtp.rcpt(to)
        if code != 250:
            return code, text
        return smtp.data(raw)


def mails(database: Database) -> list[InboundMail]:
    with database.session() as s:
        return list(s.execute(select(InboundMail).order_by(InboundMail.id)).scalars())


def incident_list(database: Database) -> list[Incident]:
    with database.session() as s:
        return list(s.execute(select(Incident).order_by(Incident.id)).scalars())
