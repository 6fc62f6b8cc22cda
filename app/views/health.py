from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from ..engine.heartbeat import engine_status
from ..web import db_session, now

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    """200 only when the database answers and an escalation engine has beaten recently:
    a silent dead engine is the one way alerts get ignored."""
    body: dict[str, Any] = {"status": "ok"}
    try:
        s = db_session()
        s.execute(text("SELECT 1"))
        ok, last = engine_status(s, now(), current_app.config["ENGINE_STALE_SECONDS"])
        s.rollback()
    except Exception as e:
        return jsonify({"status": "failing", "database": f"error: {type(e).__name__}"}), 503
    body["database"] = "ok"
    body["engine"] = {"ok": ok, "last_heartbeat": last.isoformat() if last else None}
    if not ok:
        body["status"] = "failing"
        body["message"] = "the escalation engine is not running: alerts are not being escalated"
        return jsonify(body), 503
    return jsonify(body)
