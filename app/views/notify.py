"""The JSON API for being reached: the VAPID key and push subscriptions (called by the PWA),
contact methods, notification rules, test notifications and their delivery records."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_login import current_user, login_required

from ..access import check_paged
from ..models import Notification
from ..notify import contacts, vapid
from ..web import db_session, fail, json_body, now, user

bp = Blueprint("notify", __name__, url_prefix="/api/v1")


@bp.before_request
def only_people_who_are_paged() -> None:
    if current_user.is_authenticated:  # the anonymous are left to login_required: 401
        check_paged(user())


@bp.get("/push/vapid-public-key")
@login_required
def vapid_public_key() -> Any:
    s = db_session()
    try:
        keys = vapid.load_or_create(s, now())
    except vapid.VapidError as e:
        fail(503, str(e))
    s.commit()
    return jsonify({"public_key": keys.public_key})


@bp.post("/push/subscriptions")
@login_required
def subscribe() -> Any:
    s = db_session()
    m, created = contacts.subscribe_push(
        s, user(), json_body(), user_agent=request.headers.get("User-Agent", ""), now=now(),
        allow_loopback=bool(current_app.config.get("PUSH_ALLOW_LOOPBACK")))
    s.commit()
    return jsonify({"id": m.id, "label": m.label, "created_at": m.created_at.isoformat()}), 201 if created else 200


@bp.get("/push/subscriptions")
@login_required
def subscriptions() -> Any:
    keep = ("id", "label", "user_agent", "created_at", "last_success_at", "enabled", "disabled_reason")
    return jsonify({"subscriptions": [{k: v for k, v in contacts.method_view(m).items() if k in keep}
                                      for m in user().contact_methods if m.kind == "push"]})


@bp.delete("/push/subscriptions/<int:method_id>")
@login_required
def unsubscribe(method_id: int) -> Response:
    return _remove(method_id, "push")


@bp.get("/me/contact-methods")
@login_required
def contact_methods() -> Any:
    return jsonify({"contact_methods": [contacts.method_view(m) for m in user().contact_methods]})


@bp.post("/me/contact-methods")
@login_required
def add_contact_method() -> Any:
    s = db_session()
    m, created = contacts.add_method(s, user(), json_body(), now())
    s.commit()
    return jsonify({"contact_method": contacts.method_view(m)}), 201 if created else 200


@bp.delete("/me/contact-methods/<int:method_id>")
@login_required
def remove_contact_method(method_id: int) -> Response:
    return _remove(method_id)


def _remove(method_id: int, kind: str | None = None) -> Response:
    s = db_session()
    s.delete(contacts.mine(s, user(), method_id, kind))
    s.commit()
    return Response(status=204)


@bp.post("/me/contact-methods/<int:method_id>/test")
@login_required
def test_contact_method(method_id: int) -> Any:
    s = db_session()
    n = contacts.queue_test(s, user(), method_id, now())
    s.commit()
    return jsonify({"notification": n.id}), 202


@bp.get("/me/notifications/<int:notification_id>")
@login_required
def notification(notification_id: int) -> Any:
    n = db_session().get(Notification, notification_id)
    if n is None or n.user_id != user().id:
        fail(404, "no such notification")
    return jsonify({"notification": contacts.notification_view(n)})


@bp.get("/me/notification-rules")
@login_required
def rules() -> Any:
    return jsonify(contacts.rules_view(user()))


@bp.put("/me/notification-rules")
@login_required
def set_rules() -> Any:
    body = json_body(require_object=False)
    s = db_session()
    contacts.set_rules(s, user(), body.get("rules") if isinstance(body, dict) else body)
    s.commit()
    return jsonify(contacts.rules_view(user()))
