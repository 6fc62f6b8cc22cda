"""Notification tests run against real peers on loopback: a Web Push service that checks VAPID
and decrypts, a Twilio-compatible provider that signs its webhooks, an SMTP server with
STARTTLS and AUTH. The app itself is served on a real socket too, so ack links and the
provider's webhooks are followed over HTTP like in production. Time stays manual."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.clock import ManualClock
from app.db import Database
from app.engine.loop import Engine
from app.notify import vapid
from app.notify.recording import RecordingTransport
from tests.fakes.servers import WSGIServerThread
from tests.fakes.smtp import FakeSMTPServer
from tests.fakes.twilio import FakeTwilio
from tests.fakes.webpush import FakePushService
from tests.helpers import free_port, make_app

SMTP_LOGIN = ("vigil", "mail-secret")
SENDER = "+15005550006"


@pytest.fixture
def push_service() -> Iterator[FakePushService]:
    with FakePushService() as service:
        yield service


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as service:
        yield service


@pytest.fixture
def smtp() -> Iterator[FakeSMTPServer]:
    with FakeSMTPServer(starttls=True, auth=SMTP_LOGIN) as server:
        yield server


def channel_settings(twilio: FakeTwilio, smtp: FakeSMTPServer) -> dict[str, Any]:
    return {
        "VAPID_SUBJECT": "mailto:oncall@vigil.example",
        "PUSH_TIMEOUT_SECONDS": 2.0,
        "TWILIO_BASE_URL": twilio.url, "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token, "TWILIO_FROM": SENDER, "TWILIO_TIMEOUT_SECONDS": 2.0,
        "SMTP_HOST": "localhost", "SMTP_PORT": smtp.port, "SMTP_STARTTLS": True,
        "SMTP_USERNAME": SMTP_LOGIN[0], "SMTP_PASSWORD": SMTP_LOGIN[1], "SMTP_FROM": "Vigil <vigil@vigil.example>",
        "SMTP_CA_FILE": str(smtp.ca_cert_path), "SMTP_TIMEOUT_SECONDS": 2.0,
    }


@pytest.fixture
def app(database: Database, clock: ManualClock, tmp_path: Path, push_service: FakePushService,
        twilio: FakeTwilio, smtp: FakeSMTPServer) -> Iterator[Any]:
    port = free_port()
    app = make_app(database, clock, tmp_path, BASE_URL=f"http://127.0.0.1:{port}", **channel_settings(twilio, smtp))
    # Every push in these tests must be signed with the key the app serves to browsers.
    with database.transaction() as s:
        push_service.expect_vapid_public_key(vapid.load_or_create(s, clock.now()).public_key)
    with WSGIServerThread(app, port=port, name="vigil"):
        yield app


@pytest.fixture
def engine(app: Any, database: Database, clock: ManualClock) -> Iterator[Engine]:
    """An engine with every real channel (and the recording one)."""
    RecordingTransport.clear()
    e = Engine(database, clock, app.config, name="engine-1")
    yield e
    e.close()
