"""The ping URLs and the ping address: no login, a tiny text answer, the same for anything
unknown; bad input (unknown uuid, a huge body, HEAD, an unknown kind) gets a clear status, and a
URL hammered 10,000 times keeps its table bounded."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from app.intake import heartbeats
from app.models import PING_RING, HeartbeatMonitor, HeartbeatPing, Service
from tests.helpers import make_app


def monitor(database: Any, world: Any, clock: Any) -> HeartbeatMonitor:
    with database.transaction() as s:
        return heartbeats.create(s, s.get(Service, world.acme_web), heartbeats.MonitorInput("backup", 3600, 600), clock.now())


def pings(database: Any, monitor_id: int) -> list[HeartbeatPing]:
    with database.session() as s:
        return heartbeats.last_pings(s, monitor_id, limit=1000)


def test_a_ping_needs_no_login_and_answers_ok_in_plain_text(client, world, clock, database) -> None:
    m = monitor(database, world, clock)
    for method, url, kind in [("GET", "", "success"), ("POST", "", "success"), ("GET", "/start", "start"),
                              ("POST", "/fail", "fail")]:
        r = client.open(f"/hb/{m.token}{url}", method=method)  # POST without any CSRF token
        assert (r.status_code, r.mimetype, r.get_data(as_text=True)) == (200, "text/plain", "OK\n")
        assert r.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in r.headers
        assert pings(database, m.id)[0].kind == kind
    assert [p.source for p in pings(database, m.id)] == ["http"] * 4


def test_unknown_or_malformed_uuids_get_the_same_tiny_404(client, world, clock, database) -> None:
    m = monitor(database, world, clock)
    answers = set()
    for url in [f"/hb/{uuid.uuid4()}", f"/hb/{uuid.uuid4()}/fail", "/hb/not-a-uuid", f"/hb/{m.token.upper()}x",
                f"/hb/{m.token}/explode", "/hb/" + "a" * 5000, f"/hb/{uuid.uuid1()}"]:
        r = client.get(url)
        answers.add((r.status_code, r.mimetype, r.get_data(as_text=True)))
    assert answers == {(404, "text/plain", "not found\n")}
    assert pings(database, m.id) == []


def test_the_body_is_kept_whatever_its_type(client, world, clock, database) -> None:
    m = monitor(database, world, clock)
    client.post(f"/hb/{m.token}", data={"log": "rsync done"})  # curl -d: a form
    client.post(f"/hb/{m.token}/fail", data=b'{"exit": 3}', content_type="application/json")
    client.post(f"/hb/{m.token}", data=b"", content_type="text/plain")
    assert [p.body for p in pings(database, m.id)] == ["", '{"exit": 3}', "log=rsync+done"]


def test_head_counts_as_a_ping_and_answers_no_body(client, world, clock, database) -> None:
    m = monitor(database, world, clock)
    r = client.head(f"/hb/{m.token}")
    assert (r.status_code, r.get_data()) == (200, b"")
    assert client.head(f"/hb/{uuid.uuid4()}").status_code == 404
    assert [p.kind for p in pings(database, m.id)] == ["success"]


def test_another_method_is_refused_with_405_and_counts_nothing(client, world, clock, database) -> None:
    m = monitor(database, world, clock)
    for method in ("PUT", "DELETE", "PATCH"):
        r = client.open(f"/hb/{m.token}", method=method)
        assert (r.status_code, r.headers["Allow"], r.get_data(as_text=True)) == (405, "GET, HEAD, POST",
                                                                                 "method not allowed\n")
    assert pings(database, m.id) == []


def test_behind_a_proxy_the_ping_keeps_the_clients_address(database, world, clock, tmp_path) -> None:
    m = monitor(database, world, clock)
    proxied = make_app(database, clock, tmp_path, PROXY_COUNT=1).test_client()
    r = proxied.get(f"/hb/{m.token}", headers={"X-Forwarded-For": "203.0.113.9"},
                    environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert r.status_code == 200
    assert pings(database, m.id)[0].remote == "203.0.113.9"


def test_a_huge_body_still_counts_and_only_an_excerpt_is_kept(app, client, world, clock, database) -> None:
    m = monitor(database, world, clock)
    huge = ("backup log line é\n" * 200_000).encode()  # 3.8 MB, over the app's MAX_CONTENT_LENGTH
    assert len(huge) > app.config["MAX_CONTENT_LENGTH"]
    r = client.post(f"/hb/{m.token}", data=huge, content_type="text/plain")
    assert r.status_code == 200
    [p] = pings(database, m.id)
    assert 0 < len(p.body) <= heartbeats.BODY_EXCERPT and p.body.startswith("backup log line é")
    r = client.post(f"/hb/{m.token}/fail", data=b"\x00\xff\xfebinary\x00")  # stored, made storable
    assert r.status_code == 200 and "\x00" not in pings(database, m.id)[0].body


def test_a_url_hammered_10000_times_keeps_only_its_last_100_pings(app, world, clock, database) -> None:
    m = monitor(database, world, clock)
    threads = 8  # concurrent callers, as a hammering loop in a few shells would be

    def hammer(t: int) -> set[int]:
        c = app.test_client()
        return {c.post(f"/hb/{m.token}", data=f"run {t}-{i}").status_code for i in range(10_000 // threads)}

    with ThreadPoolExecutor(threads) as pool:  # no deadline: a loaded machine takes its time
        assert list(pool.map(hammer, range(threads))) == [{200}] * threads
    kept = pings(database, m.id)
    assert [p.n for p in kept] == list(range(10_000, 10_000 - PING_RING, -1))
    assert len({p.body for p in kept}) == PING_RING and all(p.body.startswith("run ") for p in kept)
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(HeartbeatPing)) == PING_RING
        assert s.get(HeartbeatMonitor, m.id).pings == 10_000


def test_the_ping_address_finds_its_monitor_and_counts_an_email_ping(world, clock, database) -> None:
    m = monitor(database, world, clock)
    with database.transaction() as s:
        found = heartbeats.monitor_for_local_part(s, f"hb-{m.token.upper()}")
        assert found is not None and found.id == m.id
        for nope in ["hb-nope", f"hb-{uuid.uuid4()}", m.token, f"x{m.token}", f"hb-{m.token}+tag", ""]:
            assert heartbeats.monitor_for_local_part(s, nope) is None
        done = heartbeats.ping(s, found, "fail", clock.now(), "email", body_excerpt="Subject: backup failed\n" + "x" * 50_000,
                               remote="cron@client.example")
        assert done is not None and (done.kind, done.state, done.service_id) == ("fail", "down", world.acme_web)
        assert heartbeats.ping(s, str(uuid.uuid4()), "success", clock.now(), "email") is None
    [p] = pings(database, m.id)
    assert (p.kind, p.source, p.remote) == ("fail", "email", "cron@client.example")
    assert len(p.body) == heartbeats.BODY_EXCERPT


def test_a_deleted_monitor_stops_answering(client, world, clock, database) -> None:
    m = monitor(database, world, clock)
    client.get(f"/hb/{m.token}")
    with database.transaction() as s:
        heartbeats.remove(s, s.get(HeartbeatMonitor, m.id))
    assert client.get(f"/hb/{m.token}").status_code == 404
    assert pings(database, m.id) == []


def test_a_monitor_changed_or_deleted_by_another_process_is_read_again(client, world, clock, database) -> None:
    """Each process caches a monitor's schedule for a few seconds; its pings are guarded by it, so
    a change made elsewhere (here: straight in the database) is never missed."""
    m = monitor(database, world, clock)
    client.get(f"/hb/{m.token}")  # cached: every hour, 10 minutes of grace
    with database.transaction() as s:
        s.execute(update(HeartbeatMonitor).where(HeartbeatMonitor.id == m.id).values(period_seconds=7200))
    client.get(f"/hb/{m.token}")
    with database.session() as s:
        assert s.get(HeartbeatMonitor, m.id).check_at == clock.now() + timedelta(hours=2, minutes=10)
    with database.transaction() as s:
        s.execute(delete(HeartbeatPing))
        s.execute(delete(HeartbeatMonitor))
    assert client.get(f"/hb/{m.token}").status_code == 404
