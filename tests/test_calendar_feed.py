"""Each engineer's shifts as an iCalendar feed at a secret address their phone subscribes to."""

import re

import pytest
from icalendar import Calendar

from tests.helpers import add_schedule


@pytest.fixture
def rota(world, database, clock):
    return add_schedule(database, world, clock.now())


def feed_url(page: str) -> str:
    m = re.search(r'class="feed" readonly value="http://vigil\.test(/ical/[^"]+\.ics)"', page)
    assert m, "no calendar address on the page"
    return m.group(1)


def enable(browser, who: str) -> tuple[object, str]:
    b = browser(who)
    r = b.form("/me/calendar", {"action": "regenerate"})
    return b, feed_url(b.get(r.location).get_data(as_text=True))


def test_the_feed_lists_my_shifts_with_stable_uids(rota, browser, client) -> None:
    _, url = enable(browser, "alice")
    r = client.get(url)  # no login: the calendar app only has the address
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    cal = Calendar.from_ical(r.data)
    events = [e for e in cal.walk("VEVENT")]
    starts = [e.decoded("dtstart").isoformat() for e in events]
    # 8 weeks back (only since the layers began on 23 Feb) and 26 weeks ahead, both layers.
    assert starts[:2] == ["2026-02-23T08:00:00+00:00", "2026-03-16T08:00:00+00:00"]
    assert all(str(e["summary"]).startswith("On call: ") for e in events)
    assert str(events[0]["summary"]) == "On call: Primary (Pool A on-call)"
    assert str(events[0]["transp"]) == "TRANSPARENT"
    again = Calendar.from_ical(client.get(url).data)
    assert [str(e["uid"]) for e in again.walk("VEVENT")] == [str(e["uid"]) for e in events]
    assert len({str(e["uid"]) for e in events}) == len(events)


def test_a_new_address_revokes_the_old_one_and_turning_it_off_revokes_all(rota, browser, client) -> None:
    alice, first = enable(browser, "alice")
    second = feed_url(alice.get(alice.form("/me/calendar", {"action": "regenerate"}).location).get_data(as_text=True))
    assert first != second
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    alice.form("/me/calendar", {"action": "disable"})
    assert client.get(second).status_code == 404


def test_unknown_or_forged_addresses_are_404(rota, browser, client) -> None:
    _, url = enable(browser, "alice")
    uid, version, mac = url.removeprefix("/ical/").removesuffix(".ics").split("-")
    assert client.get(f"/ical/{rota.bob}-{version}-{mac}.ics").status_code == 404  # someone else's id
    assert client.get(f"/ical/{uid}-{version}-{'0' * 40}.ics").status_code == 404
    assert client.get("/ical/nothing.ics").status_code == 404


def test_an_address_with_other_digits_or_an_id_beyond_any_integer_is_404_not_a_500(rota, browser, client) -> None:
    _, url = enable(browser, "alice")
    _, version, mac = url.removeprefix("/ical/").removesuffix(".ics").split("-")
    for uid in ("\u00b2", "\u0663", str(2**31), str(10**30)):  # superscript two, Arabic-Indic three
        assert client.get(f"/ical/{uid}-{version}-{mac}.ics").status_code == 404, uid


def test_my_shifts_page_lists_the_coming_shifts(rota, browser) -> None:
    page = browser("carol").get("/me/shifts").get_data(as_text=True)
    assert "Secondary" in page and "Primary" in page and "Get a calendar address" in page


def test_client_viewers_have_no_shifts_page_nor_feed(rota, browser) -> None:
    victor = browser("victor@acme.test")
    assert victor.get("/me/shifts").status_code == 403
    assert victor.get("/api/v1/me/shifts").status_code == 403
    assert victor.form("/me/calendar", {"action": "regenerate"}).status_code == 403
