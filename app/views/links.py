"""One-time acknowledgement links: a page for a person (GET shows, POST acknowledges) and a JSON
endpoint for the service worker's "Acknowledge" button. The token is the credential, so no
session is needed; a GET never changes anything (mail scanners and link previews follow links)."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, make_response, render_template, request

from ..answers import links
from ..incidents import Outcome
from ..models import AckToken, Status
from ..web import db_session, exempt, fail, now, optional_json_object, outcome_response

bp = Blueprint("links", __name__)


def _page(tok: AckToken | None, status: int = 200, *, refusal: links.LinkRefused | None = None,
          outcome: Outcome | None = None) -> Any:
    inc = tok.incident if tok is not None else None
    s = db_session()
    # A bundled page's link (an alert storm): the page lists its incidents, and acknowledges
    # those still waiting.
    members = links.bundle_incidents(s, tok) if tok is not None else []
    waiting = [i for i in members if i.status == Status.triggered.value]
    can_ack = refusal is None and outcome is None and inc is not None and (
        bool(waiting) if members else inc.status == Status.triggered.value)
    html = render_template("ack.html", tok=tok, inc=None if members else inc, members=members, waiting=waiting,
                           refusal=refusal, outcome=outcome, can_ack=can_ack, op_id="op-" + secrets.token_urlsafe(12))
    response = make_response(html, status)
    # The URL is a credential: not cached, not indexed, not sent to other sites as a referrer
    # (same-origin still sends it, which the CSRF check on HTTPS needs).
    response.headers.update({"Cache-Control": "no-store", "Referrer-Policy": "same-origin",
                             "X-Robots-Tag": "noindex, nofollow"})
    return response


@bp.get("/a/<token>")
def show(token: str) -> Any:
    tok = links.find(db_session(), token)
    refusal = links.state(tok, now())
    return _page(tok, refusal.status if refusal else 200, refusal=refusal)


@bp.post("/a/<token>")
def acknowledge(token: str) -> Any:
    s = db_session()
    op_id = request.form.get("op_id") or None
    try:
        out = links.acknowledge(s, token, now(), op_id=op_id[:100] if op_id else None)
    except links.LinkRefused as e:
        s.rollback()
        return _page(links.find(s, token), e.status, refusal=e)
    s.commit()
    return _page(links.find(s, token), out.status, outcome=out)


@bp.post("/api/v1/ack-links/<token>")
@exempt
def acknowledge_json(token: str) -> Any:
    body = optional_json_object()
    s = db_session()
    try:
        out = links.acknowledge(s, token, now(), op_id=body.get("op_id"))
    except links.LinkRefused as e:
        fail(e.status, e.message, reason=e.reason)
    s.commit()
    return outcome_response(out)
