"""The installable app: manifest, service worker (served at the root scope), offline shell."""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, url_for

from ..config import ROOT

bp = Blueprint("pwa", __name__)

SW_SOURCE = ROOT / "service_worker" / "sw.js"


@cache
def asset_version() -> str:
    """Changes whenever the worker or any static file changes: the worker's cache is named
    after it, so a deploy replaces the cached app shell instead of serving a stale one."""
    h = hashlib.sha256(SW_SOURCE.read_bytes())
    for path in sorted((ROOT / "static").rglob("*")):
        if path.is_file():
            h.update(path.relative_to(ROOT).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


@bp.get("/manifest.webmanifest")
def manifest() -> Any:
    body = {
        "name": "Vigil on-call",
        "short_name": "Vigil",
        "description": "On-call and incident response",
        "id": "/",
        "start_url": "/?source=pwa",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#0b1020",
        "theme_color": "#0b1020",
        "icons": [
            {"src": url_for("static", filename="icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": url_for("static", filename="icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {"src": url_for("static", filename="icons/icon-maskable-512.png"), "sizes": "512x512",
             "type": "image/png", "purpose": "maskable"},
        ],
    }
    resp = jsonify(body)
    resp.mimetype = "application/manifest+json"
    return resp


@bp.get("/sw.js")
def service_worker() -> Response:
    source = SW_SOURCE.read_text().replace("__VERSION__", asset_version())
    resp = Response(source, mimetype="text/javascript")
    resp.headers["Service-Worker-Allowed"] = "/"
    resp.headers["Cache-Control"] = "no-cache"  # browsers must see a new worker at once
    return resp


@bp.get("/offline")
def offline() -> Any:
    """The shell the worker shows when a page was never seen and the network is gone."""
    return render_template("offline.html")


@bp.app_context_processor
def pwa_context() -> dict[str, Any]:
    return {"asset_version": asset_version(), "app_name": current_app.config.get("APP_NAME", "Vigil")}
