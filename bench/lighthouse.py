"""Lighthouse (mobile: accessibility and best practices) over Vigil's main screens, on the demo.

Loads the demo into a scratch database, serves it with `vigil serve` on loopback, logs in as the
engineer and the manager (the session cookie goes to Lighthouse as a header), fires the demo's
alert, and prints each screen's scores. Lighthouse 12.2.3 comes from npm into bench/.lighthouse
(once) and drives Debian's chromium (CHROME_PATH). Slow: about 10 s a screen.

    .venv/bin/python bench/lighthouse.py [--screens /,/incidents]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
LH_DIR = ROOT / "bench" / ".lighthouse"
LH_VERSION = "12.2.3"
CHROME = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
SCREENS = {
    "engineer": ["/", "/incidents", "{incident}", "/schedules", "/me/shifts", "/open-slots", "/me",
                 "/settings/notifications", "/settings/security", "/settings/profile"],
    "manager": ["/", "/admin", "/reports/allowances", "/schedules/1", "/login"],
}


def lighthouse() -> Path:
    cli = LH_DIR / "node_modules" / "lighthouse" / "cli" / "index.js"
    if not cli.exists():
        LH_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(LH_DIR),
                        f"lighthouse@{LH_VERSION}"], check=True, stdout=subprocess.DEVNULL)
    return cli


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def login(base: str, email: str, password: str) -> str:
    s = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(f"{base}/login").text).group(1)
    r = s.post(f"{base}/login", data={"email": email, "password": password, "csrf_token": token}, allow_redirects=False)
    assert r.status_code == 302, r.text
    return "; ".join(f"{k}={v}" for k, v in s.cookies.items())


def audit(cli: Path, url: str, cookie: str | None, out: Path) -> dict[str, float]:
    headers = json.dumps({"Cookie": cookie}) if cookie else None
    cmd = ["node", str(cli), url, "--quiet", "--output=json", f"--output-path={out}",
           "--only-categories=accessibility,best-practices", "--form-factor=mobile", "--screenEmulation.mobile",
           "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-background-networking "
           "--disable-component-update --no-first-run"]
    if headers:
        cmd.append(f"--extra-headers={headers}")
    subprocess.run(cmd, check=True, env=dict(os.environ, CHROME_PATH=CHROME), timeout=180)
    report = json.loads(out.read_text())
    scores = {k: round(v["score"] * 100) for k, v in report["categories"].items()}
    failing = [a for a, r in report["audits"].items() if r.get("score") is not None and r["score"] < 1
               and r.get("scoreDisplayMode") in ("binary", "numeric")
               and any(a in [ref["id"] for ref in c["auditRefs"] if ref.get("weight")] for c in report["categories"].values())]
    scores["failing"] = failing  # type: ignore[assignment]
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screens", help="comma-separated paths, as the engineer (default: the main screens)")
    args = parser.parse_args()
    cli = lighthouse()
    tmp = Path(tempfile.mkdtemp(prefix="vigil-lh-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, VIGIL_DATABASE_URL=f"sqlite:///{tmp / 'lh.db'}", VIGIL_INSTANCE_PATH=str(tmp / "instance"),
               VIGIL_BASE_URL=base, VIGIL_PASSWORD_PROFILE="CHEAPEST")
    vigil = [sys.executable, "-m", "app.cli"]
    info = json.loads(subprocess.run([*vigil, "demo", "--json"], env=env, cwd=ROOT, check=True, capture_output=True).stdout)
    server = subprocess.Popen([*vigil, "serve", "--port", str(port), "--workers", "1"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("Vigil did not start")
            time.sleep(0.3)
        subprocess.run(["bash", "-c", info["curl"]], check=True, capture_output=True)
        pw = {x["email"]: x["password"] for x in info["logins"]}
        cookies = {"engineer": login(base, "alice@vigil.example", pw["alice@vigil.example"]),
                   "manager": login(base, "maya@vigil.example", pw["maya@vigil.example"])}
        incident = requests.get(info["incident_url"], headers={"Cookie": cookies["engineer"]}, allow_redirects=False)
        incident_path = incident.headers["Location"].replace(base, "")
        plan = {"engineer": args.screens.split(",")} if args.screens else SCREENS
        print(f"Lighthouse {LH_VERSION}, mobile, Debian chromium; the demo on {base}")
        print(f"{'who':<9} {'screen':<26} {'accessibility':>13} {'best practices':>15}  failing audits")
        for who, paths in plan.items():
            for path in paths:
                path = path.replace("{incident}", incident_path)
                cookie = None if path == "/login" else cookies[who]
                s = audit(cli, base + path, cookie, tmp / "report.json")
                print(f"{who:<9} {path:<26} {s['accessibility']:>13} {s['best-practices']:>15}  {', '.join(s['failing']) or '-'}",
                      flush=True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
