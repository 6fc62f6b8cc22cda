"""The on-call allowance report managers read and export: days on call x the pool's daily rates,
weekends and public holidays at their own rates, overrides paid to whoever held the shift."""

import csv
import io
from datetime import UTC, datetime

import pytest

from app.models import User
from app.schedules import overrides
from tests.helpers import add_schedule

TOUSSAINT = "from=2026-10-31&to=2026-11-01"  # Saturday, and Sunday 1 November: a public holiday


@pytest.fixture
def rota(world, database, clock, browser):
    w = add_schedule(database, world, clock.now())
    r = browser("maya").form("/pools/1/rates", {"weekday": "20", "weekend": "40", "holiday": "60,50",
                                               "currency": "eur", "country": "FR"})
    assert r.status_code == 302
    return w


def rows(browser, query: str) -> dict[str, list[str]]:
    r = browser("maya").get(f"/reports/allowances.csv?pool=1&{query}")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert table[0] == ["user_id", "name", "weekday_days", "weekend_days", "holiday_days", "total_days", "amount",
                        "currency"]
    return {line[1]: line[2:] for line in table[1:]}


def test_a_holiday_on_a_weekend_is_paid_once_at_the_holiday_rate(rota, browser) -> None:
    # That week Theo holds Primary and Alice Secondary: one allowance per layer and day each.
    assert rows(browser, TOUSSAINT) == {
        "Alice Martin": ["0.00", "1.00", "1.00", "2.00", "100.50", "EUR"],
        "Theo Lead": ["0.00", "1.00", "1.00", "2.00", "100.50", "EUR"],
    }


def test_an_override_is_paid_to_whoever_held_the_shift(rota, browser, database, clock) -> None:
    with database.transaction() as s:  # Carol covers Theo's Saturday from noon to midnight (Paris)
        overrides.create(s, s.get(User, rota.maya), rota.primary, rota.carol, datetime(2026, 10, 31, 11, tzinfo=UTC),
                         datetime(2026, 10, 31, 23, tzinfo=UTC), clock.now())
    found = rows(browser, TOUSSAINT)
    assert found["Carol Petit"] == ["0.00", "0.50", "0.00", "0.50", "20.00", "EUR"]
    assert found["Theo Lead"] == ["0.00", "0.50", "1.00", "1.50", "80.50", "EUR"]


def test_a_claimed_open_slot_is_paid_to_the_claimer(rota, browser, database, clock) -> None:
    with database.transaction() as s:  # Alice's Secondary Saturday left open, then claimed by Bob
        overrides.create(s, s.get(User, rota.maya), rota.secondary, None, datetime(2026, 10, 30, 23, tzinfo=UTC),
                         datetime(2026, 10, 31, 23, tzinfo=UTC), clock.now())
    r = browser("bob").post("/api/v1/open-slots/claim", json={"layer_id": rota.secondary,
                                                              "start": "2026-10-30T23:00:00+00:00"})
    assert r.status_code == 200, r.get_json()
    assert rows(browser, TOUSSAINT)["Bob Durand"] == ["0.00", "1.00", "0.00", "1.00", "40.00", "EUR"]


def test_the_page_shows_each_engineer_and_the_total(rota, browser) -> None:
    page = browser("maya").get(f"/reports/allowances?pool=1&{TOUSSAINT}").get_data(as_text=True)
    assert "Theo Lead" in page and "100.50 EUR" in page and "201.00 EUR" in page
    assert "public holiday (FR) 60.50" in page


def test_changing_a_rotation_today_does_not_change_last_months_report(rota, browser, clock) -> None:
    clock.set(datetime(2026, 4, 15, tzinfo=UTC))
    before = rows(browser, "from=2026-03-01&to=2026-03-31")
    r = browser("maya").form(f"/schedules/{rota.schedule}/layers/{rota.primary}/edit", {
        "name": "Primary", "turn_0": str(rota.carol), "length": "daily", "handoff_time": "08:00",
        "start_date": "2026-04-15", "timezone": "Europe/Paris"})
    assert r.status_code == 302
    assert rows(browser, "from=2026-03-01&to=2026-03-31") == before


def test_only_managers_read_it_and_bad_periods_are_refused(rota, browser) -> None:
    assert browser("alice").get(f"/reports/allowances?{TOUSSAINT}").status_code == 403
    assert browser("victor@acme.test").get("/reports/allowances.csv").status_code == 403
    maya = browser("maya")
    r = maya.get("/reports/allowances?from=2026-11-01&to=2026-10-01")
    assert r.status_code == 400 and "ends before it starts" in r.get_data(as_text=True)
    r = maya.get("/reports/allowances.csv?from=2025-01-01&to=2026-06-30")
    assert r.status_code == 400 and "at most 366 days" in r.get_data(as_text=True)
    assert maya.get("/reports/allowances?pool=x").status_code == 400
    r = maya.form("/pools/1/rates", {"weekday": "-1", "weekend": "40", "holiday": "60", "currency": "EUR",
                                     "country": "FR"})
    assert "weekday rate must be an amount" in maya.get(r.location).get_data(as_text=True)
    r = maya.form("/pools/1/rates", {"weekday": "1", "weekend": "40", "holiday": "60", "currency": "EUR",
                                     "country": "XX"})
    assert "no public holiday calendar" in maya.get(r.location).get_data(as_text=True)
