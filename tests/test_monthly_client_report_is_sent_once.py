"""The monthly client report: a page and a PDF per client and month, and an e-mail with the PDF
to the client's report contacts on the 1st, sent by the engine exactly once per client, month
and contact (restarts and two engines included; the race on PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select

from app.engine.loop import Engine
from app.models import Client, Notification
from app.reports import monthly
from tests.fakes.smtp import FakeSMTPServer
from tests.helpers import make_app, post_alert, race, requires_postgres


def _contacts(database: Any, world: Any, clock: Any, *emails: str) -> None:
    with database.transaction() as s:
        acme = s.get(Client, world.acme)
        for e in emails:
            monthly.add_contact(s, acme, "CTO", e, clock.now())


def _march(app: Any, world: Any, clock: Any, browser: Any) -> None:
    """Two Acme incidents in March 2026: one answered in 12 minutes, one never."""
    c = app.test_client()
    first = post_alert(c, world.keys["acme_generic"], summary="Disk full", dedup="d1").get_json()
    post_alert(c, world.keys["acme_generic"], summary="Checkout 500s", dedup="d2")
    clock.advance(minutes=12)
    browser("alice").post(f"/api/v1/incidents/{first['results'][0]['incident']}/ack", json={})


def _to_april_first(clock: Any) -> None:
    # 1 April 00:30 in Paris (CEST) is 31 March 22:30 UTC.
    clock.advance(seconds=(datetime(2026, 3, 31, 22, 30, tzinfo=UTC) - clock.now()).total_seconds())


def test_the_report_page_and_pdf_show_the_months_figures(app: Any, world: Any, clock: Any, browser: Any,
                                                          database: Any) -> None:
    _march(app, world, clock, browser)
    with database.session() as s:
        r = monthly.build(s, s.get(Client, world.acme), date(2026, 3, 1), datetime(2026, 4, 2, tzinfo=UTC))
    assert (r.overall.count, r.overall.sla_kept, r.overall.sla_missed) == (2, 1, 1)
    assert r.overall.ack_median == 720.0 and len(r.breaches) == 1 and r.maintenance == []
    maya = browser("maya")
    page = maya.get("/reports/monthly/acme/2026-03").get_data(as_text=True)
    assert "Acme Retail: March 2026" in page and "Checkout 500s" in page and "50 %" in page
    pdf = maya.get("/reports/monthly/acme/2026-03.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.get_data().startswith(b"%PDF-")
    assert browser("victor@acme.test").get("/reports/monthly/acme/2026-03").status_code == 200
    assert browser("victor@acme.test").get("/reports/monthly/globex/2026-03").status_code == 404
    assert maya.get("/reports/monthly/acme/2026-13").status_code == 400


def test_on_the_first_the_engine_mails_the_pdf_to_each_contact_once(app: Any, world: Any, clock: Any, browser: Any,
                                                                    database: Any, tmp_path: Any) -> None:
    _march(app, world, clock, browser)
    _contacts(database, world, clock, "cto@acme.example", "ops@acme.example")
    with FakeSMTPServer() as smtp:
        cfg = make_app(database, clock, tmp_path / "e", SMTP_HOST=smtp.host, SMTP_PORT=smtp.port,
                       SMTP_STARTTLS=False, SMTP_FROM="vigil@msp.example").config
        engine = Engine(database, clock, cfg, name="engine-mail")
        try:
            clock.advance(days=10)  # still March in Paris: nothing to send yet
            engine.run_until_idle()
            assert smtp.messages == []
            _to_april_first(clock)
            engine.run_until_idle()
            engine.drain()
            got = smtp.wait_for(2)
            engine.run_until_idle()  # later ticks, and a restarted engine, send nothing more
        finally:
            engine.close()
        again = Engine(database, clock, cfg, name="engine-restarted")
        try:
            clock.advance(hours=2)
            again.run_until_idle()
            again.drain()
        finally:
            again.close()
        assert len(smtp.messages) == 2
    assert sorted(m.rcpt_tos[0] for m in got) == ["cto@acme.example", "ops@acme.example"]
    mail = got[0].message
    assert mail["Subject"] == "Vigil monthly report — Acme Retail: March 2026"
    [pdf] = [p for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == "vigil-acme-2026-03.pdf" and pdf.get_content().startswith(b"%PDF-")
    assert "Response deadline kept: 50 % (1 kept, 1 missed)" in got[0].body_text()


@requires_postgres
def test_two_engines_at_once_queue_each_report_once_on_postgres(postgres: Any, tmp_path: Any) -> None:
    from app.clock import ManualClock
    from tests.helpers import build_world

    clock = ManualClock(datetime(2026, 3, 31, 22, 30, tzinfo=UTC))
    app = make_app(postgres, clock, tmp_path)
    w = build_world(postgres, clock.now())
    _contacts(postgres, w, clock, "cto@acme.example", "ops@acme.example", "ceo@acme.example")

    def run(_: int) -> int:
        with postgres.transaction() as s:
            return monthly.send_due(s, clock.now())

    for _ in range(3):  # several rounds of two engines racing
        results = race(4, run)
        assert all(isinstance(r, int) for r in results), results
    with postgres.session() as s:
        rows = s.execute(select(Notification.once_key, func.count()).where(Notification.purpose == "report")
                         .group_by(Notification.once_key)).all()
        assert len(rows) == 3 and all(n == 1 for _, n in rows)
    del app


def test_managers_add_and_remove_report_contacts(app: Any, world: Any, browser: Any, database: Any) -> None:
    maya = browser("maya")
    r = maya.form("/clients/acme/report-contacts", {"name": "CTO", "email": "cto@acme.example"})
    assert r.status_code == 302
    assert maya.form("/clients/acme/report-contacts", {"name": "x", "email": "not an address"}).status_code == 302
    with database.session() as s:
        [c] = s.execute(select(monthly.ReportContact)).scalars().all()
    assert c.email == "cto@acme.example"
    assert browser("alice").form("/clients/acme/report-contacts", {"email": "a@b.example"}).status_code == 403
    assert maya.form(f"/report-contacts/{c.id}/delete", {}).status_code == 302
    with database.session() as s:
        assert s.execute(select(monthly.ReportContact)).first() is None


def test_after_a_contact_is_added_the_page_shows_the_month_the_client_last_finished(
        app: Any, world: Any, browser: Any, clock: Any) -> None:
    """At 23:30 UTC on 31 December it is 00:30 on 1 January in Paris: Acme has finished December."""
    from datetime import UTC, datetime

    clock.set(datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
    r = browser("maya").form("/clients/acme/report-contacts", {"name": "CTO", "email": "cto@acme.example"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/reports/monthly/acme/2026-12")


def test_the_report_lists_the_maintenance_done_in_the_month_as_it_really_ran(app: Any, world: Any, clock: Any,
                                                                              browser: Any, database: Any) -> None:
    from datetime import timedelta

    from app.models import User
    from app.status import maintenance

    with database.transaction() as s:
        maya = s.get(User, world.maya)
        t = clock.now()
        done = maintenance.create(s, maya, world.acme, {
            "title": "Database upgrade", "body": "PostgreSQL 15 to 16 on db-1.",
            "starts_at": (t + timedelta(hours=2)).isoformat(), "ends_at": (t + timedelta(hours=4)).isoformat()},
            t, "http://vigil.test", "secret")
        dropped = maintenance.create(s, maya, world.acme, {
            "title": "Never ran", "starts_at": (t + timedelta(hours=5)).isoformat(),
            "ends_at": (t + timedelta(hours=6)).isoformat()}, t, "http://vigil.test", "secret")
        maintenance.start_now(s, maya, done.id, t + timedelta(hours=1))  # started early...
        maintenance.end_now(s, maya, done.id, t + timedelta(hours=3))  # ...and ended early
        assert dropped.started_at is None
    with database.session() as s:
        r = monthly.build(s, s.get(Client, world.acme), date(2026, 3, 1), datetime(2026, 4, 2, tzinfo=UTC))
        april = monthly.build(s, s.get(Client, world.globex), date(2026, 3, 1), datetime(2026, 4, 2, tzinfo=UTC))
    assert [(m["title"], m["start"], m["end"]) for m in r.maintenance] == [
        ("Database upgrade", t + timedelta(hours=1), t + timedelta(hours=3))]
    assert april.maintenance == []
    page = browser("maya").get("/reports/monthly/acme/2026-03").get_data(as_text=True)
    assert "Database upgrade" in page and "PostgreSQL 15 to 16 on db-1." in page and "Never ran" not in page
