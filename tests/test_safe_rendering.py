"""Alert text, runbooks, status updates and e-mail subjects are data, never markup or headers:
XSS payloads arrive escaped (Jinja autoescape), Markdown is rendered with raw HTML off and an
allow-list after it, and a CR/LF cannot add an e-mail header."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_string
from email.message import EmailMessage
from html.parser import HTMLParser

import pytest

from app.incidents import snapshot
from app.models import Client, Incident, Notification, Service
from app.notify.message import To, compose
from app.web.markdown import render

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "javascript:alert(1)",
    "{{ 7*7 }}",
]


def test_alert_summaries_and_details_are_escaped_on_every_page(client, world, browser) -> None:
    alice = browser("alice")
    for i, p in enumerate(PAYLOADS):
        r = client.post(f"/api/v1/intake/generic/{world.keys['acme_generic']}",
                        json={"summary": f"disk {p}", "details": f"output: {p}", "dedup_key": f"x{i}"})
        iid = r.get_json()["results"][0]["incident"]
        alice.post(f"/api/v1/incidents/{iid}/actions", json={"text": f"tried {p}"})
        for page in (alice.get("/incidents").get_data(as_text=True), alice.get(f"/incidents/{iid}").get_data(as_text=True)):
            assert "<script>alert" not in page and "<img src=x" not in page and "<svg onload" not in page
            text = re.sub(r'value="[^"]*"', "", page.split("<main>")[1])  # CSRF tokens are random
            assert not re.search(r"(disk|output:|tried) 49\b", text)  # no template evaluation either
        detail = alice.get(f"/incidents/{iid}").get_data(as_text=True)
        assert "&lt;" in detail or "javascript:alert" in detail or "{{ 7*7 }}" in detail


@pytest.mark.parametrize(("source", "forbidden"), [
    ("<script>alert(1)</script>", "<script"),
    ("<img src=x onerror=alert(1)>", "<img"),
    ("[click](javascript:alert(1))", 'href="javascript'),
    ("[click](JaVaScRiPt:alert(1))", "href"),
    ("[click](data:text/html;base64,PHNjcmlwdD4=)", "href"),
    ("[click](vbscript:msgbox)", "href"),
    ('[t](http://x.test "a\\" onmouseover=\\"alert(1)")', "onmouseover="),
    ("![x](http://tracker.test/pixel.png)", "<img"),
    ("<a href=\"javascript:alert(1)\">x</a>", "<a "),
    ("<iframe src=//evil.test></iframe>", "<iframe"),
    ("```\n</code><script>alert(1)</script>\n```", "<script"),
])
def test_markdown_never_lets_script_through(source, forbidden) -> None:
    html = render(source)
    tags = Tags()
    tags.feed(html)
    for tag, attrs in tags.seen:
        assert tag in {"p", "a", "pre", "code", "em", "strong"}, html
        for name, value in attrs:
            assert not name.startswith("on"), html
            if name == "href":
                assert value.split(":")[0] in ("http", "https", "mailto", "ssh"), html
    if forbidden.startswith("<"):  # raw HTML stays text
        assert forbidden not in html.lower(), html


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, list[tuple[str, str]]]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:  # type: ignore[type-arg]
        self.seen.append((tag, attrs))


def test_markdown_keeps_what_a_runbook_needs() -> None:
    html = render("## Restart\n\n1. `systemctl restart php-fpm`\n2. see [the wiki](https://wiki.acme.test/x)\n\n"
                  "[open a shell](ssh://ops@10.0.0.5:22) or [mail](mailto:ops@acme.test)\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<h2>Restart</h2>" in html and "<code>systemctl restart php-fpm</code>" in html
    assert '<a href="https://wiki.acme.test/x" rel="noopener noreferrer nofollow">the wiki</a>' in html
    assert 'href="ssh://ops@10.0.0.5:22"' in html and 'href="mailto:ops@acme.test"' in html
    assert "<table>" in html and render(None) == "" and render("") == ""


def test_the_markdown_filter_is_available_to_templates(app) -> None:
    with app.app_context():
        out = app.jinja_env.from_string("{{ text|markdown }}").render(text="**ok** <script>x</script>")
    assert out == "<p><strong>ok</strong> &lt;script&gt;x&lt;/script&gt;</p>\n"


def test_an_email_subject_is_one_line_whatever_the_names_hold() -> None:
    now = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    client = Client(id=1, name="Acme\r\nBcc: victim@evil.test", slug="acme", tier="4h", created_at=now)
    svc = Service(id=1, name="Web\nX-Injected: 1", client=client, created_at=now)
    inc = Incident(id=42, client=client, service=svc, summary="Disk full\r\n\r\n<script>", details="", source="generic",
                   urgency="high", dedup_key="d", status="triggered", created_at=now, last_alert_at=now,
                   response_deadline=now)
    to = To(user_id=1, user_name="Alice", method_id=1, kind="email", address="alice@vigil.test", label="work")
    out = compose(Notification(id=7, purpose="page"), to, snapshot(inc), base_url="http://vigil.test", ack_url=None)
    assert "\r" not in out.subject and "\n" not in out.subject
    msg = EmailMessage()
    msg["Subject"] = out.subject
    msg["To"] = to.address
    msg.set_content(out.body)
    parsed = message_from_string(msg.as_string())
    assert parsed["Bcc"] is None and parsed["X-Injected"] is None
    assert sorted(parsed.keys()) == ["Content-Transfer-Encoding", "Content-Type", "MIME-Version", "Subject", "To"]


def test_an_alert_with_line_breaks_in_its_summary_becomes_one_line(client, world, database) -> None:
    r = client.post(f"/api/v1/intake/generic/{world.keys['acme_generic']}",
                    json={"summary": "Disk full\r\nBcc: victim@evil.test"})
    iid = r.get_json()["results"][0]["incident"]
    with database.transaction() as s:
        assert s.get(Incident, iid).summary == "Disk full Bcc: victim@evil.test"
