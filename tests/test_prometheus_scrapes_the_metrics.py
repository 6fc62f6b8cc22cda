"""/metrics: what it says about incidents, pages and engines, who may scrape it, and Debian's
real Prometheus scraping a live Vigil and answering a PromQL query about an incident."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.serving import make_server

from tests.helpers import free_port, post_alert

REMOTE = {"REMOTE_ADDR": "10.1.2.3"}


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(body):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_the_metrics_count_incidents_acknowledgements_and_pages(app: Any, world: Any, clock: Any, browser: Any,
                                                                engine: Any) -> None:
    c = app.test_client()
    first = post_alert(c, world.keys["acme_generic"], dedup="a").get_json()["results"][0]["incident"]
    post_alert(c, world.keys["acme_generic"], dedup="b")
    engine.run_until_idle()
    clock.advance(minutes=10)
    assert browser("alice").post(f"/api/v1/incidents/{first}/ack", json={}).status_code == 200
    r = c.get("/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    m = samples(r.get_data(as_text=True))
    assert m[("vigil_incidents", (("client", "acme"), ("status", "triggered")))] == 1
    assert m[("vigil_incidents", (("client", "acme"), ("status", "acknowledged")))] == 1
    assert m[("vigil_incidents_created_total", (("client", "acme"),))] == 2
    # One acknowledgement after 600 s: in the 900 s bucket, not the 300 s one.
    assert m[("vigil_incident_ack_seconds_bucket", (("client", "acme"), ("le", "300.0")))] == 0
    assert m[("vigil_incident_ack_seconds_bucket", (("client", "acme"), ("le", "900.0")))] == 1
    assert m[("vigil_incident_ack_seconds_sum", (("client", "acme"),))] == 600
    assert m[("vigil_sla_kept_total", (("client", "acme"),))] == 1
    assert m[("vigil_pages_total", (("channel", "recording"), ("outcome", "sent")))] == 2
    assert m[("vigil_alerts_received_total", (("source", "generic"),))] == 2
    assert m[("vigil_escalation_lateness_seconds_count", ())] == 2
    assert ("vigil_engine_heartbeat_age_seconds", (("engine", "engine-1"),)) in m


def test_each_scrape_counts_what_changed_since_the_last_one(app: Any, world: Any, clock: Any, browser: Any,
                                                            database: Any) -> None:
    """The sums of settled incidents are kept between scrapes: what resolves, arrives or
    reopens afterwards must still count exactly once."""
    c, alice = app.test_client(), browser("alice")

    def alert(dedup: str) -> int:
        return int(post_alert(c, world.keys["acme_generic"], dedup=dedup).get_json()["results"][0]["incident"])

    def resolve(i: int) -> None:
        assert alice.post(f"/api/v1/incidents/{i}/resolve", json={"summary": "ok"}).status_code == 200

    def resolved_count() -> float:
        m = samples(c.get("/metrics").get_data(as_text=True))
        return m[("vigil_incident_resolve_seconds_count", (("client", "acme"),))]

    a, b = alert("a"), alert("b")
    clock.advance(minutes=5)
    resolve(a)
    assert resolved_count() == 1  # a is settled and kept; b was open
    resolve(b)
    d = alert("d")
    clock.advance(minutes=5)
    resolve(d)
    assert resolved_count() == 3
    with database.transaction() as s:  # a reopens (as an e-mail reply would): not resolved any more
        from app.models import Incident

        inc = s.get(Incident, a)
        inc.status, inc.resolved_at = "triggered", None
    assert resolved_count() == 2
    m = samples(c.get("/metrics").get_data(as_text=True))
    assert m[("vigil_incident_ack_seconds_count", (("client", "acme"),))] == 3  # its first response stays


def test_loopback_scrapes_without_a_token_and_anywhere_else_needs_it(app: Any, database: Any, clock: Any,
                                                                     tmp_path: Path) -> None:
    from tests.helpers import make_app

    assert app.test_client().get("/metrics").status_code == 200
    assert app.test_client().get("/metrics", environ_base=REMOTE).status_code == 401
    guarded = make_app(database, clock, tmp_path / "b", METRICS_TOKEN="s3cret-metrics-token-value",
                       METRICS_ALLOW="192.168.0.0/16").test_client()
    assert guarded.get("/metrics", environ_base=REMOTE).status_code == 401
    assert guarded.get("/metrics", environ_base=REMOTE, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert guarded.get("/metrics", environ_base=REMOTE,
                       headers={"Authorization": "Bearer s3cret-metrics-token-value"}).status_code == 200
    assert guarded.get("/metrics", environ_base={"REMOTE_ADDR": "192.168.4.5"}).status_code == 200
    assert guarded.get("/metrics").status_code == 401  # an allow-list replaces loopback


@pytest.fixture
def live(app: Any) -> Iterator[str]:
    """The test's app served on a loopback port (a real HTTP server, one thread)."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=False)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"127.0.0.1:{port}"
    server.shutdown()
    t.join(5)


def test_debians_prometheus_scrapes_vigil_and_answers_a_promql_query(app: Any, world: Any, live: str,
                                                                     tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("Debian's prometheus is not installed (tests/run.sh installs it: apt-get install prometheus)")
    post_alert(app.test_client(), world.keys["globex_generic"], dedup="disk-full")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: vigil
    static_configs:
      - targets: ['{live}']
""")
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        query = urllib.parse.urlencode({"query": 'vigil_incidents{client="globex",status="triggered"}'})
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?{query}", timeout=5) as r:
                    answer = json.load(r)
                if answer["data"]["result"]:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert answer is not None and answer["status"] == "success", (tmp_path / "prometheus.log").read_text()[-2000:]
        [series] = answer["data"]["result"]
        assert series["metric"]["job"] == "vigil" and series["value"][1] == "1"
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
