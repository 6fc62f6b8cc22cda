"""A post-mortem: engineers fill in impact, root cause, what went well and follow-ups beside the
incident's timeline, actions and summary; it exports as Markdown, a printable page and a PDF."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import post_alert


@pytest.fixture
def resolved(app: Any, world: Any, clock: Any, browser: Any) -> int:
    inc = post_alert(app.test_client(), world.keys["acme_generic"], summary="Disk full on web-2").get_json()
    iid = int(inc["results"][0]["incident"])
    alice = browser("alice")
    clock.advance(minutes=12)
    alice.post(f"/api/v1/incidents/{iid}/ack", json={})
    alice.post(f"/api/v1/incidents/{iid}/actions", json={"text": "Rotated the logs of nginx"})
    clock.advance(minutes=20)
    alice.post(f"/api/v1/incidents/{iid}/resolve", json={"summary": "Log rotation was off since the upgrade"})
    return iid


def test_an_engineer_writes_the_post_mortem_and_the_markdown_has_it_all(resolved: int, browser: Any) -> None:
    alice = browser("alice")
    r = alice.put(f"/api/v1/incidents/{resolved}/postmortem",
                  json={"impact": "Checkout down 32 minutes", "root_cause": "logrotate disabled by the upgrade",
                        "went_well": "Paged and answered in 12 min", "follow_ups": "- [ ] re-enable logrotate"})
    assert r.status_code == 200 and r.get_json()["updated_by"] == "Alice Martin"
    md = alice.get(f"/incidents/{resolved}/postmortem.md").get_data(as_text=True)
    for part in ("# Post-mortem: #", "Disk full on web-2", "## Impact\n\nCheckout down 32 minutes",
                 "## Root cause\n\nlogrotate disabled by the upgrade", "## What went well", "re-enable logrotate",
                 "Log rotation was off since the upgrade", "Alice Martin: Rotated the logs of nginx",
                 "(after 12 min)", "(after 32 min)"):
        assert part in md, part
    # A second save of one field keeps the others.
    alice.put(f"/api/v1/incidents/{resolved}/postmortem", json={"impact": "Checkout down 32 min, 40 orders lost"})
    body = alice.get(f"/api/v1/incidents/{resolved}/postmortem").get_json()
    assert body["impact"].endswith("40 orders lost") and body["root_cause"] == "logrotate disabled by the upgrade"


def test_the_form_saves_and_the_page_prints_the_timeline(resolved: int, browser: Any) -> None:
    alice = browser("alice")
    r = alice.form(f"/incidents/{resolved}/postmortem", {"impact": "Ünïcode façade → fine", "root_cause": "x"})
    assert r.status_code == 302
    page = alice.get(f"/incidents/{resolved}/postmortem").get_data(as_text=True)
    assert "Ünïcode façade → fine" in page and "Rotated the logs of nginx" in page and 'id="postmortem-form"' in page


def test_the_pdf_is_a_real_pdf_with_the_fields(resolved: int, browser: Any) -> None:
    from fpdf import FPDF  # noqa: F401  (the library that writes it)

    alice = browser("alice")
    alice.put(f"/api/v1/incidents/{resolved}/postmortem", json={"impact": "Checkout down — 32 min ✓"})
    r = alice.get(f"/incidents/{resolved}/postmortem.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    data = r.get_data()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF") and len(data) > 2000


def test_a_client_viewer_reads_but_cannot_edit(resolved: int, browser: Any) -> None:
    victor = browser("victor@acme.test")
    assert victor.get(f"/api/v1/incidents/{resolved}/postmortem").status_code == 200
    assert victor.put(f"/api/v1/incidents/{resolved}/postmortem", json={"impact": "x"}).status_code == 403
    assert 'id="postmortem-form"' not in victor.get(f"/incidents/{resolved}/postmortem").get_data(as_text=True)


def test_bad_input_gets_a_400(resolved: int, browser: Any) -> None:
    alice = browser("alice")
    assert alice.put(f"/api/v1/incidents/{resolved}/postmortem", json={"impact": 5}).status_code == 400
    assert alice.put(f"/api/v1/incidents/{resolved}/postmortem", json={"impact": "x" * 20001}).status_code == 400
    assert alice.put(f"/api/v1/incidents/{resolved}/postmortem", json=[1]).status_code == 400
