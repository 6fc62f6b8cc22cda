"""Charts drawn as SVG on the server (with a title, a description and the table of their
numbers), and the load per engineer: pages at night and at weekends on each engineer's own
clock, incidents handled, time on incidents."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.models import User
from app.reports import charts, load
from tests.helpers import post_alert

SVG = "{http://www.w3.org/2000/svg}"


def _at(clock: Any, when: datetime) -> None:
    clock.advance(seconds=(when - clock.now()).total_seconds())


def test_pages_are_night_or_weekend_on_the_engineers_own_clock(app: Any, world: Any, clock: Any, database: Any,
                                                                engine: Any, browser: Any) -> None:
    with database.transaction() as s:
        s.get(User, world.alice).timezone = "Europe/Paris"
        s.get(User, world.bob).timezone = "Europe/London"
    c = app.test_client()
    # Globex (1 h, dual): M+0 pages Alice, M+30 Bob as well.
    # Tue 3 March 21:30 UTC: 22:30 in Paris (night for Alice), 21:30 in London (not yet for Bob).
    _at(clock, datetime(2026, 3, 3, 21, 30, tzinfo=UTC))
    first = post_alert(c, world.keys["globex_generic"], dedup="tue").get_json()["results"][0]["incident"]
    engine.run_until_idle()
    clock.advance(minutes=30)  # 22:00 UTC: 22:00 in London, night for Bob too
    engine.run_until_idle()
    clock.advance(minutes=5)
    browser("alice").post(f"/api/v1/incidents/{first}/ack", json={})
    clock.advance(minutes=40)
    browser("alice").post(f"/api/v1/incidents/{first}/resolve", json={"summary": "done"})
    # Saturday 7 March 12:00 UTC: a weekend day page for Alice.
    _at(clock, datetime(2026, 3, 7, 12, 0, tzinfo=UTC))
    post_alert(c, world.keys["globex_generic"], dedup="sat")
    engine.run_until_idle()
    with database.session() as s:
        rows = {r.name: r for r in load.compute(s, start=datetime(2026, 3, 1, tzinfo=UTC),
                                                end=datetime(2026, 4, 1, tzinfo=UTC), now=clock.now())}
    alice, bob = rows["Alice Martin"], rows["Bob Durand"]
    assert (alice.pages, alice.night, alice.weekend, alice.weekend_day) == (2, 1, 1, 1)
    assert (bob.pages, bob.night, bob.weekend) == (1, 1, 0)
    assert alice.handled == 1 and alice.seconds_on_incidents == 40 * 60
    assert bob.handled == 0
    maya = browser("maya")
    body = maya.get("/api/v1/reports/load?from=2026-03-01&to=2026-03-31").get_json()
    assert {e["name"]: e["night"] for e in body["engineers"]}["Bob Durand"] == 1
    table = list(csv.reader(io.StringIO(maya.get("/reports/load.csv?from=2026-03-01&to=2026-03-31").get_data(as_text=True))))
    assert table[0][:4] == ["engineer", "timezone", "incidents_handled", "pages"]
    assert ["Alice Martin", "Europe/Paris", "1", "2", "1", "1", "2400.0"] in table
    page = maya.get("/reports/load?from=2026-03-01&to=2026-03-31").get_data(as_text=True)
    assert "Alice Martin" in page and "<svg" in page
    assert browser("alice").get("/reports/load").status_code == 403


def test_hours_and_days_are_counted_on_the_readers_clock_across_a_dst_change() -> None:
    hours = [(datetime(2026, 3, 28, 23, 0, tzinfo=UTC), 2, 1, 1),  # Sun 00:00 CET
             (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 3, 3, 0)]  # Sun 03:00 CEST (02:00 never happened)
    paris = ZoneInfo("Europe/Paris")
    by_hour = charts.per_hour_of_day(hours, paris)
    assert by_hour.series[0][1][0] == 2 and by_hour.series[0][1][3] == 3 and by_hour.series[0][1][2] == 0
    assert charts.per_day_of_week(hours, paris).series[0][1][6] == 5
    sla = charts.sla_per_month(hours, paris)
    assert sla.labels == ["2026-03"] and sla.series == [("kept", [4.0]), ("missed", [1.0])]
    # In UTC the first of them is still Saturday.
    assert charts.per_day_of_week(hours, ZoneInfo("UTC")).series[0][1][5] == 2


def test_a_chart_is_valid_svg_with_a_title_a_description_and_its_numbers(app: Any, world: Any, browser: Any) -> None:
    post_alert(app.test_client(), world.keys["acme_generic"], summary="<script>alert(1)</script>", dedup="x")
    maya = browser("maya")
    r = maya.get("/reports/charts/ack.svg")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    root = ET.fromstring(r.get_data())
    assert root.find(f"{SVG}title").text == "Time to acknowledge"
    assert "never acknowledged" in root.find(f"{SVG}desc").text
    assert "prefers-color-scheme: dark" in root.find(f"{SVG}style").text
    assert r.headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    bars = [e.find(f"{SVG}title").text for e in root.iter(f"{SVG}rect") if e.find(f"{SVG}title") is not None]
    assert bars == ["never: 1 incidents"]
    page = maya.get("/reports?by=overall").get_data(as_text=True)
    assert page.count("<svg") == 4 and "the numbers</summary>" in page and "<script>alert" not in page
    assert maya.get("/reports/charts/nothing.svg").status_code == 404


def test_the_figures_page_json_and_csv_agree(app: Any, world: Any, clock: Any, browser: Any) -> None:
    c = app.test_client()
    inc = post_alert(c, world.keys["acme_generic"], dedup="a").get_json()["results"][0]["incident"]
    clock.advance(minutes=30)
    browser("alice").post(f"/api/v1/incidents/{inc}/ack", json={})
    maya = browser("maya")
    body = maya.get("/api/v1/reports/figures?by=client").get_json()
    [acme] = body["groups"]
    assert acme["label"] == "Acme Retail" and acme["ack_mean"] == 1800.0 and acme["share_within"]["30"] == 1.0
    table = list(csv.reader(io.StringIO(maya.get("/reports/figures.csv?by=client").get_data(as_text=True))))
    assert table[1][:4] == ["Acme Retail", "1", "1", "1800.0"]
    page = maya.get("/reports?by=client").get_data(as_text=True)
    assert "Acme Retail" in page and "30 min" in page and "100 %" in page
    assert maya.get("/api/v1/reports/figures?by=planet").status_code == 400
    assert maya.get("/api/v1/reports/figures?from=2026-13-01").status_code == 400


def test_periods_out_of_range_get_a_400_not_a_crash(app: Any, world: Any, browser: Any) -> None:
    maya = browser("maya")
    for q in ("to=0001-01-05", "from=0001-01-01", "to=9999-12-31", "from=2026-03-05&to=2026-03-01",
              "from=1990-01-01&to=2026-01-01"):
        r = maya.get(f"/api/v1/reports/figures?{q}")
        assert r.status_code == 400 and r.get_json()["message"], q
