"""The VAPID identity: a subject push services accept (or the server refuses to start), the first
admin's e-mail when none is configured, and a key pair that is never silently replaced."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.engine.loop import Engine
from app.models import Setting, User
from app.notify import vapid
from tests.helpers import make_app
from tests.notifications.reach import attempts, open_incident, reach, timeline


@pytest.mark.parametrize("subject", [
    "mailto:oncall@localhost", "mailto:ops@vigil.local", "https://localhost:8000", "https://pager.local/",
    "oncall@example.com", "mailto:", "https://127.0.0.1", "http://example.com",
])
def test_a_subject_push_services_would_refuse_stops_the_server(database, clock, tmp_path, subject) -> None:
    with pytest.raises(ValueError, match="VIGIL_VAPID_SUBJECT"):
        make_app(database, clock, tmp_path, VAPID_SUBJECT=subject)


@pytest.mark.parametrize("subject", ["mailto:oncall@example.com", "https://status.example.com/contact"])
def test_a_real_contact_is_accepted(subject) -> None:
    assert vapid.subject_problem(subject) is None


def engine_with(app, database, clock, **config):
    return Engine(database, clock, {**app.config, **config}, name="other")


def test_without_a_subject_the_first_admins_email_is_used(client, world, app, clock, push_service,
                                                           database) -> None:
    reach(database, world.alice, push=push_service.new_subscription())
    open_incident(client, world.keys["acme_generic"])
    engine = engine_with(app, database, clock, VAPID_SUBJECT=None)
    try:
        engine.run_until_idle()
    finally:
        engine.close()
    [got] = push_service.wait_for(1)
    assert got.vapid_claims["sub"] == "mailto:admin@vigil.test"


def test_without_any_usable_subject_pushes_fail_loudly_and_subscribing_still_works(
    client, world, app, clock, push_service, database, browser
) -> None:
    with database.transaction() as s:
        s.get(User, world.admin).email = "admin@vigil.local"
    reach(database, world.alice, push=push_service.new_subscription())
    iid = open_incident(client, world.keys["acme_generic"])
    engine = engine_with(app, database, clock, VAPID_SUBJECT=None)
    try:
        engine.run_until_idle()
    finally:
        engine.close()
    [failed] = timeline(database, iid, "delivery_failed")
    assert "Web Push is not configured on this server: set VIGIL_VAPID_SUBJECT" in failed
    assert push_service.attempts == []
    assert browser("bob").get("/api/v1/push/vapid-public-key").status_code == 200


def test_an_unreadable_stored_key_is_an_error_never_a_new_key(client, world, engine, push_service, database,
                                                              browser) -> None:
    with database.transaction() as s:
        s.get(Setting, vapid.SETTING).value = "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n"
    r = browser("bob").get("/api/v1/push/vapid-public-key")
    assert r.status_code == 503 and "refusing to make a new one" in r.get_json()["message"]
    reach(database, world.alice, push=push_service.new_subscription())
    open_incident(client, world.keys["acme_generic"])
    engine.run_until_idle()
    [attempt] = attempts(database, "push")
    assert attempt.outcome == "failed" and "cannot be read" in attempt.error
    with database.transaction() as s:
        assert "garbage" in s.execute(select(Setting.value).where(Setting.key == vapid.SETTING)).scalar_one()
