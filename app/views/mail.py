"""Client e-mail over HTTP and on the screens: the inbound endpoints for deployments whose MX is
elsewhere (raw message/rfc822 with an integration key; SendGrid's and Mailgun's inbound forms),
an incident's messages (raw source and attachments for engineers, each viewing audited), writing
to the client, and the client's address and rules for managers."""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from .. import access, audit, incidents
from ..clients import mail as client_mail
from ..errors import ActionError
from ..incidents import Actor
from ..intake.keys import IntakeTarget
from ..intake.mail import Recipient, admit
from ..intake.mail.recipients import configured_domain
from ..models import Client, InboundMail, Incident, MailAttachment
from ..web import db_session, exempt, fail, now, optional_json_object, outcome_response, user
from .intake import _authenticate, _key_from_headers

bp = Blueprint("mail", __name__)


def _domain() -> str | None:
    return configured_domain(db_session(), current_app.config)


def _limit() -> int:
    return int(current_app.config.get("MAIL_MAX_BYTES") or 25 * 1024 * 1024)


def _accept(target: IntakeTarget, raw: bytes, mail_from: str | None, channel: str) -> Any:
    """Store (one transaction, committed before we answer 202), then process."""
    if not raw.strip():
        fail(400, "the message is empty")
    domain = _domain() or "http.invalid"
    rcpt = Recipient("client", f"{target.client_slug}@{domain}", target.client_id, target.service_id,
                     client_name=target.client_name)
    s = db_session()
    a = admit(s, rcpt, mail_from, raw, channel, now())
    s.commit()
    d = a.decision
    if d.code == 451:
        fail(429, d.text)
    if not d.accepted:
        fail(403, d.text)
    body: dict[str, Any] = {"status": d.status, "message": d.text, "mail": a.mail_id}
    if d.status == "received" and a.mail_id is not None:
        done = incidents.process_mail(s, a.mail_id, now(), attachment_limit=_attachment_limit())
        s.commit()
        if done is not None:
            body.update(outcome=done.outcome, incident=done.incident_id)
    return jsonify(body), 202


def _attachment_limit() -> int:
    return int(current_app.config.get("MAIL_ATTACHMENT_MAX_BYTES") or 10 * 1024 * 1024)


def _raw_body() -> bytes:
    request.max_content_length = _limit()
    if (request.mimetype or "") not in ("message/rfc822", "application/octet-stream", "text/plain"):
        fail(415, "send the message as it was received, with Content-Type: message/rfc822")
    return request.get_data(cache=True)


@bp.post("/api/v1/intake/email/<key>")
@exempt
def inbound_raw(key: str) -> Any:
    target = _authenticate("email", key)
    return _accept(target, _raw_body(), request.headers.get("X-Envelope-From"), "http")


@bp.post("/api/v1/intake/email")
@exempt
def inbound_raw_header() -> Any:
    target = _authenticate("email", _key_from_headers())
    return _accept(target, _raw_body(), request.headers.get("X-Envelope-From"), "http")


@bp.post("/api/v1/intake/email/<key>/<provider>")
@exempt
def inbound_provider(key: str, provider: str) -> Any:
    """SendGrid Inbound Parse with "POST the raw, full MIME message" (field `email`, envelope in
    `envelope`), or a Mailgun route forwarding to a URL ending in /mime (field `body-mime`)."""
    if provider not in ("sendgrid", "mailgun"):
        fail(404, "unknown provider; one of sendgrid, mailgun")
    request.max_content_length = _limit()
    target = _authenticate("email", key)
    if not request.form:
        fail(415, "send the provider's form (multipart/form-data or application/x-www-form-urlencoded)")
    if provider == "sendgrid":
        raw, mail_from = request.form.get("email", ""), None
        try:
            mail_from = json.loads(request.form.get("envelope") or "{}").get("from")
        except (ValueError, AttributeError):
            fail(400, "envelope must be SendGrid's JSON object")
        if not raw:
            fail(400, "no `email` field: turn on \"POST the raw, full MIME message\" in SendGrid's Inbound Parse")
    else:
        raw, mail_from = request.form.get("body-mime", ""), request.form.get("sender")
        if not raw:
            fail(400, "no `body-mime` field: forward the Mailgun route to this URL ending in /mailgun (MIME)")
    return _accept(target, raw.encode("utf-8", "surrogateescape"), mail_from, provider)


# --- an incident's messages ----------------------------------------------------------------------


def _incident_for_staff(incident_id: int) -> Incident:
    s = db_session()
    return access.check_act_on_incident(s, user(), s.get(Incident, incident_id))


@bp.get("/api/v1/incidents/<int:incident_id>/mails")
@login_required
def incident_mails(incident_id: int) -> Any:
    inc = _incident_for_staff(incident_id)
    s = db_session()
    rows = s.query(InboundMail).filter(InboundMail.incident_id == inc.id).order_by(InboundMail.id).all()
    atts = s.query(MailAttachment).filter(MailAttachment.incident_id == inc.id).order_by(MailAttachment.id).all()
    return jsonify({"mails": [{
        "id": m.id, "received_at": m.received_at.isoformat(), "from": m.sender, "subject": m.subject,
        "outcome": m.outcome, "text": m.text, "parse_error": m.parse_error, "size": m.size,
        "raw_url": url_for("mail.raw_source", incident_id=inc.id, mail_id=m.id),
        "attachments": [{"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size,
                         "kept": a.data is not None,
                         "url": url_for("mail.attachment", incident_id=inc.id, attachment_id=a.id) if a.data is not None else None}
                        for a in atts if a.mail_id == m.id],
    } for m in rows]})


