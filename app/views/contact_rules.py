"""The screen for being reached: my phone numbers and e-mail addresses (add, remove, verify with
a test sent through the engine, each one's last success and failure), and my notification rules
per urgency and per time window of my own zone. Server-rendered forms on the notification API's
functions (notify/contacts.py), so they work without JavaScript."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select

from ..access import check_paged
from ..errors import ActionError
from ..models import Notification
from ..notify import contacts
from ..notify.channels import channels
from ..web import db_session, now, user

bp = Blueprint("contact_rules", __name__, url_prefix="/settings/contact")
URGENCIES = (("high", "High urgency"), ("low", "Low urgency"))


@bp.before_request
def only_people_who_are_paged() -> None:
    from flask_login import current_user

    if current_user.is_authenticated:
        check_paged(user())


def groups(u: Any) -> dict[str, list[dict[str, Any]]]:
    """My rules by urgency, then by window: [{start, end, kinds: {kind: delay}}], all day first."""
    out: dict[str, list[dict[str, Any]]] = {"high": [], "low": []}
    for r in sorted(u.notification_rules, key=lambda r: (r.window_start is not None, r.window_start or 0)):
        start = contacts.hhmm(r.window_start) if r.window_start is not None else ""
        end = contacts.hhmm(r.window_end) if r.window_end is not None else ""
        found = next((g for g in out[r.urgency] if (g["start"], g["end"]) == (start, end)), None)
        if found is None:
            found = {"start": start, "end": end, "kinds": {}}
            out[r.urgency].append(found)
        found["kinds"][r.kind] = r.delay_minutes
    return out


def last_tests(u: Any) -> dict[int, Notification]:
    """Each of my methods' latest test notification: what the page says about the last test."""
    rows = db_session().execute(select(Notification).where(
        Notification.user_id == u.id, Notification.purpose == "test").order_by(Notification.id)).scalars()
    return {n.contact_method_id: n for n in rows if n.contact_method_id}


def _page(error: str | None = None, status: int = 200) -> Any:
    u = user()
    return render_template("contact_rules.html", methods=[m for m in u.contact_methods if m.kind != "push"],
                           devices=[m for m in u.contact_methods if m.kind == "push"], groups=groups(u),
                           urgencies=URGENCIES, kinds=contacts.KINDS, error=error,
                           ready={c.key: c for c in channels(current_app.config, db_session())}, tests=last_tests(u),
                           delays=(0, 1, 2, 5, 10, 15, 30, 60)), status


@bp.get("")
@login_required
def page() -> Any:
    return _page()


@bp.post("/methods")
@login_required
def add() -> Any:
    s = db_session()
    try:
        m, created = contacts.add_method(s, user(), {k: request.form.get(k) for k in ("kind", "address", "label")},
                                         now())
    except ActionError as e:
        s.rollback()
        return _page(e.message, e.status)
    s.commit()
    # Sentences start with a word, not the address: the flash's first letter is drawn as a capital.
    flash(f"Added {m.address}: send it a test to check it works." if created else f"Already there: {m.address}.",
          "ok")
    return redirect(url_for("contact_rules.page"))


@bp.post("/methods/<int:method_id>/delete")
@login_required
def remove(method_id: int) -> Any:
    s = db_session()
    m = contacts.mine(s, user(), method_id)
    s.delete(m)
    s.commit()
    flash(f"Removed {m.address if m.kind != 'push' else m.label or 'the device'}.", "ok")
    return redirect(url_for("contact_rules.page"))


@bp.post("/methods/<int:method_id>/test")
@login_required
def test(method_id: int) -> Any:
    s = db_session()
    try:
        contacts.queue_test(s, user(), method_id, now())
    except ActionError as e:
        s.rollback()
        if e.status == 404:
            raise
        flash(e.message, "error")
        return redirect(url_for("contact_rules.page"))
    s.commit()
    flash("Test queued: it should arrive within seconds; this page shows whether it did.", "ok")
    return redirect(url_for("contact_rules.page"))


def rules_from(form: Any) -> list[dict[str, Any]]:
    """The rules form: per urgency, numbered windows, each with its start and end (both empty:
    all day) and, per channel, a tick and a delay."""
    rules: list[dict[str, Any]] = []
    for urgency, _ in URGENCIES:
        for i in range(int(form.get(f"{urgency}_count", "0") or 0) if form.get(f"{urgency}_count", "").isdigit() else 0):
            key = f"{urgency}_{i}"
            start, end = (form.get(f"{key}_start") or "").strip(), (form.get(f"{key}_end") or "").strip()
            window = {"start": start, "end": end} if start or end else None
            for kind in contacts.KINDS:
                if form.get(f"{key}_{kind}"):
                    delay = form.get(f"{key}_{kind}_delay", "0")
                    rules.append({"urgency": urgency, "kind": kind, "window": window,
                                  "delay_minutes": int(delay) if delay.isdigit() else delay})
    return rules


@bp.post("/rules")
@login_required
def save_rules() -> Any:
    s = db_session()
    try:
        contacts.set_rules(s, user(), rules_from(request.form))
    except ActionError as e:
        s.rollback()
        return _page(e.message, e.status)
    s.commit()
    flash("Notification rules saved.", "ok")
    return redirect(url_for("contact_rules.page"))
