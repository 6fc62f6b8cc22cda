"""The first minutes with Vigil: `vigil demo` and `vigil serve` print what a person needs and no
migration chatter, and Ctrl-C stops `vigil serve` quietly: no traceback, no SIGKILL, and nothing
left in the home directory (gunicorn's control socket lives in the instance folder)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path, port: int = 8000) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(VIGIL_DATABASE_URL=f"sqlite:///{tmp_path / 'v.db'}", VIGIL_INSTANCE_PATH=str(tmp_path / "instance"),
               VIGIL_PASSWORD_PROFILE="CHEAPEST", VIGIL_BASE_URL=f"http://127.0.0.1:{port}", HOME=str(tmp_path / "home"),
               PYTHONPATH=str(ROOT))
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


def test_vigil_demo_prints_no_migration_lines_and_says_who_is_on_call(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "app.cli", "demo"], cwd=ROOT, env=_env(tmp_path), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "alembic" not in out.stderr + out.stdout and "INFO" not in out.stderr + out.stdout
    assert "On call now:" in out.stdout and "Primary" in out.stdout and "Secondary" in out.stdout
    assert "then open the incident it opens: http://127.0.0.1:8000/incidents/by-key/disk-web-2" in out.stdout


def test_ctrl_c_stops_vigil_serve_quietly(tmp_path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = _env(tmp_path, port)
    subprocess.run([sys.executable, "-m", "app.cli", "demo"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    log = tmp_path / "serve.log"
    with open(log, "wb") as f:
        # A terminal's Ctrl-C goes to its foreground process group: this one, made for the test.
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "2"],
                                cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = log.read_text()
    assert "Traceback" not in text and "SystemExit" not in text and "SIGKILL" not in text, text
    assert "alembic" not in text
    assert text.rstrip().endswith("Vigil stopped."), text
    assert not (tmp_path / "home" / ".gunicorn").exists()