@bp.get("/incidents/<int:incident_id>/mails/<int:mail_id>/raw")
@login_required
def raw_source(incident_id: int, mail_id: int) -> Any:
    inc = _incident_for_staff(incident_id)
    s = db_session()
    m = s.get(InboundMail, mail_id)
    if m is None or m.incident_id != inc.id:
        fail(404, "no such message on this incident")
    audit.record(s, "mail.raw_viewed", actor=user(), client_id=inc.client_id, incident_id=inc.id, at=now(),
                 target=f"mail:{m.id}")
    s.commit()
    # As text, never as HTML: a client's message must not run in an engineer's browser.
    return Response(m.raw, mimetype="text/plain", headers={
        "Content-Disposition": f'inline; filename="message-{m.id}.eml"', "X-Content-Type-Options": "nosniff"})


@bp.get("/incidents/<int:incident_id>/attachments/<int:attachment_id>")
@login_required
def attachment(incident_id: int, attachment_id: int) -> Any:
    inc = _incident_for_staff(incident_id)
    s = db_session()
    a = s.get(MailAttachment, attachment_id)
    if a is None or a.incident_id != inc.id:
        fail(404, "no such attachment on this incident")
    if a.data is None:
        fail(410, f"{a.filename} was over the attachment limit: it was listed, not kept")
    audit.record(s, "mail.attachment_downloaded", actor=user(), client_id=inc.client_id, incident_id=inc.id,
                 at=now(), target=f"attachment:{a.id}", filename=a.filename)
    s.commit()
    # Always a download (never rendered here), whatever type the sender claimed.
    return Response(a.data, mimetype="application/octet-stream", headers={
        "Content-Disposition": _disposition(a.filename), "X-Content-Type-Options": "nosniff"})


def _disposition(name: str) -> str:
    from urllib.parse import quote

    ascii_name = name.encode("ascii", "replace").decode().replace('"', "'")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


@bp.post("/api/v1/incidents/<int:incident_id>/client-mail")
@login_required
def write_to_client(incident_id: int) -> Any:
    body = optional_json_object()
    s = db_session()
    out = incidents.write_to_client(s, incident_id, Actor.of(user()), body.get("text"), now(),
                                    reply_domain=_domain() or "")
    s.commit()
    return outcome_response(out)


# --- the client's address and rules (managers) ----------------------------------------------------


def _client(client_id: int) -> Client:
    return access.check_manage_client(db_session(), user(), client_id)


@bp.get("/api/v1/clients/<int:client_id>/mail")
@login_required
def settings_api(client_id: int) -> Any:
    c = _client(client_id)
    s = db_session()
    out = client_mail.settings_of(s, c, _domain())
    out["held"] = [_held(m) for m in client_mail.held(s, c.id)]
    return jsonify(out)


def _held(m: InboundMail) -> dict[str, Any]:
    return {"id": m.id, "received_at": m.received_at.isoformat(), "from": m.sender, "subject": m.subject,
            "why": m.verdict}


@bp.put("/api/v1/clients/<int:client_id>/mail")
@login_required
def settings_save(client_id: int) -> Any:
    c = _client(client_id)
    body = optional_json_object()
    s = db_session()
    client_mail.save(s, user(), c, body, now())
    s.commit()
    return jsonify(client_mail.settings_of(s, c, _domain()))


@bp.post("/api/v1/clients/<int:client_id>/mail/held/<int:mail_id>")
@login_required
def held_decide(client_id: int, mail_id: int) -> Any:
    c = _client(client_id)
    body = optional_json_object()
    return jsonify(_decide(c, mail_id, body.get("action")))


def _decide(c: Client, mail_id: int, action: Any) -> dict[str, Any]:
    s = db_session()
    if action == "discard":
        client_mail.discard(s, user(), c.id, mail_id, now())
        s.commit()
        return {"outcome": "discarded"}
    if action != "release":
        raise ActionError("action: release or discard", 400)
    m = s.get(InboundMail, mail_id)
    if m is None or m.client_id != c.id or m.status != "held":
        raise ActionError("no such held message", 404)
    audit.record(s, "mail.released", actor=user(), client_id=c.id, at=now(), target=f"mail:{m.id}")
    done = incidents.release_mail(s, m.id, now(), attachment_limit=_attachment_limit())
    s.commit()
    return {"outcome": "released", "incident": done.incident_id if done else None}


@bp.route("/clients/<int:client_id>/mail", methods=["GET", "POST"])
@login_required
def settings_page(client_id: int) -> Any:
    c = _client(client_id)
    s = db_session()
    error, status = None, 200
    if request.method == "POST":
        try:
            if request.form.get("held"):
                _decide(c, int(request.form["held"]), request.form.get("action"))
                flash("Done.", "ok")
            else:
                form = {k: request.form.get(k, "") for k in ("local_part", "allowed_senders", "unknown_senders",
                                                             "reopen_days", "rate_per_hour", "default_service_id")}
                form["enabled"] = "on" if request.form.get("enabled") else "off"
                client_mail.save(s, user(), c, form, now())
                s.commit()
                flash("E-mail settings saved.", "ok")
            return redirect(url_for("mail.settings_page", client_id=c.id))
        except ActionError as e:
            s.rollback()
            error, status = e.message, e.status
    settings = client_mail.settings_of(s, c, _domain())
    return render_template("client_mail.html", client=c, settings=settings, held=client_mail.held(s, c.id),
                           error=error), status
