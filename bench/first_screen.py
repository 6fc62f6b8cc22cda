"""How fast the engineer's first screen renders on loopback: log in, then load the incidents
list with 50 open incidents, cold (no cache, no service worker) and warm (worker installed), and
read the browser's own timings (first contentful paint, load event).

    python bench/first_screen.py
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import requests
from _support import ROOT, gunicorn, percentile, vigil_env

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
TIMING = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  return {fcp: fcp ? fcp.startTime : null, load: nav.loadEventEnd, bytes: nav.transferSize};
}"""


def main() -> None:
    from playwright.sync_api import sync_playwright

    from app.accounts.users import use_hash_profile
    from app.db import Database
    from tests.helpers import PASSWORD, build_world

    with vigil_env(None) as env:
        db = Database(env["VIGIL_DATABASE_URL"])
        use_hash_profile("CHEAPEST")
        world = build_world(db, datetime.now(UTC))
        with gunicorn(env, workers=1) as url:
            for i in range(50):
                requests.post(f"{url}/api/v1/intake/generic/{world.keys['globex_generic']}",
                              json={"summary": f"Disk {i}% full on web-{i}", "dedup_key": f"d{i}"}, timeout=5)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
                cold, warm = [], []
                for _ in range(5):
                    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
                    page = ctx.new_page()
                    page.goto(f"{url}/login")
                    page.fill("input[name=email]", "alice@vigil.test")
                    page.fill("input[name=password]", PASSWORD)
                    page.click("button.primary")
                    page.wait_for_selector("nav.tabs")
                    page.wait_for_load_state("load")
                    cold.append(page.evaluate(TIMING))
                    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=20_000)
                    page.goto(f"{url}/incidents")
                    page.wait_for_load_state("load")
                    warm.append(page.evaluate(TIMING))
                    ctx.close()
                browser.close()
            for label, runs in (("cold", cold), ("warm", warm)):
                fcp = [r["fcp"] for r in runs if r["fcp"] is not None]
                load = [r["load"] for r in runs]
                print(f"first_screen_{label} incidents=50 fcp_ms_p50={percentile(fcp, 50):.0f} "
                      f"load_ms_p50={percentile(load, 50):.0f} load_ms_max={max(load):.0f} "
                      f"html_bytes={runs[0]['bytes']}")
        db.dispose()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    main()
