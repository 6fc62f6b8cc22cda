"""A real SMTP server on loopback (aiosmtpd ``Controller`` on 127.0.0.1, free port).

``FakeSMTPServer()`` accepts everything; ``FakeSMTPServer(starttls=True, auth=("user",
"pw"))`` behaves like a submission server: it offers STARTTLS with a throwaway CA +
certificate (for ``localhost`` and ``127.0.0.1``; trust ``server.ca_cert_path`` or use
``server.client_ssl_context()``), refuses MAIL before STARTTLS (``require_starttls``,
default on when TLS is enabled), only advertises AUTH after STARTTLS (aiosmtpd's
``auth_require_tls``), checks the credentials (PLAIN / LOGIN) and refuses MAIL from an
unauthenticated session with ``530 5.7.0``.

Each accepted message is a ``ReceivedMail`` whose ``.message`` is an
``email.message.EmailMessage`` (parsed with ``email.policy.default``), with the envelope
(``mail_from``, ``rcpt_tos``), whether TLS was active and who logged in.
``respond_with("451 4.3.0 Try again later", times=1, stage="DATA")`` scripts failures.

Shutdown closes the server socket, the event loop (aiosmtpd closes the loop it ran) and
deletes the temporary certificate directory.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import shutil
import ssl
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.fakes.servers import Recorder

__all__ = ["FakeSMTPServer", "ReceivedMail", "AuthAttempt", "make_test_certificate"]


class _DropLoginDataDeprecation(logging.Filter):
    """aiosmtpd 1.4 itself sets the deprecated Session.login_data on every successful
    AUTH and logs a warning about it; that line is noise, not a problem of ours."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Session.login_data is deprecated" not in record.getMessage()


_mail_log = logging.getLogger("mail.log")
if not any(isinstance(f, _DropLoginDataDeprecation) for f in _mail_log.filters):
    _mail_log.addFilter(_DropLoginDataDeprecation())


@dataclass(frozen=True)
class ReceivedMail:
    message: EmailMessage
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    tls: bool
    authenticated_as: str | None
    peer: Any
    received_at: float  # time.monotonic()

    # conveniences
    @property
    def subject(self) -> str | None:
        return self.message["Subject"]

    def body_text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    def body_html(self) -> str | None:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else None


@dataclass(frozen=True)
class AuthAttempt:
    mechanism: str
    username: str
    success: bool
    tls: bool


def make_test_certificate(
    directory: Path,
    hostnames: tuple[str, ...] = ("localhost",),
    ips: tuple[str, ...] = ("127.0.0.1",),
) -> tuple[Path, Path, Path]:
    """Write a throwaway CA and a server certificate signed by it into ``directory``.
    Returns ``(ca_cert_path, server_cert_path, server_key_path)`` (PEM)."""
    now = dt.datetime.now(dt.UTC)
    not_before, not_after = now - dt.timedelta(minutes=5), now + dt.timedelta(days=1)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Vigil test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName(h) for h in hostnames] + [
        x509.IPAddress(ipaddress.ip_address(i)) for i in ips
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0] if hostnames else ips[0])]
            )
        )
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    ca_path, cert_path, key_path = (
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server.key",
    )
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


