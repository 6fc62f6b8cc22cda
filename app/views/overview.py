"""The manager's first screen (the overview, at "/" for managers and admins) and everyone's own
on-call screen (/on-call: the engineer's home, which a manager who takes shifts also needs)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template
from flask_login import login_required

from .. import overview, timefmt
from ..access import require_role
from ..models import Role
from ..web import db_session, now, user

bp = Blueprint("overview", __name__)


def overview_page() -> Any:
    u = user()
    require_role(u, Role.admin, Role.manager)
    data = overview.build(db_session(), u, now(), timefmt.zone(u.timezone), current_app.config["ENGINE_STALE_SECONDS"])
    return render_template("overview.html", o=data, now=now())


@bp.get("/on-call")
@login_required
def my_oncall() -> Any:
    from ..home import build

    return render_template("home.html", home=build(db_session(), user(), now()), now=now())
