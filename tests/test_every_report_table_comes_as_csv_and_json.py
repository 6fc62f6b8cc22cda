"""The tables of the monthly client report (figures overall and per service, deadlines missed,
incidents, maintenance done) and the tables of numbers beside the charts each come as CSV and
JSON, with the same figures as the page (the same functions compute them), to exactly who may
see the page: a client viewer its own client only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.models import Client, MaintenanceWindow, User
from app.reports import charts, monthly, tables
from tests.helpers import post_alert


def _march(app: Any, world: Any, clock: Any, browser: Any, database: Any) -> None:
    """Monday 2 March 2026, 03:00 UTC: two Acme incidents (one answered in 12 minutes, one never)
    and one Globex incident (never answered); a maintenance of Acme's on the 10th. Then April."""
    c = app.test_client()
    first = post_alert(c, world.keys["acme_generic"], summary="Disk full", dedup="d1").get_json()
    post_alert(c, world.keys["acme_generic"], summary="Checkout 500s", dedup="d2")
    post_alert(c, world.keys["globex_generic"], summary="Pallets lost", dedup="g1")
    clock.advance(minutes=12)
    browser("alice").post(f"/api/v1/incidents/{first['results'][0]['incident']}/ack", json={})
    with database.transaction() as s:
        s.get(User, world.maya).timezone = "Europe/Paris"
        t = datetime(2026, 3, 10, 21, 0, tzinfo=UTC)
        s.add(MaintenanceWindow(public_id="mw-db-upgrade", client_id=world.acme, title="Database upgrade",
                                body="PostgreSQL 16", starts_at=t, ends_at=t + timedelta(hours=2), state="completed",
                                started_at=t, completed_at=t + timedelta(hours=1), created_at=t, updated_at=t))
    clock.advance(days=31)


def _csv(r: Any) -> list[list[str]]:
    assert r.status_code == 200 and r.mimetype == "text/csv", r.status_code
    return list(csv.reader(io.StringIO(r.get_data(as_text=True))))


def _report(database: Any, world: Any, clock: Any) -> tuple[list[Any], dict[str, list[list[str]]], dict[str, Any]]:
    """What the report's own functions make of Acme's March: its incidents, each table's CSV, the JSON."""
    with database.session() as s:
        r = monthly.build(s, s.get(Client, world.acme), date(2026, 3, 1), clock.now())
        incidents = [(str(i.number), i.summary, i.status) for i in r.incidents]
        as_csv = {name: list(csv.reader(io.StringIO(tables.to_csv(*monthly.table(r, name, clock.now())))))
                  for name in monthly.TABLES}
        return incidents, as_csv, monthly.as_dict(r, clock.now())


