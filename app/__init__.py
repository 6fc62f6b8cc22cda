"""Vigil: on-call and incident response for managed-services teams.

create_app(config) builds the Flask app: settings, the database, the clock, the event bus,
login, CSRF, blueprints and the WebSocket route.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask

from . import config as settings
from .batching import GroupCommit
from .clock import Clock, SystemClock
from .db import Database

ROOT = settings.ROOT


@dataclass
class Vigil:
    """What the app holds for its requests: one per process."""

    db: Database
    clock: Clock
    bus: Any  # live.EventBus
    intake: GroupCommit  # intake's writes, committed together in a storm


def _secret_key(instance: Path) -> str:
    """A secret kept in the instance folder, created on first start (sessions survive restarts)."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        with open(path, "x") as f:  # "x": two workers starting at once keep the first key
            f.write(key)
        path.chmod(0o600)
    except FileExistsError:
        return path.read_text().strip()
    return key


def create_app(config: dict[str, Any] | None = None) -> Flask:
    conf = settings.load()
    conf.update(config or {})
    # The web stack is imported here, not at the top: every `import app.<module>` (alembic's
    # env.py, the tests, bench/) runs this file first, and most of them never build an app.
    from .notify.vapid import check_settings

    check_settings(conf)  # a VAPID subject push services would refuse stops the start, loudly
    from .web import App

    app = App(
        __name__,
        static_folder=str(ROOT / "static"),
        template_folder=str(ROOT / "templates"),
        instance_path=conf["INSTANCE_PATH"],
    )
    app.config.update(conf)
    app.config["SECRET_KEY"] = conf.get("SECRET_KEY") or _secret_key(Path(conf["INSTANCE_PATH"]))
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # tied to the session instead
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked in web.protect_csrf
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(levelname)s %(message)s")

    from .accounts.users import use_hash_profile

    use_hash_profile(conf["PASSWORD_PROFILE"])
    db = conf.get("DATABASE") or Database(conf["DATABASE_URL"])
    clock = conf.get("CLOCK") or SystemClock()
    from .live.bus import EventBus

    bus = conf.get("BUS") or EventBus(db, redis_url=conf.get("REDIS_URL"), poll=conf["EVENT_POLL_SECONDS"])
    app.extensions["vigil"] = Vigil(db=db, clock=clock, bus=bus, intake=GroupCommit(db.session))

    from . import web
    from .views.heartbeats import PingPath

    app.wsgi_app = PingPath(app.wsgi_app, app.extensions["vigil"])  # type: ignore[method-assign]
    web.init_app(app)  # after: its ProxyFix, if any, wraps the ping URLs too
    from .views import register

    register(app)

    if conf.get("ENGINE_MODE") == "inline" and not conf.get("TESTING"):
        from .engine.runner import start_inline

        start_inline(app)
    return app
