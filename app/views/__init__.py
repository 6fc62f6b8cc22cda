"""Thin blueprints: check access, parse input, call one function, render or answer JSON."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from . import (
        access_reports,
        account,
        admin,
        admin_security,
        allowances,
        api,
        auth,
        connections,
        contact_rules,
        handover,
        health,
        heartbeats,
        intake,
        keys,
        links,
        live,
        mail,
        manage,
        metrics,
        monthly,
        notify,
        oncall,
        overview,
        pages,
        postmortems,
        profile,
        pwa,
        readiness,
        reports,
        runbooks,
        schedules,
        status,
        status_admin,
        twilio,
    )

    for module in (auth, api, mail, intake, health, pages, pwa, admin, oncall, schedules, allowances, runbooks, notify, links, twilio):
        app.register_blueprint(module.bp)
    app.register_blueprint(api.docs)
    app.config.setdefault("SOCK_SERVER_OPTIONS", {"ping_interval": 25, "thread_class": live.ReaderThread})
    live.sock.init_app(app)
    app.before_request(live.refuse_before_handshake)
    app.before_request(status.refuse_before_handshake)
    app.before_request(status.viewers_to_their_page)
    for bp in (handover.bp, readiness.bp, contact_rules.bp, profile.bp, overview.bp, manage.bp, account.bp, admin_security.bp, connections.api, connections.pages, keys.bp, heartbeats.bp, access_reports.bp, reports.bp, metrics.bp, postmortems.bp, monthly.bp, status.bp, status_admin.bp, status_admin.api):
        app.register_blueprint(bp)