def test_the_monthly_reports_tables_come_as_csv_and_json_with_the_pages_figures(
        app: Any, world: Any, clock: Any, browser: Any, database: Any) -> None:
    _march(app, world, clock, browser, database)
    incidents, expected_csv, expected_json = _report(database, world, clock)
    maya = browser("maya")
    page = maya.get("/reports/monthly/acme/2026-03").get_data(as_text=True)
    assert "50 % (1 kept, 1 missed)" in page and "Checkout 500s" in page and "Database upgrade" in page
    for name in monthly.TABLES:
        assert f'href="/reports/monthly/acme/2026-03/{name}.csv"' in page, name
    assert 'href="/api/v1/reports/monthly/acme/2026-03"' in page

    body = maya.get("/api/v1/reports/monthly/acme/2026-03").get_json()
    assert body == expected_json
    assert body["client"]["slug"] == "acme" and body["month"] == "2026-03" and body["timezone"] == "Europe/Paris"
    o = body["overall"]
    assert (o["count"], o["sla_kept"], o["sla_missed"], o["ack_median"]) == (2, 1, 1, 720.0)
    assert o["share_within"] == {"15": 0.5, "30": 0.5, "45": 0.5, "60": 0.5}
    assert [(s["label"], s["count"]) for s in body["services"]] == [("Acme Retail / Web shop", 2)]
    assert {"label": "Response deadline kept", "value": "50 % (1 kept, 1 missed)"} in body["summary"]
    assert all(f"<th>{x['label']}</th><td class=\"why\">{x['value']}</td>" in page for x in body["summary"])
    assert [i["summary"] for i in body["incidents"]] == ["Disk full", "Checkout 500s"]
    assert [b["incident"]["summary"] for b in body["breaches"]] == ["Checkout 500s"]
    assert body["maintenance"] == [{"title": "Database upgrade", "summary": "PostgreSQL 16",
                                    "start": "2026-03-10T21:00:00+00:00", "end": "2026-03-10T22:00:00+00:00"}]

    got = {name: _csv(maya.get(f"/reports/monthly/acme/2026-03/{name}.csv")) for name in monthly.TABLES}
    for name in monthly.TABLES:
        assert got[name] == expected_csv[name], name
    fig = got["figures"]
    assert fig[0][:4] == ["group", "incidents", "acknowledged", "ack_mean_s"]
    at = fig[0].index
    assert [(row[0], row[1], row[at("sla_kept")], row[at("sla_missed")], row[at("ack_median_s")]) for row in fig[1:]] \
        == [("All incidents", "2", "1", "1", "720.0"), ("Acme Retail / Web shop", "2", "1", "1", "720.0")]
    assert [(row[0], row[7], row[6]) for row in got["incidents"][1:]] == incidents
    assert [summary for _, summary, _ in incidents] == ["Disk full", "Checkout 500s"]
    assert [row[2] for row in got["breaches"][1:]] == ["Checkout 500s"]
    assert got["maintenance"] == [["title", "start", "end", "summary"],
                                  ["Database upgrade", "2026-03-10T21:00:00+00:00", "2026-03-10T22:00:00+00:00",
                                   "PostgreSQL 16"]]
    assert 'attachment; filename="vigil-acme-2026-03-incidents.csv"' == \
        maya.get("/reports/monthly/acme/2026-03/incidents.csv").headers["Content-Disposition"]


def test_a_client_viewer_gets_its_own_clients_monthly_exports_and_no_other(
        app: Any, world: Any, clock: Any, browser: Any, database: Any) -> None:
    _march(app, world, clock, browser, database)
    victor = browser("victor@acme.test")
    assert victor.get("/api/v1/reports/monthly/acme/2026-03").get_json()["overall"]["count"] == 2
    assert _csv(victor.get("/reports/monthly/acme/2026-03/incidents.csv"))[1][7] == "Disk full"
    for who in ("victor@acme.test", "dave"):  # a viewer of Acme; an engineer outside Globex's pool
        b = browser(who)
        r = b.get("/api/v1/reports/monthly/globex/2026-03")
        assert r.status_code == 404 and r.get_json()["message"] == "client not found", who
        for name in monthly.TABLES:
            assert b.get(f"/reports/monthly/globex/2026-03/{name}.csv").status_code == 404, (who, name)
    assert app.test_client().get("/api/v1/reports/monthly/acme/2026-03").status_code == 401
    assert app.test_client().get("/reports/monthly/acme/2026-03/figures.csv").status_code == 302


def test_bad_input_to_the_monthly_exports_gets_a_clear_4xx(app: Any, world: Any, browser: Any) -> None:
    maya = browser("maya")
    for url, status, message in [
            ("/api/v1/reports/monthly/acme/2026-13", 400, "the month is written YYYY-MM"),
            ("/api/v1/reports/monthly/acme/march", 400, "the month is written YYYY-MM"),
            ("/api/v1/reports/monthly/acme/0001-01", 400, "the month must be between 1971 and 9998"),
            ("/api/v1/reports/monthly/nobody/2026-03", 404, "client not found")]:
        r = maya.get(url)
        assert (r.status_code, r.get_json()["message"]) == (status, message), url
    assert maya.get("/reports/monthly/acme/2026-13/figures.csv").status_code == 400
    assert maya.get("/reports/monthly/nobody/2026-03/figures.csv").status_code == 404
    assert maya.get("/reports/monthly/acme/2026-03/passwords.csv").status_code == 404


