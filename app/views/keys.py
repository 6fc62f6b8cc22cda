"""Integration keys of a service (managers and admins): create (shown once), revoke."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select

from .. import access, audit
from ..intake.keys import SOURCES, create_key, revoke
from ..models import IntegrationKey, Service
from ..web import db_session, now, user
from ..web.httpsec import no_store

bp = Blueprint("keys", __name__)


def _service(service_id: int) -> Service:
    s = db_session()
    svc = s.get(Service, service_id)
    if svc is None:
        abort(404)
    access.check_manage_client(s, user(), svc.client_id)
    return svc


def _keys(svc: Service) -> list[IntegrationKey]:
    return list(db_session().execute(
        select(IntegrationKey).where(IntegrationKey.service_id == svc.id)
        .order_by(IntegrationKey.revoked_at.is_not(None), IntegrationKey.id.desc())
    ).scalars())


@bp.get("/services/<int:service_id>/keys")
@login_required
def key_list(service_id: int) -> Any:
    svc = _service(service_id)
    return render_template("keys.html", svc=svc, keys=_keys(svc), sources=SOURCES, created=None)


@bp.post("/services/<int:service_id>/keys")
@login_required
def key_create(service_id: int) -> Any:
    svc = _service(service_id)
    s = db_session()
    source = request.form.get("source", "")
    name = request.form.get("name", "").strip()[:120]
    try:
        row, plain = create_key(s, svc, source, now=now(), name=name)
    except ValueError as e:
        flash(str(e), "error")
        return redirect(url_for("keys.key_list", service_id=svc.id))
    s.flush()
    audit.record(s, "key.created", actor=user(), client_id=svc.client_id, at=now(), target=f"key:{row.id}",
                 name=row.name, prefix=row.key_prefix, source=source, service=svc.name)
    s.commit()
    no_store()
    return render_template("keys.html", svc=svc, keys=_keys(svc), sources=SOURCES,
                           created=(row, plain)), 201


@bp.post("/services/<int:service_id>/keys/<int:key_id>/revoke")
@login_required
def key_revoke(service_id: int, key_id: int) -> Any:
    svc = _service(service_id)
    s = db_session()
    row = s.get(IntegrationKey, key_id)
    if row is None or row.service_id != svc.id:
        abort(404)
    if row.revoked_at is None:
        revoke(s, row, now())
        audit.record(s, "key.revoked", actor=user(), client_id=svc.client_id, at=now(), target=f"key:{row.id}",
                     name=row.name, prefix=row.key_prefix, service=svc.name)
        s.commit()
        flash(f"Key {row.key_prefix}… revoked: this server refuses it now, every server within a few seconds.", "ok")
    return redirect(url_for("keys.key_list", service_id=svc.id))
