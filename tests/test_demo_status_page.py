"""`vigil demo` makes Acme's status page public and says where it is; the page answers there, and
the demo's client viewer lands on it."""

from __future__ import annotations

import json

from app import create_app
from tests.test_migrations_and_cli import cli


def test_the_demo_prints_acmes_public_status_page_and_it_answers(tmp_path) -> None:
    info = json.loads(cli(tmp_path, "demo", "--json"))
    url = info["status_pages"]["acme"]
    assert url.endswith("/status/acme")
    assert url in cli(tmp_path, "demo")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "TESTING": True, "PASSWORD_PROFILE": "CHEAPEST"})
    c = app.test_client()
    r = c.get("/status/acme")
    assert r.status_code == 200 and "Acme Retail" in r.get_data(as_text=True)
    summary = c.get("/status/acme/api/v2/summary.json").get_json()
    assert [x["name"] for x in summary["components"]] == ["Web shop", "Payments API"]
    assert c.get("/status/globex").status_code == 404  # only Acme's page is public
    viewer = next(x for x in info["logins"] if x["role"] == "client_viewer")
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    c.post("/login", data={"email": viewer["email"], "password": viewer["password"], "csrf_token": token})
    r = c.get("/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/status/acme")
