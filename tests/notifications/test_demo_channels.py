"""A demo install has no SMS provider or mail server: pages still land on the timeline through
the recording channel, without a FAILED line per unconfigured channel, and push is ready."""

from __future__ import annotations

from app import demo
from app.engine.loop import Engine
from app.notify.recording import RecordingTransport
from tests.helpers import make_app
from tests.notifications.reach import timeline


def test_a_demo_page_lands_on_the_timeline_without_noise(database, clock, tmp_path) -> None:
    app = make_app(database, clock, tmp_path, VAPID_SUBJECT=None)
    info = demo.load(database, app.config, clock.now())
    assert info["channels"][0] == "Web Push: ready, VAPID contact mailto:admin@vigil.example"
    assert "SMS and voice: not configured" in info["channels"][1]
    key = next(k["key"] for k in info["integration_keys"] if k["source"] == "events_v2")
    r = app.test_client().post("/v2/enqueue", json={
        "routing_key": key, "event_action": "trigger", "dedup_key": "disk-web-2",
        "payload": {"summary": "Disk 95% full on web-2", "source": "web-2", "severity": "critical"}})
    assert r.status_code == 202
    RecordingTransport.clear()
    engine = Engine(database, clock, app.config, name="demo")
    try:
        engine.run_until_idle()
    finally:
        engine.close()
    with database.transaction() as s:
        from sqlalchemy import select

        from app.models import Incident

        iid = s.execute(select(Incident.id).where(Incident.dedup_key == "disk-web-2")).scalar_one()
    notes = timeline(database, iid)
    assert any(n.startswith("Recording to Alice Martin (demo log): delivered") for n in notes)
    assert not any("FAILED" in n for n in notes), notes