def test_the_numbers_beside_each_chart_come_as_csv_and_json(
        app: Any, world: Any, clock: Any, browser: Any, database: Any) -> None:
    _march(app, world, clock, browser, database)
    maya = browser("maya")
    q = "from=2026-03-01&to=2026-03-31"
    page = maya.get(f"/reports?{q}").get_data(as_text=True)
    # By hand: 12 minutes is in 10–15; two never answered; kept 1 (Acme), missed 2 (Acme 4 h, Globex 1 h);
    # all three began on Monday 2 March at 04:00 in Paris.
    expected = {
        "ack": ("time_to_acknowledge", [("0–5 min", 0), ("5–10", 0), ("10–15", 1), ("15–30", 0), ("30–45", 0),
                                        ("45–60", 0), ("1–2 h", 0), ("2–4 h", 0), ("over 4 h", 0), ("never", 2)]),
        "sla": ("month", [("2026-03", 1, 2)]),
        "hours": ("hour", [(f"{h:02d}", 3 if h == 4 else 0) for h in range(24)]),
        "days": ("day", [(d, 3 if d == "Mon" else 0) for d in charts.DAYS]),
    }
    for name, (axis, rows) in expected.items():
        table = _csv(maya.get(f"/reports/charts/{name}.csv?{q}"))
        assert [tuple(row[:1]) + tuple(float(v) for v in row[1:]) for row in table[1:]] == rows, name
        assert table[0][0] == axis
        body = maya.get(f"/api/v1/reports/charts/{name}?{q}").get_json()
        assert body["axis"] == axis and body["from"] == "2026-03-01" and body["timezone"] == "Europe/Paris"
        assert [[label, *[s["values"][i] for s in body["series"]]] for i, label in enumerate(body["labels"])] \
            == [list(r) for r in rows], name
        assert [s["name"] for s in body["series"]] == table[0][1:]
        assert f'href="/reports/charts/{name}.csv?from=2026-03-01&amp;to=2026-03-31"' in page, name
        for label, *values in rows:  # the page's table of numbers shows the same
            assert f"<tr><td>{label}</td>" + "".join(f"<td>{v:g}</td>" for v in values) + "</tr>" in page, (name, label)
    load = _csv(maya.get(f"/reports/charts/load.csv?{q}"))
    assert load[0] == ["engineer", "day", "night", "weekend"]
    assert maya.get(f"/api/v1/reports/charts/load?{q}").get_json()["unit"] == "pages"


def test_chart_numbers_follow_the_readers_clients_and_refuse_bad_input(
        app: Any, world: Any, clock: Any, browser: Any, database: Any) -> None:
    _march(app, world, clock, browser, database)
    q = "from=2026-03-01&to=2026-03-31"
    victor = browser("victor@acme.test")
    sla = victor.get(f"/api/v1/reports/charts/sla?{q}").get_json()
    assert sla["series"] == [{"name": "kept", "values": [1.0]}, {"name": "missed", "values": [1.0]}]  # Acme only
    assert _csv(victor.get(f"/reports/charts/sla.csv?{q}"))[1] == ["2026-03", "1.0", "1.0"]
    for who in ("victor@acme.test", "dave"):
        b = browser(who)
        r = b.get(f"/api/v1/reports/charts/sla?{q}&client={world.globex}")
        assert r.status_code == 404 and r.get_json()["message"] == "client not found", who
        assert b.get(f"/reports/charts/sla.csv?{q}&client={world.globex}").status_code == 404, who
    r = browser("alice").get("/api/v1/reports/charts/load")
    assert r.status_code == 403 and "managers and admins" in r.get_json()["message"]
    assert browser("alice").get("/reports/charts/load.csv").status_code == 403
    maya = browser("maya")
    assert maya.get("/api/v1/reports/charts/pie").status_code == 404
    assert maya.get("/api/v1/reports/charts/pie").get_json()["message"]
    assert maya.get("/reports/charts/pie.csv").status_code == 404
    for bad in ("from=2026-13-01", "from=2026-03-05&to=2026-03-01", "client=abc"):
        r = maya.get(f"/api/v1/reports/charts/ack?{bad}")
        assert r.status_code in (400, 404) and r.get_json()["message"], bad
    assert app.test_client().get("/api/v1/reports/charts/ack").status_code == 401


def test_a_query_argument_named_like_a_links_own_argument_is_ignored_not_a_500(app: Any, world: Any,
                                                                                browser: Any) -> None:
    maya = browser("maya")
    for url in ("/reports?name=x", "/reports/load?name=x", "/history?name=x"):
        r = maya.get(url)
        assert r.status_code == 200, url
        assert "name=x" not in r.get_data(as_text=True), url
