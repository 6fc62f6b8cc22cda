"""Incident history: every incident, open or resolved, found by number, words or dedup key,
filtered, paginated by keyset; a client viewer sees only their own client's."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.helpers import post_alert


@pytest.fixture
def incidents(app: Any, world: Any, clock: Any, browser: Any) -> dict[str, int]:
    c = app.test_client()
    ids = {}
    for i in range(7):
        r = post_alert(c, world.keys["acme_generic"], summary=f"Disk full on web-{i}", dedup=f"disk-web-{i}")
        ids[f"acme{i}"] = int(r.get_json()["results"][0]["incident"])
        clock.advance(minutes=5)
    r = post_alert(c, world.keys["globex_generic"], summary="=cmd|' /C calc'!A0 Warehouse API", dedup="wh-5xx")
    ids["globex"] = int(r.get_json()["results"][0]["incident"])
    alice = browser("alice")
    alice.post(f"/api/v1/incidents/{ids['acme1']}/ack", json={})
    alice.post(f"/api/v1/incidents/{ids['acme1']}/resolve", json={"summary": "cleaned"})
    clock.advance(hours=5)  # acme0 and the others are now past their 4-hour deadline, unanswered
    return ids


def numbers(r: Any) -> list[int]:
    assert r.status_code == 200, r.get_data(as_text=True)
    return [i["number"] for i in r.get_json()["incidents"]]


def test_history_lists_open_and_resolved_newest_first(incidents: dict[str, int], browser: Any) -> None:
    got = numbers(browser("maya").get("/api/v1/reports/history"))
    assert got == sorted(incidents.values(), reverse=True)


def test_search_finds_by_number_words_and_dedup_key(incidents: dict[str, int], browser: Any) -> None:
    maya = browser("maya")
    assert numbers(maya.get(f"/api/v1/reports/history?q=%23{incidents['acme3']}")) == [incidents["acme3"]]
    assert numbers(maya.get("/api/v1/reports/history?q=WEB-4")) == [incidents["acme4"]]
    assert numbers(maya.get("/api/v1/reports/history?q=disk-web-5")) == [incidents["acme5"]]
    assert numbers(maya.get("/api/v1/reports/history?q=100%25")) == []  # % is a character, not a wildcard


def test_filters_narrow_the_list(incidents: dict[str, int], browser: Any, world: Any) -> None:
    maya = browser("maya")
    assert numbers(maya.get(f"/api/v1/reports/history?client={world.globex}")) == [incidents["globex"]]
    assert numbers(maya.get("/api/v1/reports/history?tier=1h")) == [incidents["globex"]]
    assert numbers(maya.get("/api/v1/reports/history?status=resolved")) == [incidents["acme1"]]
    assert numbers(maya.get(f"/api/v1/reports/history?responder={world.alice}")) == [incidents["acme1"]]
    assert numbers(maya.get("/api/v1/reports/history?sla=kept")) == [incidents["acme1"]]
    missed = numbers(maya.get("/api/v1/reports/history?sla=missed"))
    assert incidents["acme0"] in missed and incidents["acme1"] not in missed
    assert numbers(maya.get("/api/v1/reports/history?from=2026-03-03&to=2026-03-05")) == []
    assert len(numbers(maya.get("/api/v1/reports/history?from=2026-03-02&to=2026-03-02"))) == 8


def test_pages_follow_each_other_by_keyset_without_gaps_or_repeats(incidents: dict[str, int], browser: Any) -> None:
    maya, seen, before = browser("maya"), [], ""
    while True:
        body = maya.get(f"/api/v1/reports/history?limit=3{before}").get_json()
        seen += [i["number"] for i in body["incidents"]]
        if body["next_before"] is None:
            break
        before = f"&before={body['next_before']}"
    assert seen == sorted(incidents.values(), reverse=True)


def test_a_client_viewer_sees_only_their_clients_incidents(incidents: dict[str, int], browser: Any,
                                                           world: Any) -> None:
    victor = browser("victor@acme.test")
    got = numbers(victor.get("/api/v1/reports/history"))
    assert incidents["globex"] not in got and len(got) == 7
    assert victor.get(f"/api/v1/reports/history?client={world.globex}").status_code == 404
    assert victor.get(f"/api/v1/reports/figures?client={world.globex}").status_code == 404


def test_bad_filters_get_a_clear_400(incidents: dict[str, int], browser: Any) -> None:
    maya = browser("maya")
    for q in ("status=lost", "from=yesterday", "client=abc", "from=2026-03-05&to=2026-03-01", "sla=maybe",
              "from=9999-12-31"):
        r = maya.get(f"/api/v1/reports/history?{q}")
        assert r.status_code == 400 and r.get_json()["message"], q
    assert numbers(maya.get("/api/v1/reports/history?before=99999999999999&service=99999999999")) == []


def test_the_history_page_and_its_csv_show_the_same_rows(incidents: dict[str, int], browser: Any) -> None:
    maya = browser("maya")
    page = maya.get("/history?q=disk").get_data(as_text=True)
    assert f"#{incidents['acme6']}" in page and "Older incidents" not in page
    rows = list(csv.reader(io.StringIO(maya.get("/reports/history.csv").get_data(as_text=True))))
    assert rows[0][0] == "number" and len(rows) == 9
    formula = next(r for r in rows if r[0] == str(incidents["globex"]))
    assert formula[7].startswith("'=")  # a summary that looks like a formula stays text in a spreadsheet
