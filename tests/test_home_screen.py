"""The app's first screen, "On call now": my shift, who is on with me, my incidents, open slots."""

from tests.helpers import add_schedule, post_alert


def test_the_on_call_engineer_sees_their_shift_and_who_is_on_with_them(world, browser, database, clock) -> None:
    add_schedule(database, world, clock.now())  # Monday night: Alice holds Primary, Bob Secondary
    page = browser("alice").get("/").get_data(as_text=True)
    assert "You are on call" in page and "Primary" in page
    assert "Bob Durand" in page and "Secondary" in page  # on call with her
    carol = browser("carol").get("/").get_data(as_text=True)
    assert "You are not on call" in carol
    assert "Next:" in carol  # her shift starts at the Monday 09:00 hand-off


def test_my_incidents_are_the_ones_i_hold_and_the_rest_wait_for_someone(world, browser, client) -> None:
    mine = post_alert(client, world.keys["globex_generic"], summary="Tracking API down", dedup="a").get_json()["results"][0]["incident"]
    post_alert(client, world.keys["acme_generic"], summary="Checkout slow", dedup="b")
    alice = browser("alice")
    alice.post(f"/api/v1/incidents/{mine}/claim", json={"slot": 1})
    page = alice.get("/").get_data(as_text=True)
    mine_section, waiting = page.split("Waiting for someone")
    assert "Tracking API down" in mine_section and "Checkout slow" not in mine_section
    assert "Checkout slow" in waiting


def test_a_phone_that_cannot_be_woken_is_told_so(world, browser) -> None:
    assert "enable notifications" in browser("alice").get("/").get_data(as_text=True)


def test_a_client_viewer_sees_only_its_incidents_and_no_rota(world, browser, client) -> None:
    post_alert(client, world.keys["acme_generic"], summary="Checkout slow", dedup="b")
    post_alert(client, world.keys["globex_generic"], summary="Tracking API down", dedup="a")
    victor = browser("victor@acme.test")
    home = victor.get("/")  # a client viewer's first screen is its client's status page
    assert home.status_code == 302 and home.headers["Location"].endswith("/status/acme")
    page = victor.get("/status/acme").get_data(as_text=True)
    assert "Major outage of Web shop" in page and "Warehouse API" not in page
    assert "Checkout slow" not in page  # an alert's own text is the engineers' (the page names the service)
    assert "You are on call" not in page and "You are not on call" not in page  # no rota for clients


def test_the_me_page_lists_what_my_role_may_open(world, browser) -> None:
    alice = browser("alice").get("/me").get_data(as_text=True)
    maya = browser("maya").get("/me").get_data(as_text=True)
    assert "Notifications and devices" in alice and "Manage clients" not in alice
    assert "Manage clients" in maya and "Audit log" not in maya
    assert "Audit log" in browser("admin").get("/me").get_data(as_text=True)
