"""The audit log: append-only in the application (and in PostgreSQL itself), and complete:
logins, incident actions by people, key and token changes, each with address and device."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from app import audit
from app.audit import AuditTampering
from app.models import AuditEntry
from tests.helpers import BACKEND, post_alert


def entries(database, action: str | None = None) -> list[AuditEntry]:
    with database.transaction() as s:
        q = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            q = q.where(AuditEntry.action == action)
        return list(s.execute(q).scalars())


def one_entry(database, clock) -> int:
    with database.transaction() as s:
        e = audit.record(s, "settings.changed", actor="test", at=clock.now(), target="setting:x")
        s.flush()
        return int(e.id)


def test_an_entry_cannot_be_changed_or_deleted_through_the_orm(database, clock) -> None:
    eid = one_entry(database, clock)
    with pytest.raises(AuditTampering), database.transaction() as s:
        s.get(AuditEntry, eid).actor_label = "someone else"
    with pytest.raises(AuditTampering), database.transaction() as s:
        s.delete(s.get(AuditEntry, eid))
    assert [e.actor_label for e in entries(database)] == ["test"]


def test_bulk_and_core_statements_are_refused_too(database, clock) -> None:
    eid = one_entry(database, clock)
    with pytest.raises(AuditTampering), database.transaction() as s:
        s.execute(update(AuditEntry).where(AuditEntry.id == eid).values(action="nothing"))
    with pytest.raises(AuditTampering), database.transaction() as s:
        s.execute(delete(AuditEntry))
    with pytest.raises(AuditTampering), database.engine.begin() as c:
        c.execute(AuditEntry.__table__.delete())
    assert len(entries(database)) == 1


@pytest.mark.skipif(BACKEND != "postgres", reason="the trigger is PostgreSQL's (VIGIL_TEST_DB=postgres)")
def test_postgresql_refuses_even_raw_sql(database, clock) -> None:
    one_entry(database, clock)
    for sql in ("UPDATE audit_entries SET action = 'x'", "DELETE FROM audit_entries"):
        with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as c:
            c.execute(text(sql))
    assert len(entries(database)) == 1


def test_the_migration_installs_the_trigger_on_postgresql(postgres) -> None:
    """The migration (not only create_all) makes the table append-only."""
    from sqlalchemy.engine import make_url

    from app import migrate
    from app.db import Database
    from tests.helpers import PG_URL

    name = f"{make_url(PG_URL).database}_audit_trigger"
    with postgres.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    try:
        migrate.upgrade(db)
        with db.engine.begin() as c:
            c.execute(text("INSERT INTO audit_entries (at, action, actor_label, data) VALUES (now(), 'x', 'y', '{}')"))
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as c:
            c.execute(text("DELETE FROM audit_entries"))
        migrate.downgrade(db, "0001")
    finally:
        db.dispose()
        with postgres.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_logins_and_failures_are_recorded_with_address_and_device(client, world, database) -> None:
    from tests.helpers import PASSWORD, _csrf_from

    for pw in ("wrong password!", PASSWORD):
        token = _csrf_from(client.get("/login").get_data(as_text=True))
        client.post("/login", data={"email": "alice@vigil.test", "password": pw, "csrf_token": token},
                    headers={"User-Agent": "Firefox on a laptop"}, environ_base={"REMOTE_ADDR": "192.0.2.9"})
    failed, ok = entries(database, "login.failed")[0], entries(database, "login.succeeded")[0]
    assert (failed.actor_id, failed.ip, failed.user_agent) == (world.alice, "192.0.2.9", "Firefox on a laptop")
    assert (ok.actor_id, ok.actor_role, ok.actor_label) == (world.alice, "engineer", "Alice Martin <alice@vigil.test>")


def test_every_human_incident_action_is_recorded_and_system_ones_are_not(client, world, browser, database) -> None:
    iid = post_alert(client, world.keys["globex_generic"]).get_json()["results"][0]["incident"]
    alice, bob = browser("alice"), browser("bob")
    alice.post(f"/api/v1/incidents/{iid}/claim", json={"slot": 1})
    bob.post(f"/api/v1/incidents/{iid}/claim", json={"slot": 2})
    alice.post(f"/api/v1/incidents/{iid}/escalate", json={})
    alice.post(f"/api/v1/incidents/{iid}/handover", json={"reason": "checkout bug"})
    alice.post(f"/api/v1/incidents/{iid}/resolve", json={"summary": "fixed by their team"})
    other = post_alert(client, world.keys["globex_generic"], dedup="other").get_json()["results"][0]["incident"]
    bob.post(f"/api/v1/incidents/{other}/ack", json={})
    post_alert(client, world.keys["globex_generic"], dedup="other", action="resolve")  # the monitoring: not audited
    got = [(e.action, e.actor_id, e.incident_id, e.client_id) for e in entries(database) if e.action.startswith("incident.")]
    assert got == [
        ("incident.claimed", world.alice, iid, world.globex), ("incident.claimed", world.bob, iid, world.globex),
        ("incident.escalated", world.alice, iid, world.globex), ("incident.handed_over", world.alice, iid, world.globex),
        ("incident.resolved", world.alice, iid, world.globex), ("incident.acknowledged", world.bob, other, world.globex),
    ]


def test_key_creation_and_revocation_are_recorded(client, world, browser, database) -> None:
    import re

    maya = browser("maya")
    r = maya.client.post(f"/services/{world.acme_web}/keys", data={"source": "generic", "name": "prod", "csrf_token": maya.csrf})
    assert r.status_code == 201 and r.headers["Cache-Control"] == "no-store"
    key = re.search(r'class="shown-once">([0-9a-f]{32})<', r.get_data(as_text=True)).group(1)
    assert key not in maya.get(f"/services/{world.acme_web}/keys").get_data(as_text=True)
    assert post_alert(client, key).status_code == 202
    created = entries(database, "key.created")[0]
    kid = int(created.target.split(":")[1])
    assert maya.client.post(f"/services/{world.acme_web}/keys/{kid}/revoke", data={"csrf_token": maya.csrf}).status_code == 302
    assert post_alert(client, key).status_code == 401  # refused at once by this process
    assert entries(database, "key.revoked")[0].client_id == world.acme
    assert "generic" in maya.get(f"/services/{world.acme_web}/keys").get_data(as_text=True)


def test_the_admin_audit_page_lists_and_filters(world, browser) -> None:
    admin = browser("admin")
    browser("alice")
    page = admin.get("/admin/audit?action=login.").get_data(as_text=True)
    assert "Alice Martin &lt;alice@vigil.test&gt;" in page and "logged in" in page