class _Controller(Controller):
    """aiosmtpd's Controller with port 0 support: learn the real port once bound. It keeps its
    sessions, to close what is left of them when it stops: a client that vanished in the middle
    of a TLS session (a killed process: no close_notify, no QUIT) leaves aiosmtpd a socket it
    never closes, which the garbage collector would then report."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: weakref.WeakSet[Any] = weakref.WeakSet()

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

    def factory(self) -> Any:
        smtp = super().factory()
        self.sessions.add(smtp)
        return smtp

    def close_sessions(self) -> None:
        async def close() -> None:
            for smtp in list(self.sessions):
                for transport in (smtp.transport, smtp._original_transport):
                    if transport is not None:
                        transport.close()
            await asyncio.sleep(0.05)  # each transport's connection_lost runs, and its socket closes

        if self._thread is not None and not self.loop.is_closed():
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)


class _Handler:
    def __init__(self, owner: FakeSMTPServer) -> None:
        self.owner = owner

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list
    ) -> str:
        owner = self.owner
        if owner.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        scripted = owner._take("MAIL")
        if scripted:
            return scripted
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list
    ) -> str:
        scripted = self.owner._take("RCPT")
        if scripted:
            return scripted
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        scripted = self.owner._take("DATA")
        if scripted:
            return scripted
        raw: bytes = envelope.original_content or b""
        message = BytesParser(policy=policy.default).parsebytes(raw)
        login = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode("utf-8", "replace")
        self.owner._messages.append(
            ReceivedMail(
                message=message,  # type: ignore[arg-type]
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                raw=raw,
                tls=session.ssl is not None,
                authenticated_as=login,
                peer=session.peer,
                received_at=time.monotonic(),
            )
        )
        return "250 2.0.0 OK queued"


class FakeSMTPServer:
    """See the module docstring. Context manager, or ``start()``/``stop()``."""

    def __init__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        starttls: bool = False,
        require_starttls: bool | None = None,
        host: str = "127.0.0.1",
        ready_timeout: float = 5.0,
        data_size_limit: int = 10 * 1024 * 1024,
    ) -> None:
        self.auth = auth
        self.starttls = starttls
        self.require_starttls = starttls if require_starttls is None else require_starttls
        if self.require_starttls and not starttls:
            raise ValueError("require_starttls needs starttls=True")
        self.host = host
        self.ready_timeout = ready_timeout
        self.data_size_limit = data_size_limit
        self.port: int | None = None
        self.ca_cert_path: Path | None = None
        self.cert_path: Path | None = None
        self._tmpdir: Path | None = None
        self._finalizer: weakref.finalize | None = None
        self._controller: _Controller | None = None
        self._messages = Recorder()
        self._auth_attempts = Recorder()
        self._script_lock = threading.Lock()
        self._script: list[list[Any]] = []  # [stage, reply, times]

    # lifecycle ---------------------------------------------------------------------
    def start(self) -> FakeSMTPServer:
        if self._controller is not None:
            raise RuntimeError("SMTP server already running")
        tls_context = None
        if self.starttls:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="vigil-smtp-"))
            self._finalizer = weakref.finalize(self, shutil.rmtree, str(self._tmpdir), True)
            self.ca_cert_path, self.cert_path, key_path = make_test_certificate(self._tmpdir)
            tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls_context.load_cert_chain(self.cert_path, key_path)
        kwargs: dict[str, Any] = {
            "hostname": self.host,
            "port": 0,
            "ready_timeout": self.ready_timeout,
            "server_hostname": "localhost",  # banner name; avoids a slow getfqdn()
            "data_size_limit": self.data_size_limit,
            "auth_required": False,  # enforced in handle_MAIL (avoids aiosmtpd's warning)
            "auth_require_tls": self.starttls,  # AUTH only after STARTTLS when TLS is on
        }
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=self.require_starttls)
        if self.auth is not None:
            kwargs["authenticator"] = self._authenticate
        controller = _Controller(_Handler(self), **kwargs)
        try:
            controller.start()
        except BaseException:
            if controller._thread is not None:
                controller.stop(no_assert=True)
            if not controller.loop.is_closed():
                controller.loop.close()
            self._cleanup_files()
            raise
        self._controller = controller
        self.port = controller.port
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.close_sessions()
            controller.stop()
            if not controller.loop.is_closed():  # closed by aiosmtpd's _run; be sure
                controller.loop.close()
        self._cleanup_files()

    def _cleanup_files(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # rmtree once
            self._finalizer = None

    def __enter__(self) -> FakeSMTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # TLS helpers -------------------------------------------------------------------
    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's throwaway CA (hostname checked)."""
        if self.ca_cert_path is None:
            raise RuntimeError("server was not started with starttls=True")
        return ssl.create_default_context(cafile=str(self.ca_cert_path))

    # auth ----------------------------------------------------------------------------
    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.auth is not None
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        ok = (user, auth_data.password.decode("utf-8", "replace")) == self.auth
        self._auth_attempts.append(AuthAttempt(mechanism, user, ok, session.ssl is not None))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    # scripting -------------------------------------------------------------------------
    def respond_with(self, reply: str, times: int | None = 1, stage: str = "DATA") -> None:
        """Answer the next ``times`` MAIL/RCPT/DATA commands with ``reply`` (a full SMTP
        reply line such as ``"451 4.3.0 Try again later"`` or ``"550 5.1.1 No such user"``)."""
        stage = stage.upper()
        if stage not in ("MAIL", "RCPT", "DATA"):
            raise ValueError("stage must be MAIL, RCPT or DATA")
        with self._script_lock:
            self._script.append([stage, reply, times])

    def _take(self, stage: str) -> str | None:
        with self._script_lock:
            for i, entry in enumerate(self._script):
                if entry[0] == stage:
                    if entry[2] is not None:
                        entry[2] -= 1
                        if entry[2] <= 0:
                            del self._script[i]
                    return entry[1]
        return None

    # observations ------------------------------------------------------------------------
    @property
    def messages(self) -> list[ReceivedMail]:
        return self._messages.snapshot()

    @property
    def auth_attempts(self) -> list[AuthAttempt]:
        return self._auth_attempts.snapshot()

    def wait_for(self, n: int = 1, timeout: float = 5) -> list[ReceivedMail]:
        """Block until at least ``n`` messages were accepted; returns all of them."""
        return self._messages.wait_for(n, timeout)

    def clear(self) -> None:
        self._messages.clear()
        self._auth_attempts.clear()
        with self._script_lock:
            self._script.clear()
