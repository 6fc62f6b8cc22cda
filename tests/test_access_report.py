"""The per-client access report: what was done to a client's environment and incidents in a
period, as a page and a CSV ready to hand over."""

from __future__ import annotations

import csv
import io

from tests.helpers import post_alert


def setup_activity(client, world, browser, clock) -> None:
    maya = browser("maya")
    cid = maya.post(f"/api/v1/clients/{world.acme}/connections",
                    json={"kind": "ssh", "label": "=HYPERLINK(\"http://evil\")", "host": "h", "password": "p"}).get_json()["id"]
    alice = browser("alice")
    alice.post(f"/api/v1/connections/{cid}/reveal", headers={"User-Agent": "-cmd|' /C calc'!A0"},
               environ_base={"REMOTE_ADDR": "192.0.2.7"})
    iid = post_alert(client, world.keys["acme_generic"]).get_json()["results"][0]["incident"]
    alice.post(f"/api/v1/incidents/{iid}/ack", json={})
    post_alert(client, world.keys["globex_generic"])  # another client: not in Acme's report
    browser("bob").post(f"/api/v1/incidents/{post_alert(client, world.keys['globex_generic'], dedup='g').get_json()['results'][0]['incident']}/ack", json={})


def test_a_manager_gets_the_report_as_a_page_and_a_csv(client, world, browser, clock) -> None:
    setup_activity(client, world, browser, clock)
    maya = browser("maya")
    page = maya.get("/reports/access?client=acme&from=2026-03-01&to=2026-03-02")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "revealed connection info" in html and "acknowledged incident #" in html and "192.0.2.7" in html
    assert "Bob Durand" not in html  # Globex's activity stays in Globex's report
    r = maya.get("/reports/access?client=acme&from=2026-03-01&to=2026-03-02&format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv" and r.headers["Cache-Control"] == "no-store"
    assert 'filename="vigil-access-acme-2026-03-01-2026-03-02.csv"' in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert [row["action"] for row in rows] == ["connection.created", "connection.revealed", "incident.acknowledged"]
    reveal = rows[1]
    assert reveal["who"] == "Alice Martin <alice@vigil.test>" and reveal["address"] == "192.0.2.7"
    assert reveal["time_utc"] == "2026-03-02T03:00:00+00:00" and reveal["time_local"] == "2026-03-02T04:00:00+01:00"
    # Cells that a spreadsheet would run as formulas are quoted as text.
    assert reveal["device"].startswith("'-cmd") and rows[0]["description"].startswith("added connection info")


def test_days_are_the_clients_own(client, world, browser, clock) -> None:
    setup_activity(client, world, browser, clock)  # at 04:00 Paris time on 2 March
    maya = browser("maya")
    csv_for = lambda day: maya.get(f"/reports/access?client=acme&from={day}&to={day}&format=csv").get_data(as_text=True)  # noqa: E731
    assert "connection.revealed" in csv_for("2026-03-02") and "connection.revealed" not in csv_for("2026-03-01")


def test_only_managers_and_admins_get_reports(client, world, browser) -> None:
    for who in ("alice", "victor@acme.test"):
        assert browser(who).get("/reports/access?client=acme").status_code == 403
    assert browser("admin").get("/reports/access?client=nope").status_code == 404
    bad = browser("admin").get("/reports/access?client=acme&from=2026-03-05&to=2026-03-01")
    assert bad.status_code == 400 and "starts after it ends" in bad.get_data(as_text=True)
    assert browser("admin").get("/reports/access?client=acme&from=2020-01-01&to=2026-01-01").status_code == 400


def test_the_default_period_ends_on_the_clients_today_not_utcs(client, world, browser, clock) -> None:
    """At 23:30 UTC on 2 March it is 00:30 on 3 March in Paris: a reveal made then is in Acme's
    report of "the last 30 days" (it was not, while the period ended on UTC's date)."""
    from datetime import UTC, datetime

    clock.set(datetime(2026, 3, 2, 23, 30, tzinfo=UTC))
    maya = browser("maya")
    cid = maya.post(f"/api/v1/clients/{world.acme}/connections",
                    json={"kind": "ssh", "label": "bastion", "host": "h", "password": "p"}).get_json()["id"]
    browser("alice").post(f"/api/v1/connections/{cid}/reveal")
    page = maya.get("/reports/access?client=acme").get_data(as_text=True)
    assert "revealed connection info" in page and 'value="2026-03-03"' in page
