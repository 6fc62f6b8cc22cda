"""The SMTP listener (`vigil mail`, the Procfile's `mail` process): aiosmtpd on its own port.

- RCPT: the address must resolve (recipients.resolve) or it is refused with 550; one client
  address per message (a second gets 452: the sending server retries it as its own message).
- DATA: SIZE is announced in EHLO and a message above it gets 552. The message is parsed (on a
  worker thread, before any transaction), decided (senders.decide) and stored raw (store.admit)
  in a transaction committed before the answer: 250 means it is in the database. In that same
  transaction, after the insert and in a savepoint, `process` opens or threads its incident
  (incidents/mail.py): a message that fails there stays stored for the engine's sweep. Messages
  whose DATA ended together share the transaction (one BEGIN/COMMIT, on SQLite one turn of the
  write lock, for a burst).
- STARTTLS when a certificate is given. A failure of ours answers 451 (the sender retries,
  nothing is lost) and the listener keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.orm import Session as OrmSession

from ...batching import GroupWriter
from ...clock import Clock
from ...db import Database, retry_transient
from .parse import Parsed, parse_or_error
from .pings import ping_by_mail
from .recipients import Recipient, resolve_cached
from .store import admit, envelope_sender

log = logging.getLogger("vigil.mail")


@dataclass(frozen=True)
class Settings:
    domain: str
    host: str = "127.0.0.1"
    port: int = 2525
    max_bytes: int = 25 * 1024 * 1024
    tls_cert: str | None = None
    tls_key: str | None = None
    shared_port: bool = False  # SO_REUSEPORT: several `vigil mail` processes on one port

    @classmethod
    def of(cls, config: dict[str, Any], domain: str | None) -> Settings | None:
        """None when the listener is off (no domain: see recipients.configured_domain)."""
        if not domain:
            return None
        return cls(domain=domain.lower(), host=config.get("MAIL_HOST") or "127.0.0.1",
                   port=int(config.get("MAIL_PORT") or 2525), max_bytes=int(config.get("MAIL_MAX_BYTES") or 25 * 1024 * 1024),
                   tls_cert=config.get("MAIL_TLS_CERT"), tls_key=config.get("MAIL_TLS_KEY"),
                   shared_port=bool(config.get("MAIL_SHARED_PORT")))


# Processing stored messages (incidents/mail.py's Processor): (session, [(mail id, its parse)], now,
# careful: each in a savepoint), in the storing transaction.
Process = Callable[[OrmSession, list[tuple[int, Parsed | Exception | None]], datetime, bool], None]


@dataclass
class _Incoming:
    rcpt: Recipient
    mail_from: str | None
    raw: bytes
    parsed: Parsed | Exception | None = None
    answer: tuple[int, str] | None = None


class Handler:
    """aiosmtpd's handler: the database work runs on threads, never on the event loop."""

    def __init__(self, db: Database, clock: Clock, settings: Settings, process: Process | None = None,
                 threads: int = 32) -> None:
        self.db, self.clock, self.settings = db, clock, settings
        self.process = process
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="vigil-mail")
        self.storer: GroupWriter[_Incoming] = GroupWriter(self._store_batch, name="vigil-mail-store", max_batch=50)

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def _resolve(self, address: str) -> Recipient | None:
        with self.db.Session(bind=self.db.read_engine) as s:
            return resolve_cached(s, address, self.settings.domain)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if envelope.rcpt_tos:
            return "452 4.5.3 One recipient per message here; send the others separately"
        try:
            rcpt = await self._run(self._resolve, address)
        except Exception:
            log.exception("recipient lookup failed")
            return "451 4.3.0 Temporary failure; please try again later"
        if rcpt is None:
            return f"550 5.1.1 <{address}>: no such address here"
        if rcpt.refusal is not None:
            return f"550 5.7.1 <{address}>: {rcpt.refusal}"
        envelope.rcpt_tos.append(address)
        envelope.vigil_rcpt = rcpt  # type: ignore[attr-defined]
        return "250 2.1.5 OK"

    def _store(self, rcpt: Recipient, mail_from: str | None, raw: bytes) -> tuple[int, str]:
        item = _Incoming(rcpt, mail_from, raw)
        if self.process is not None and rcpt.kind == "client" and rcpt.refusal is None:
            item.parsed = parse_or_error(raw, envelope_sender(mail_from))  # outside the transaction
        self.storer.put(item).wait(timeout=120)
        if item.answer is None:
            raise RuntimeError("the message could not be stored")
        return item.answer

    def _store_batch(self, items: list[_Incoming]) -> None:
        """Messages whose DATA ended meanwhile, stored in one transaction (one BEGIN/COMMIT, and on
        SQLite one turn of the write lock, for a burst). Their answers are set only once it has
        committed: only then may a sender hear 250.

        First as one piece, processing included; should anything fail, the batch is stored again
        with each message's processing in a savepoint (a message that cannot be processed stays
        stored for the engine's sweep), and should that fail, one message at a time."""
        def once(batch: list[_Incoming], careful: bool) -> None:
            answers, stored = [], []
            with self.db.write_turn(), self.db.transaction() as s:
                now = self.clock.now()
                for it in batch:
                    if it.rcpt.kind == "heartbeat":
                        answers.append(ping_by_mail(s, it.rcpt, it.mail_from, it.raw, now))
                        continue
                    a = admit(s, it.rcpt, it.mail_from, it.raw, "smtp", now)
                    answers.append((a.decision.code, a.decision.text))
                    if a.mail_id is not None and a.decision.status == "received":
                        stored.append((a.mail_id, it.parsed))
                if stored and self.process is not None:
                    self.process(s, stored, now, careful)
            for it, answer in zip(batch, answers, strict=True):
                it.answer = answer

        try:
            retry_transient(lambda: once(items, careful=False))
            return
        except Exception:
            log.warning("storing and processing %d message(s) together failed; again, carefully", len(items),
                        exc_info=True)
        try:
            retry_transient(lambda: once(items, careful=True))
        except Exception:
            if len(items) == 1:
                raise
            for it in items:
                try:
                    retry_transient(lambda it=it: once([it], careful=True))
                except Exception:
                    log.exception("storing a message failed")

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        rcpt: Recipient | None = getattr(envelope, "vigil_rcpt", None)
        if rcpt is None:
            return "503 5.5.1 RCPT first"
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            code, text = await self._run(self._store, rcpt, envelope.mail_from, raw)
        except Exception:
            log.exception("storing a message failed")
            return "451 4.3.0 Temporary failure; the message was not accepted, please try again"
        return f"{code} {text}"

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.storer.close()


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.tls_cert:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(settings.tls_cert, settings.tls_key or None)
    return ctx


