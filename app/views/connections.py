"""Connection info: the JSON API the PWA uses, and the server-rendered screens (no JavaScript)."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from .. import access
from ..clients import connections, runbooks
from ..clients.connections import KINDS, ConnectionInfoError
from ..clients.crypto import vault_for
from ..intake import heartbeat_schedule, heartbeats
from ..models import Client, ConnectionInfo
from ..web import db_session, fail, json_body, now, user
from ..web.httpsec import no_store

api = Blueprint("connections_api", __name__, url_prefix="/api/v1")
pages = Blueprint("connections", __name__)


def _api_guard(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except ConnectionInfoError as e:
        db_session().rollback()
        fail(e.status, e.message)


@api.get("/clients/<int:client_id>/connections")
@login_required
def list_json(client_id: int) -> Any:
    rows = connections.list_for_client(db_session(), user(), client_id)
    return jsonify({"connections": [connections.summary(c) for c in rows]})


@api.post("/clients/<int:client_id>/connections")
@login_required
def create_json(client_id: int) -> Any:
    s = db_session()
    access.check_manage_connections(s, user(), client_id)
    body = json_body()
    row = _api_guard(connections.create, s, vault_for(current_app), user(), client_id, body, now())
    s.commit()
    return jsonify(connections.summary(row)), 201


@api.put("/connections/<int:conn_id>")
@login_required
def update_json(conn_id: int) -> Any:
    s = db_session()
    row = s.get(ConnectionInfo, conn_id)
    if row is None:
        fail(404, "connection info not found")
    access.check_manage_connections(s, user(), row.client_id)
    body = json_body()
    row = _api_guard(connections.update, s, vault_for(current_app), user(), conn_id, body, now())
    s.commit()
    return jsonify(connections.summary(row))


@api.delete("/connections/<int:conn_id>")
@login_required
def delete_json(conn_id: int) -> Any:
    s = db_session()
    connections.delete(s, user(), conn_id, now())
    s.commit()
    return "", 204


@api.post("/connections/<int:conn_id>/reveal")
@login_required
def reveal_json(conn_id: int) -> Any:
    s = db_session()
    try:
        out = connections.reveal(s, vault_for(current_app), user(), conn_id, now(), via="api")
    except ConnectionInfoError as e:
        s.commit()  # the failed attempt stays on record
        current_app.logger.error("connection info #%s could not be decrypted (wrong encryption key?)", conn_id)
        fail(e.status, e.message)
    s.commit()
    no_store()
    return jsonify(out)


# --- screens ---------------------------------------------------------------------------------


def _client(slug: str) -> Client:
    return access.client_by_slug(db_session(), user(), slug)


@pages.get("/clients")
@login_required
def clients() -> Any:
    s = db_session()
    visible = access.visible_client_ids(s, user())
    q = s.query(Client).order_by(Client.name)
    if visible is not None:
        q = q.filter(Client.id.in_(visible))
    return render_template("clients.html", clients=q.all())


@pages.get("/clients/<slug>")
@login_required
def client_page(slug: str) -> Any:
    s = db_session()
    client = _client(slug)
    try:
        conns = connections.list_for_client(s, user(), client.id)
        shown = True
    except access.Denied:
        conns, shown = [], False  # a client viewer is not told that connection info exists
    books = [] if user().has_role("client_viewer") else runbooks.for_client(s, user(), client.id)
    return render_template("client.html", client=client, connections=conns, show_connections=shown,
                           staff=access.is_staff(user()), runbooks=books, heartbeats=_heartbeats(client.id))


def _heartbeats(client_id: int) -> list[dict[str, Any]]:
    """The client's heartbeat monitors and their state now (every service's), for its page."""
    s, at = db_session(), now()
    services = [svc.id for svc in s.get_one(Client, client_id).services]
    return [{"m": m, "state": heartbeat_schedule.status(heartbeats.schedule_of(m), m.state, m.last_ping_at,
                                                        m.last_start_at, at)}
            for m in heartbeats.monitors_of(s, services)]


@pages.post("/connections/<int:conn_id>/reveal")
@login_required
def reveal_page(conn_id: int) -> Any:
    s = db_session()
    try:
        out = connections.reveal(s, vault_for(current_app), user(), conn_id, now(), via="page")
    except ConnectionInfoError as e:
        s.commit()
        current_app.logger.error("connection info #%s could not be decrypted (wrong encryption key?)", conn_id)
        flash(e.message, "error")
        return redirect(url_for("connections.clients"))
    s.commit()
    no_store()
    client = s.get(Client, s.get(ConnectionInfo, conn_id).client_id)  # type: ignore[union-attr]
    return render_template("connection_revealed.html", c=out, client=client)


def _form_data() -> dict[str, Any]:
    data: dict[str, Any] = {k: request.form.get(k, "") for k in ("kind", "label", "host", "port", "user", "jump_host",
                                                                 "vpn_profile", "instructions")}
    data["port"] = data["port"].strip() or None
    for secret in ("password", "private_key"):  # empty: keep the stored value (never shown in the form)
        if request.form.get(secret):
            data[secret] = request.form[secret]
    if request.form.get("clear_secrets"):
        data.update(password=None, private_key=None)
    return data


@pages.route("/clients/<slug>/connections/new", methods=["GET", "POST"])
@login_required
def new_page(slug: str) -> Any:
    s = db_session()
    client = _client(slug)
    access.check_manage_connections(s, user(), client.id)
    error = None
    if request.method == "POST":
        try:
            connections.create(s, vault_for(current_app), user(), client.id, _form_data(), now())
            s.commit()
            flash("Connection info saved (encrypted).", "ok")
            return redirect(url_for("connections.client_page", slug=slug))
        except ConnectionInfoError as e:
            s.rollback()
            error = e.message
    return render_template("connection_form.html", client=client, c=None, values=request.form, kinds=KINDS,
                           error=error), (400 if error else 200)


@pages.route("/connections/<int:conn_id>/edit", methods=["GET", "POST"])
@login_required
def edit_page(conn_id: int) -> Any:
    s = db_session()
    row = s.get(ConnectionInfo, conn_id)
    if row is None:
        abort(404)
    access.check_manage_connections(s, user(), row.client_id)
    error = None
    values: Any = request.form
    if request.method == "POST":
        try:
            connections.update(s, vault_for(current_app), user(), conn_id, _form_data(), now())
            s.commit()
            flash("Connection info saved (encrypted).", "ok")
            return redirect(url_for("connections.client_page", slug=row.client.slug))
        except ConnectionInfoError as e:
            s.rollback()
            error = e.message
    else:
        # The form shows the non-secret-looking fields for editing; passwords and keys never.
        try:
            shown = connections.reveal(s, vault_for(current_app), user(), conn_id, now(), via="edit form")
        except ConnectionInfoError as e:
            s.commit()
            flash(e.message, "error")
            return redirect(url_for("connections.client_page", slug=row.client.slug))
        s.commit()
        no_store()
        values = {k: v for k, v in shown.items() if k not in ("password", "private_key")}
    return render_template("connection_form.html", client=row.client, c=row, values=values, kinds=KINDS,
                           error=error), (400 if error else 200)


@pages.post("/connections/<int:conn_id>/delete")
@login_required
def delete_page(conn_id: int) -> Any:
    s = db_session()
    row = s.get(ConnectionInfo, conn_id)
    if row is None:
        abort(404)
    slug = row.client.slug
    connections.delete(s, user(), conn_id, now())
    s.commit()
    flash("Connection info deleted.", "ok")
    return redirect(url_for("connections.client_page", slug=slug))
