"""Runbooks: managers write them, the client's engineers read them from the incident, safely
rendered; client viewers never see them (nor connection info)."""

import re

from sqlalchemy import select

from app.models import AuditEntry, Runbook
from tests.helpers import post_alert

HOSTILE = """# Restart the queue

1. `sudo systemctl restart rabbitmq-server` on mq-1
2. <script>alert('x')</script> then [click](javascript:alert(1)) or [wiki](https://wiki.acme.test/mq)
<img src=x onerror=alert(1)>
"""


def write(b, slug: str, data: dict) -> object:
    return b.client.post(f"/clients/{slug}/runbooks/new", data={"csrf_token": b.csrf, **data})


def test_a_manager_writes_a_runbook_and_the_engineer_reads_it_on_the_incident(world, browser, client, database) -> None:
    maya = browser("maya")
    assert write(maya, "acme", {"title": "Message queue stuck", "body": HOSTILE}).status_code == 302
    assert write(maya, "acme", {"title": "Web shop deploys", "body": "Roll back with `make rollback`.",
                                "service_id": str(world.acme_web)}).status_code == 302
    assert write(maya, "globex", {"title": "Globex only", "body": "x"}).status_code == 302
    iid = post_alert(client, world.keys["acme_generic"]).get_json()["results"][0]["incident"]
    page = browser("alice").get(f"/incidents/{iid}").get_data(as_text=True)
    assert "Message queue stuck" in page and "Web shop deploys" in page and "Globex only" not in page
    assert "<code>sudo systemctl restart rabbitmq-server</code>" in page
    assert '<a href="https://wiki.acme.test/mq" rel="noopener noreferrer nofollow">wiki</a>' in page
    # The script, the javascript: link and the image stay inert text, never markup.
    assert "<script>alert" not in page and 'href="javascript' not in page and "<img" not in page
    assert "&lt;script&gt;alert" in page
    with database.transaction() as s:
        assert s.execute(select(AuditEntry.action).where(AuditEntry.action == "runbook.saved")).scalars().all() == ["runbook.saved"] * 3


def test_bad_runbook_input_comes_back_on_the_form(world, browser) -> None:
    maya = browser("maya")
    r = write(maya, "acme", {"title": "", "body": "x"})
    assert r.status_code == 400 and "needs a title" in r.get_data(as_text=True)
    r = write(maya, "acme", {"title": "x", "body": "y", "service_id": str(world.globex_wh)})
    assert r.status_code == 400 and "another client" in r.get_data(as_text=True)


def test_only_the_clients_engineers_and_staff_read_runbooks(world, browser, database, clock) -> None:
    write(browser("maya"), "acme", {"title": "Acme DB failover", "body": "Promote db-2."})
    with database.transaction() as s:
        rb = s.execute(select(Runbook)).scalar_one().id
    assert browser("alice").get(f"/runbooks/{rb}").status_code == 200
    for who in ("dave", "victor@acme.test"):
        assert browser(who).get(f"/runbooks/{rb}").status_code == 404
    alice = browser("alice")
    assert alice.client.post(f"/runbooks/{rb}/edit", data={"csrf_token": alice.csrf, "title": "x"}).status_code == 403


def test_the_incident_offers_the_clients_connection_info_but_not_to_client_viewers(world, browser, client, database, app, clock) -> None:
    from app.clients import connections
    from app.clients.crypto import vault_for
    from app.models import User

    with database.transaction() as s:
        connections.create(s, vault_for(app), s.get(User, world.admin), world.acme,
                           {"kind": "ssh", "label": "Acme bastion", "host": "bastion.acme.test", "port": 2222,
                            "user": "oncall", "password": "hunter2-long"}, clock.now())
    iid = post_alert(client, world.keys["acme_generic"]).get_json()["results"][0]["incident"]
    page = browser("alice").get(f"/incidents/{iid}").get_data(as_text=True)
    assert "Acme bastion" in page and "Reveal" in page
    assert "hunter2" not in page and "bastion.acme.test" not in page  # nothing secret until revealed
    viewer = browser("victor@acme.test").get(f"/incidents/{iid}").get_data(as_text=True)
    assert "Acme bastion" not in viewer and not re.search(r"Connect to|Runbooks", viewer)
