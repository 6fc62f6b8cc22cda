"""Runbook pages: read (rendered Markdown), and write for managers."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from .. import access
from ..clients import runbooks
from ..models import Client, Runbook
from ..web import db_session, now, user

bp = Blueprint("runbooks", __name__)


def _client(slug: str) -> Client:
    return access.client_by_slug(db_session(), user(), slug)


@bp.get("/runbooks/<int:runbook_id>")
@login_required
def show(runbook_id: int) -> Any:
    rb = runbooks.get(db_session(), user(), runbook_id)
    return render_template("runbook.html", rb=rb, client=db_session().get(Client, rb.client_id),
                           staff=access.is_staff(user()))


@bp.route("/clients/<slug>/runbooks/new", methods=["GET", "POST"])
@bp.route("/runbooks/<int:runbook_id>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str | None = None, runbook_id: int | None = None) -> Any:
    s = db_session()
    rb: Runbook | None = runbooks.get(s, user(), runbook_id) if runbook_id else None
    client = s.get(Client, rb.client_id) if rb else _client(slug or "")
    access.check_manage_client(s, user(), client.id)
    error = None
    if request.method == "POST":
        f = request.form
        try:
            service_id = int(f["service_id"]) if f.get("service_id") else None
            rb = runbooks.save(s, user(), client.id, title=f.get("title", ""), body=f.get("body", ""),
                               service_id=service_id, now=now(), runbook=rb)
            s.commit()
            flash("Runbook saved.", "ok")
            return redirect(url_for("runbooks.show", runbook_id=rb.id))
        except (runbooks.RunbookError, ValueError) as e:
            s.rollback()
            error = str(e)
    return render_template("runbook_form.html", rb=rb, client=client, error=error, form=request.form), (400 if error else 200)


@bp.post("/runbooks/<int:runbook_id>/delete")
@login_required
def delete(runbook_id: int) -> Any:
    s = db_session()
    rb = runbooks.get(s, user(), runbook_id)
    slug = s.get(Client, rb.client_id).slug  # type: ignore[union-attr]
    runbooks.delete(s, user(), rb, now())
    s.commit()
    flash("Runbook deleted.", "ok")
    return redirect(url_for("connections.client_page", slug=slug))