class _SharedPortController(Controller):
    """Several `vigil mail` processes may listen on one port (SO_REUSEPORT, when asked for: by
    default a port in use is an error, not a silent share): the kernel spreads the connections,
    and each process has its own interpreter lock."""

    shared = False

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, host=self.hostname, port=self.port,
                                       ssl=self.ssl_context, reuse_port=self.shared or None)

    def _trigger_server(self) -> None:
        if not self.shared:
            return super()._trigger_server()  # type: ignore[no-any-return]
        # aiosmtpd checks it is serving by connecting to the port; on a shared port the kernel
        # may give that connection to another process. Check the protocol factory itself.
        try:
            self.smtpd = self.factory()
        except Exception as err:
            self._thread_exception = err
        self._factory_invoked.set()
        return None


def controller(handler: Handler) -> Controller:
    """An aiosmtpd Controller (its own thread and event loop); `.start()` listens."""
    s = handler.settings
    server = _SharedPortController(
        handler, hostname=s.host, port=s.port, server_hostname=s.domain, ready_timeout=10.0,
        data_size_limit=s.max_bytes, enable_SMTPUTF8=True, decode_data=False,
        tls_context=tls_context(s), require_starttls=False,
        ident="Vigil incident mail",
    )
    server.shared = s.shared_port
    return server
