"""`vigil demo` turns the mail listener on and says where to send a test mail; `vigil mail` (the
Procfile's `mail` process) then turns such a mail into an incident; without a domain it is off."""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from app.db import Database
from app.models import Incident
from tests.helpers import ROOT, free_port


def _env(tmp_path: Path, **more: str) -> dict[str, str]:
    return {"VIGIL_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "VIGIL_INSTANCE_PATH": str(tmp_path / "instance"),
            "VIGIL_PASSWORD_PROFILE": "CHEAPEST", **more}


def test_the_demo_turns_mail_on_and_a_test_mail_to_the_printed_address_opens_an_incident(tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, VIGIL_MAIL_PORT=str(port), VIGIL_MAIL_HOST="127.0.0.1")
    out = CliRunner().invoke(main, ["demo", "--json"], env=env, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    mail = json.loads(out.output)["mail"]
    assert mail["smtp"] == f"127.0.0.1:{port}"
    assert mail["addresses"] == {"acme": "acme@mail.vigil.localhost", "globex": "globex@mail.vigil.localhost"}
    assert mail["allowed_senders"] == {"acme": "ops@acme.example", "globex": "ops@globex.example"}
    text = CliRunner().invoke(main, ["demo"], env=env, catch_exceptions=False).output
    assert f"swaks --server 127.0.0.1:{port} --from ops@acme.example --to acme@mail.vigil.localhost" in text

    log = tmp_path / "mail.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "mail"], env={**os.environ, **env}, cwd=ROOT,
                                stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                smtp = smtplib.SMTP("127.0.0.1", port, timeout=10)
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.1)
        with smtp:
            refused = smtp.sendmail("ops@acme.example", [mail["addresses"]["acme"]],
                                    b"From: ops@acme.example\r\nSubject: The web shop is down\r\n\r\nPlease look.\r\n")
        assert refused == {}
        db = Database(env["VIGIL_DATABASE_URL"])
        try:
            while True:
                with db.session() as s:
                    found = s.execute(select(Incident.summary).where(Incident.source == "email")).scalars().all()
                if found or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        finally:
            db.dispose()
        assert found == ["The web shop is down"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert proc.returncode == 0


def test_vigil_mail_is_off_without_a_domain(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["mail"], env=_env(tmp_path))
    assert result.exit_code != 0 and "set VIGIL_MAIL_DOMAIN" in result.output
