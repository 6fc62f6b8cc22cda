"""GET /metrics for Prometheus: from the allow-list (loopback by default) or with the token."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST

from ..reports import metrics
from ..web import db_session, now

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Any:
    if not metrics.allowed(request.remote_addr, request.headers.get("Authorization"), current_app.config):
        return Response("metrics need the token (Authorization: Bearer, VIGIL_METRICS_TOKEN) from this address\n",
                        status=401, mimetype="text/plain", headers={"WWW-Authenticate": "Bearer"})
    return Response(metrics.scrape(db_session(), now()), mimetype=CONTENT_TYPE_LATEST)
