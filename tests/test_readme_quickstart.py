"""README's first command, run as written on a copy of the project with a virtualenv of its own
(only Vigil's runtime dependencies, none of the test tools): it must load the demo, serve Vigil
with gunicorn's gevent workers and the engine, and the `curl` it prints must open an incident.

This is the check that caught gunicorn's gevent worker needing `packaging`, which only the test
tools had been bringing in.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import BACKEND

ROOT = Path(__file__).resolve().parent.parent
BASE = "http://127.0.0.1:8000"


def quickstart_command() -> str:
    readme = (ROOT / "README.md").read_text()
    commands = [line.strip() for line in readme.splitlines() if line.startswith("    ") and line.strip()]
    assert commands and "vigil demo" in commands[0], "README must open with the command that runs Vigil"
    return commands[0]


@pytest.mark.skipif(BACKEND == "postgres", reason="the quickstart runs on SQLite; the SQLite pass covers it")
@pytest.mark.skipif(shutil.which("git") is None, reason="copies the project with git ls-files")
def test_the_readme_quickstart_serves_vigil_and_its_curl_opens_an_incident(tmp_path: Path) -> None:
    assert_port_free(8000)
    project = tmp_path / "vigil"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for name in filter(None, files.decode().split("\0")):
        if (ROOT / name).is_file():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, project / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIGIL_", "VIRTUAL_ENV", "PYTHON"))}
    log = tmp_path / "quickstart.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["bash", "-c", quickstart_command()], cwd=project, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 420  # a cold pip install of the runtime dependencies
        while True:
            assert proc.poll() is None, f"the quickstart stopped:\n{log.read_text()[-3000:]}"
            try:
                if requests.get(f"{BASE}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"Vigil did not come up:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        curl = next(line.strip() for line in log.read_text().splitlines() if line.strip().startswith("curl "))
        answer = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=30)
        body = json.loads(answer.stdout)
        assert body["status"] == "success" and body["dedup_key"] == "disk-web-2", answer.stdout
        logins = re.findall(r"(\S+@vigil\.example)\s+password: (\S+)", log.read_text())
        assert logins, "the demo prints its logins"
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """The whole group: bash, `vigil serve`, gunicorn and the engine."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def assert_port_free(port: int) -> None:
    """Fail clearly, rather than talk to someone else's server, when the port is taken."""
    import socket

    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            pytest.fail(f"port {port} is in use: the quickstart serves there")
