"""Webhooks from the SMS/voice provider: SMS replies, the paging call's script and its key
presses, delivery reports. Each one is authenticated by its X-Twilio-Signature, computed over
VIGIL_BASE_URL + path (the public URL the provider was given) and the posted form."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request

from ..answers import calls, links, receipts, replies
from ..notify import twiml
from ..notify.twilio import signature_ok
from ..web import db_session, exempt, now

bp = Blueprint("twilio", __name__, url_prefix="/twilio")


@bp.before_request
def verify() -> Response | None:
    config = current_app.config
    if not config.get("TWILIO_AUTH_TOKEN"):
        return _text("SMS and voice are not configured on this server", 404)
    url = str(config.get("BASE_URL", "")).rstrip("/") + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    params = list(request.form.items(multi=True))
    if not signature_ok(config, url, params, request.headers.get("X-Twilio-Signature")):
        return _text("invalid X-Twilio-Signature", 403)
    if request.form.get("AccountSid") != config.get("TWILIO_ACCOUNT_SID"):
        return _text("this request is for another account", 403)
    return None


def _text(body: str, status: int) -> Response:
    return Response(body + "\n", status=status, mimetype="text/plain")


def _twiml(xml: str) -> Response:
    return Response(xml, mimetype="text/xml")


def _base() -> str:
    return str(current_app.config.get("BASE_URL", ""))


@bp.post("/sms")
@exempt
def sms() -> Any:
    sid = request.form.get("MessageSid") or request.form.get("SmsSid")
    if not sid:
        return _text("MessageSid is required", 400)
    s = db_session()
    try:
        text = replies.handle(s, message_sid=sid, sender=request.form.get("From", ""),
                              body=request.form.get("Body", ""), now=now())
    except replies.Replayed:
        s.rollback()
        return _text(f"message {sid} was already handled", 409)
    s.commit()
    return _twiml(twiml.message(text))


@bp.post("/voice/<token>")
@exempt
def voice(token: str) -> Any:
    round_ = request.args.get("round", "1")
    tok = links.find(db_session(), token)
    return _twiml(calls.script(tok, token, now(), _base(), int(round_) if round_.isdecimal() else 1))


@bp.post("/voice/<token>/gather")
@exempt
def gather(token: str) -> Any:
    s = db_session()
    xml = calls.gathered(s, token, request.form.get("Digits", ""), request.form.get("CallSid", ""), now(), _base())
    s.commit()
    return _twiml(xml)


@bp.post("/status/<int:notification_id>")
@exempt
def status(notification_id: int) -> Any:
    form = request.form
    s = db_session()
    receipts.report(s, notification_id, form.get("MessageSid") or form.get("CallSid") or "",
                    form.get("MessageStatus") or form.get("CallStatus") or "", form.get("ErrorCode", ""), now())
    s.commit()
    return Response(status=204)
