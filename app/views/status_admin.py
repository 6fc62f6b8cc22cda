"""Clients' status pages, engineers' side: the page's settings, secret link and webhooks
(managers), the components' states by hand, maintenance windows, and the public updates written
from the incident screen. JSON under /api/v1 and the matching forms."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required

from .. import access
from ..errors import ActionError, Denied
from ..models import Incident, Role
from ..status import components, maintenance, pages, snapshot, subscribers, updates, webhooks
from ..web import db_session, json_body, now, user
from ..web.httpsec import no_store

bp = Blueprint("status_admin", __name__)
api = Blueprint("status_api", __name__, url_prefix="/api/v1")


def _config() -> tuple[str, str]:
    return current_app.config.get("BASE_URL") or request.host_url.rstrip("/"), current_app.config["SECRET_KEY"]


def _check_engineer(client_id: int) -> None:
    s = db_session()
    if not access.can_see_client(s, user(), client_id):
        raise Denied("client not found", 404)
    access.check_client_exists(s, client_id)
    if not user().has_role(Role.admin, Role.manager, Role.engineer):
        raise Denied("client viewers read the status page itself")


def _window_dict(w: Any) -> dict[str, Any]:
    return {"id": w.id, "public_id": w.public_id, "title": w.title, "body": w.body, "service_ids": w.service_ids,
            "starts_at": w.starts_at.isoformat(), "ends_at": w.ends_at.isoformat(), "hold_pages": w.hold_pages,
            "state": w.state}


# --- JSON -------------------------------------------------------------------------------------


@api.get("/clients/<int:client_id>/status")
@login_required
def status_json(client_id: int) -> Any:
    _check_engineer(client_id)
    s = db_session()
    client = access.check_client_exists(s, client_id)
    page = pages.page_of(s, client, now())
    base, secret = _config()
    return {"visibility": page.visibility, "title": page.title, "color": page.color, "logo_url": page.logo_url,
            "url": f"{base}/status/{client.slug}", "subscribers": subscribers.count(s, client.id),
            "page": snapshot.build(s, client, page, now(), base_url=base, secret_key=secret),
            "maintenance": [_window_dict(w) for w in maintenance.listing(s, user(), client.id, now())]}


@api.put("/clients/<int:client_id>/status")
@login_required
def configure_json(client_id: int) -> Any:
    s = db_session()
    page = pages.configure(s, user(), client_id, json_body(), now())
    s.commit()
    return {"visibility": page.visibility, "title": page.title, "color": page.color, "logo_url": page.logo_url}


@api.post("/clients/<int:client_id>/status/secret")
@login_required
def secret_json(client_id: int) -> Any:
    s = db_session()
    secret = pages.new_secret(s, user(), client_id, now())
    client = access.check_client_exists(s, client_id)
    s.commit()
    no_store()
    return {"url": f"{_config()[0]}/status/{client.slug}?key={secret}"}, 201


def _allow_private() -> bool:
    return bool(current_app.config.get("STATUS_WEBHOOK_ALLOW_PRIVATE"))


def _webhook_dict(sub: Any) -> dict[str, Any]:
    return {"id": sub.id, "url": webhooks.shown(sub.address), "created_at": sub.created_at.isoformat()}


@api.get("/clients/<int:client_id>/status/webhooks")
@login_required
def webhooks_json(client_id: int) -> Any:
    s = db_session()
    client = access.check_manage_client(s, user(), client_id)
    return {"webhooks": [_webhook_dict(w) for w in webhooks.listing(s, client.id)]}


@api.post("/clients/<int:client_id>/status/webhooks")
@login_required
def new_webhook_json(client_id: int) -> Any:
    s = db_session()
    sub, secret = webhooks.add(s, user(), client_id, json_body().get("url"), now(), _config()[1], _allow_private())
    s.commit()
    no_store()
    return {**_webhook_dict(sub), "secret": secret}, 201


@api.delete("/status-webhooks/<int:webhook_id>")
@login_required
def remove_webhook_json(webhook_id: int) -> Any:
    s = db_session()
    sub = webhooks.remove(s, user(), webhook_id, now())
    s.commit()
    return _webhook_dict(sub)


@api.put("/services/<int:service_id>/status")
@login_required
def component_json(service_id: int) -> Any:
    s = db_session()
    comp = components.change(s, user(), service_id, json_body(), now())
    s.commit()
    return {"service_id": comp.service_id, "override": comp.override, "name": comp.name, "hidden": comp.hidden,
            "description": comp.description, "position": comp.position}


@api.post("/incidents/<int:incident_id>/public-updates")
@login_required
def public_update_json(incident_id: int) -> Any:
    s = db_session()
    upd = updates.post(s, user(), incident_id, json_body(), now(), *_config())
    s.commit()
    return {"id": upd.public_id, "status": upd.status, "title": upd.title, "body": upd.body,
            "created_at": upd.created_at.isoformat()}, 201


@api.get("/clients/<int:client_id>/maintenance")
@login_required
def maintenance_json(client_id: int) -> Any:
    _check_engineer(client_id)
    return {"maintenance": [_window_dict(w) for w in maintenance.listing(db_session(), user(), client_id, now())]}


@api.post("/clients/<int:client_id>/maintenance")
@login_required
def new_maintenance_json(client_id: int) -> Any:
    s = db_session()
    w = maintenance.create(s, user(), client_id, json_body(), now(), *_config())
    s.commit()
    return _window_dict(w), 201


@api.post("/maintenance/<int:window_id>/<action>")
@login_required
def maintenance_action_json(window_id: int, action: str) -> Any:
    s = db_session()
    if action not in ("start", "end"):
        raise ActionError("the actions are start and end", 404)
    w = (maintenance.start_now if action == "start" else maintenance.end_now)(s, user(), window_id, now())
    s.commit()
    return _window_dict(w)


# --- the screens --------------------------------------------------------------------------------


@bp.get("/clients/<slug>/status")
@login_required
def admin_page(slug: str) -> Any:
    s = db_session()
    client = access.client_by_slug(s, user(), slug)
    _check_engineer(client.id)
    return _admin(client)


def _admin(client: Any, created: tuple[Any, str] | None = None) -> Any:
    s = db_session()
    page = pages.page_of(s, client, now())
    base, secret = _config()
    snap = snapshot.build(s, client, page, now(), base_url=base, secret_key=secret)
    comps = [(svc, c, shown) for (svc, c), shown in zip(components.of_client(s, client.id),
                                                        _states(snap, s, client.id), strict=True)]
    staff = access.is_staff(user())
    return render_template("status/admin.html", client=client, page=page, snap=snap, comps=comps,
                           windows=maintenance.listing(s, user(), client.id, now()), staff=staff,
                           hooks=webhooks.listing(s, client.id) if staff else [], shown=webhooks.shown,
                           created=created, subscribers=subscribers.count(s, client.id),
                           url=f"{base}/status/{client.slug}")


def _states(snap: dict[str, Any], s: Any, client_id: int) -> list[str]:
    by_name = {c["name"]: c["status"] for c in snap["components"]}
    return [by_name.get(c.name if c and c.name else svc.name, "hidden") for svc, c in components.of_client(s, client_id)]


def _back(slug: str, message: str, category: str = "ok") -> Any:
    flash(message, category)
    return redirect(url_for("status_admin.admin_page", slug=slug))


@bp.post("/clients/<slug>/status/settings")
@login_required
def settings_form(slug: str) -> Any:
    s = db_session()
    client = access.client_by_slug(s, user(), slug)
    fields = {k: request.form[k] for k in ("visibility", "title", "color", "logo_url") if k in request.form}
    try:
        pages.configure(s, user(), client.id, fields, now())
    except ActionError as e:
        return _back(slug, e.message, "error")
    s.commit()
    return _back(slug, "Status page saved.")


@bp.post("/clients/<slug>/status/webhooks")
@login_required
def webhook_form(slug: str) -> Any:
    s = db_session()
    client = access.client_by_slug(s, user(), slug)
    try:
        sub, secret = webhooks.add(s, user(), client.id, request.form.get("url", ""), now(), _config()[1],
                                   _allow_private())
    except ActionError as e:
        return _back(slug, e.message, "error")
    s.commit()
    no_store()
    return _admin(client, created=(sub, secret)), 201


@bp.post("/clients/<slug>/status/webhooks/<int:webhook_id>/delete")
@login_required
def remove_webhook_form(slug: str, webhook_id: int) -> Any:
    s = db_session()
    client = access.client_by_slug(s, user(), slug)
    sub = webhooks.remove(s, user(), webhook_id, now(), client_id=client.id)
    s.commit()
    return _back(slug, f"{webhooks.shown(sub.address)} will no longer receive the page's news.")


@bp.post("/clients/<slug>/status/components/<int:service_id>")
@login_required
def component_form(slug: str, service_id: int) -> Any:
    s = db_session()
    access.client_by_slug(s, user(), slug)
    try:
        components.change(s, user(), service_id, {"override": request.form.get("override") or None}, now())
    except ActionError as e:
        return _back(slug, e.message, "error")
    s.commit()
    return _back(slug, "Component state saved.")


@bp.post("/clients/<slug>/maintenance")
@login_required
def maintenance_form(slug: str) -> Any:
    s = db_session()
    client = access.client_by_slug(s, user(), slug)
    fields = {"title": request.form.get("title", ""), "body": request.form.get("body", ""),
              "starts_at": request.form.get("starts_at", ""), "ends_at": request.form.get("ends_at", ""),
              "service_ids": [int(i) for i in request.form.getlist("service_ids") if i.isdecimal()],
              "hold_pages": request.form.get("hold_pages") == "1"}
    try:
        maintenance.create(s, user(), client.id, fields, now(), *_config())
    except ActionError as e:
        return _back(slug, e.message, "error")
    s.commit()
    return _back(slug, "Maintenance window planned.")


@bp.post("/maintenance/<int:window_id>/<action>")
@login_required
def maintenance_action_form(window_id: int, action: str) -> Any:
    s = db_session()
    if action not in ("start", "end"):
        raise Denied("no such action", 404)
    try:
        w = (maintenance.start_now if action == "start" else maintenance.end_now)(s, user(), window_id, now())
    except ActionError as e:
        flash(e.message, "error")
        return redirect(url_for("pages.home"))
    slug = access.check_client_exists(s, w.client_id).slug
    s.commit()
    return _back(slug, "Maintenance window started." if action == "start" else "Maintenance window ended.")


@bp.post("/incidents/<int:incident_id>/public-update")
@login_required
def public_update_form(incident_id: int) -> Any:
    s = db_session()
    access.check_see_incident(s, user(), s.get(Incident, incident_id))
    fields = {k: request.form.get(k, "") for k in ("status", "title", "body")}
    try:
        updates.post(s, user(), incident_id, fields, now(), *_config())
    except ActionError as e:
        flash(e.message, "error")
        return redirect(url_for("pages.incident_detail", incident_id=incident_id))
    s.commit()
    flash("Public update posted on the client's status page.", "ok")
    return redirect(url_for("pages.incident_detail", incident_id=incident_id))
