"""The managers' heartbeat screen: create, change and delete a service's monitors, see each one's
ping URL (with a copy button), state and last pings; the client's page shows their state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.models import AuditEntry, HeartbeatMonitor


def monitors(database: Any) -> list[HeartbeatMonitor]:
    with database.session() as s:
        return list(s.execute(select(HeartbeatMonitor).order_by(HeartbeatMonitor.id)).scalars())


FORM = {"name": "nightly backup", "period": "24", "grace": "45", "cron": "0 2 * * *", "timezone": "Europe/Paris"}


def test_a_manager_creates_a_monitor_and_sees_its_ping_url_and_state(browser, world, database, client, clock) -> None:
    maya = browser("maya")
    r = maya.form(f"/services/{world.acme_web}/heartbeats", FORM)
    assert r.status_code == 303
    [m] = monitors(database)
    assert (m.name, m.period_seconds, m.grace_seconds, m.cron, m.timezone, m.state) == (
        "nightly backup", 86400, 2700, "0 2 * * *", "Europe/Paris", "new")
    page = maya.get(f"/services/{world.acme_web}/heartbeats").get_data(as_text=True)
    assert f"http://vigil.test/hb/{m.token}" in page and f'data-copy="http://vigil.test/hb/{m.token}"' in page
    assert "state-new" in page and "No pings yet." in page
    client.post(f"/hb/{m.token}", data="dump ok: 1.2 GB")
    page = maya.get(f"/services/{world.acme_web}/heartbeats").get_data(as_text=True)
    assert "state-up" in page and "dump ok: 1.2 GB" in page
    acme = maya.get("/clients/acme").get_data(as_text=True)
    assert "nightly backup" in acme and "state-up" in acme
    with database.session() as s:
        assert s.execute(select(AuditEntry.action).where(AuditEntry.action.like("heartbeat.%"))).scalars().all() == [
            "heartbeat.created"]


def test_a_manager_changes_and_deletes_a_monitor(browser, world, database, client) -> None:
    maya = browser("maya")
    maya.form(f"/services/{world.acme_web}/heartbeats", FORM)
    [m] = monitors(database)
    client.get(f"/hb/{m.token}")
    r = maya.form(f"/services/{world.acme_web}/heartbeats/{m.id}",
                  {"name": "hourly sync", "period": "1", "grace": "10", "cron": "", "timezone": "UTC"})
    assert r.status_code == 303
    [changed] = monitors(database)
    assert (changed.name, changed.period_seconds, changed.grace_seconds, changed.cron) == ("hourly sync", 3600, 600, None)
    assert changed.check_at is not None  # the engine looks again: the deadline moved
    assert maya.form(f"/services/{world.acme_web}/heartbeats/{m.id}/delete", {}).status_code == 303
    assert monitors(database) == []
    assert client.get(f"/hb/{m.token}").status_code == 404


def test_a_monitor_of_another_service_is_not_found_there(browser, world, database) -> None:
    maya = browser("maya")
    maya.form(f"/services/{world.acme_web}/heartbeats", FORM)
    [m] = monitors(database)
    assert maya.form(f"/services/{world.globex_wh}/heartbeats/{m.id}/delete", {}).status_code == 404
    assert len(monitors(database)) == 1


def test_bad_input_is_refused_on_the_form_with_what_to_fix(browser, world, database) -> None:
    maya = browser("maya")
    for bad, says in [({"name": ""}, "give the monitor a name"), ({"period": "soon"}, "number of hours"),
                      ({"grace": "0"}, "grace must be between"), ({"cron": "every night"}, "not a cron expression"),
                      ({"timezone": "Mars/Olympus"}, "unknown time zone"), ({"period": "1e308"}, "period must be between")]:
        r = maya.form(f"/services/{world.acme_web}/heartbeats", {**FORM, **bad})
        assert r.status_code == 400, bad
        assert says in r.get_data(as_text=True), bad
    assert monitors(database) == []


def test_engineers_and_client_viewers_may_not_manage_monitors(browser, world, database) -> None:
    for who in ("alice", "victor@acme.test"):
        b = browser(who)
        assert b.get(f"/services/{world.acme_web}/heartbeats").status_code in (403, 404)
        assert b.form(f"/services/{world.acme_web}/heartbeats", FORM).status_code in (403, 404)
    assert monitors(database) == []
