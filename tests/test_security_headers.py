"""Security headers on every response, and templates the Content Security Policy lets run
unchanged: no inline script, style or event handler anywhere."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers import make_app

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self' ws://vigil.test; worker-src 'self'; manifest-src 'self'; frame-ancestors 'none'; "
       "base-uri 'self'; form-action 'self'; object-src 'none'")


def test_every_kind_of_response_carries_the_headers(client, world, browser) -> None:
    alice = browser("alice")
    responses = [client.get("/login"), client.get("/incidents"), client.get("/api/v1/incidents"),
                 client.get("/healthz"), client.get("/no-such-page"), client.get("/api/v1/nothing"),
                 client.post("/api/v1/intake/generic/wrong", json={}), alice.get("/incidents/999"),
                 alice.get("/admin/users"), client.get("/static/css/app.css")]
    for r in responses:
        assert r.headers["Content-Security-Policy"] == CSP, r.request.path
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "same-origin"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "Strict-Transport-Security" not in r.headers
        r.close()


def test_https_sites_get_hsts_and_a_wss_connect_source(database, clock, tmp_path) -> None:
    app = make_app(database, clock, tmp_path, SECURE_COOKIES=True, BASE_URL="https://oncall.example.com")
    r = app.test_client().get("/login", base_url="https://oncall.example.com")
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "connect-src 'self' wss://oncall.example.com;" in r.headers["Content-Security-Policy"]


def test_no_template_has_inline_script_or_style() -> None:
    root = Path(__file__).resolve().parent.parent / "templates"
    for path in root.rglob("*.html"):
        html = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html, re.I), f"inline <script> in {path.name}"
        assert not re.search(r"<style\b", html, re.I), f"<style> in {path.name}"
        assert not re.search(r"\sstyle\s*=", html, re.I), f"style= attribute in {path.name}"
        assert not re.search(r"\son[a-z]+\s*=", html, re.I), f"inline event handler in {path.name}"
        assert "javascript:" not in html.lower(), path.name
