"""Every route × every role × an object of their own client and of another, with the exact
status code. The routes are read from app.url_map: a route without an expectation here fails
the suite, so every new route must say who may use it.

A refused object is 404 when the caller may not even know it exists (another client's incident,
any connection info for a client viewer, another pool's schedule, any schedule for a client
viewer), 403 when it is visible but the role may not act. A screen refused to a whole role (the
managers' area, the schedules for a client viewer) is 403.

Some routes are not authenticated by the session at all: intake (an integration key), ack links
(the token in the address), the SMS/voice provider's webhooks (X-Twilio-Signature). Each role's
session is sent anyway and must change nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from app.views.heartbeats import PingPath
from tests.authz import CLIENT, KEY, MEMBERS, ROLES, SHIFTS, TWILIO, Ctx, build
from tests.fakes.twilio import twilio_signature
from tests.helpers import make_app

Expect = dict[str, tuple[int, int]]


def same(anon: int, user: int) -> Expect:
    """Everyone logged in gets `user`, whatever the object."""
    return {r: ((anon, anon) if r == "anonymous" else (user, user)) for r in ROLES}


def by_client(anon: int, ok: int, hidden: int = 404, refused: int = 403, *, viewers_see: bool = True,
              staff_only: bool = False) -> Expect:
    """Access that follows the client: staff everywhere, the pool engineer on Acme only, the
    outsider nowhere, each viewer its own client. `ok` where allowed; `refused` where the object
    is visible but the role may not act; `hidden` where it is invisible."""
    viewer = refused if viewers_see else hidden
    engineer = (refused, hidden) if staff_only else (ok, hidden)
    return {
        "anonymous": (anon, anon),
        "admin": (ok, ok),
        "manager": (ok, ok),
        "engineer": engineer,
        "outsider": (hidden, hidden),
        "viewer": (viewer, hidden),
        "other_viewer": (hidden, viewer),
    }


def viewers_read(e: Expect, ok: int) -> Expect:
    """Client viewers may read (their own client's object)."""
    return {**e, "viewer": (ok, e["viewer"][1]), "other_viewer": (e["other_viewer"][0], ok)}


def admins_only(anon: int, ok: int) -> Expect:
    return {r: ((anon, anon) if r == "anonymous" else (ok, ok) if r == "admin" else (403, 403)) for r in ROLES}


def staff_only(anon: int, ok: int) -> Expect:
    return {r: ((anon, anon) if r == "anonymous" else (ok, ok) if r in ("admin", "manager") else (403, 403))
            for r in ROLES}


def schedule_readers(anon: int, ok: int) -> Expect:
    """Screens of schedules and shifts (no object in the address): everyone but client viewers,
    whose role sees nothing of schedules (403); each sees only their pools' schedules."""
    return {r: ((anon, anon) if r == "anonymous" else (403, 403) if r.endswith("viewer") else (ok, ok))
            for r in ROLES}


def by_pool(anon: int, ok: int, *, staff_only: bool = False) -> Expect:
    """A schedule (layer, override) or pool: own is Pool A's, which covers Acme; other is Pool
    B's. Staff see both, the pool engineer own only, the outsider and client viewers none."""
    return by_client(anon, ok, viewers_see=False, staff_only=staff_only)


def paged_people(anon: int, ok: int, other: int | None = None) -> Expect:
    """Being reached (contact methods, rules, devices): everyone who can be paged manages their
    own. Client viewers are never paged (they are given no contact method or rule), so their role
    is refused (403), even for a method of their own. `other`: someone else's object (404: it
    is nobody else's business that it exists, an admin's neither)."""
    return {r: ((anon, anon) if r == "anonymous" else (403, 403) if r.endswith("viewer")
                else (ok, ok if other is None else other)) for r in ROLES}


Url = Callable[[Ctx, str, str], str]


@dataclass
class Case:
    url: Url
    expect: Expect
    json: Any = None  # a body, or a function (ctx, role, which) -> body
    form: dict[str, Any] | Callable[[Ctx, str, str], dict[str, Any]] | None = None
    token: bool = False  # call with the role's API token instead of its session
    fresh: bool = False  # the request changes the session: a new login per cell
    headers: dict[str, str] | None = None  # sent with the session's request
    twilio: bool = False  # a provider webhook: the form is signed for "own", unsigned for "other"


def mine(prefix: str, make: Callable[[Ctx, str], int], suffix: str = "") -> Url:
    """A personal object in the address: the caller's own, or bob's (Ctx.whose)."""
    return lambda c, role, which: f"{prefix}{make(c, c.whose(role, which))}{suffix}"


def incident(suffix: str = "") -> Url:
    return lambda c, role, which: f"/api/v1/incidents/{c.incident(which)}{suffix}"


def page_incident(suffix: str = "") -> Url:
    return lambda c, role, which: f"/incidents/{c.incident(which)}{suffix}"


def conn(prefix: str, suffix: str = "") -> Url:
    return lambda c, role, which: f"{prefix}{c.connection(which)}{suffix}"


def layer_form(c: Ctx, name: str, which: str, reverse: bool = False) -> dict[str, str]:
    """A layer's form: the pool's two engineers, weekly from Monday 23 Feb at 09:00 in Paris."""
    members = MEMBERS[which][::-1] if reverse else MEMBERS[which]
    return {"name": name, "length": "weekly", "handoff_day": "0", "handoff_time": "09:00", "start_date": "2026-02-23",
            "timezone": "Europe/Paris", **{f"turn_{i}": str(c.world.ids[m]) for i, m in enumerate(members)}}


# --- hand-offs: contact chains, hand-overs, shift starts (helpers that make fresh objects) ----


def contact(c: Ctx, which: str) -> int:
    """A fresh contact in the hand-over chain of the own (Acme) or other (Initech) client."""
    from app.models import ClientContact

    with c.database.transaction() as s:
        row = ClientContact(client_id=c.client_id(which), name="Hotline", email="hotline@client.example",
                            channels=["email"], created_at=c.clock.now())
        s.add(row)
        s.flush()
        return row.id


def we_have_it_token(c: Ctx, which: str) -> str:
    """A fresh "we have it" link of a hand-over of an incident of the own or other client."""
    from app.models import Handover, Incident
    from app.notify import onetime

    iid = c.incident(which)
    with c.database.transaction() as s:
        inc = s.get(Incident, iid)
        inc.status = "handed_over"
        h = Handover(incident_id=iid, client_id=inc.client_id, chain=[], started_at=c.clock.now(), reason="app bug")
        s.add(h)
        s.flush()
        return onetime.mint(s, "handover", now=c.clock.now(), hours=1, base_url="", handover_id=h.id,
                            incident_id=iid).token


def shift_start(c: Ctx, who: str) -> int:
    """A fresh announced shift start of `who` on a fresh layer of Pool A's schedule."""
    from datetime import timedelta

    from app.models import ShiftStart

    sid = c.schedule("own", fresh=True)
    with c.database.transaction() as s:
        row = ShiftStart(layer_id=c.made["layer"], schedule_id=sid, user_id=c.uid(who), starts_at=c.clock.now(),
                         ends_at=c.clock.now() + timedelta(hours=8), label="Primary", found_at=c.clock.now(),
                         notified_at=c.clock.now())
        s.add(row)
        s.flush()
        return row.id


def ready_token(c: Ctx, which: str) -> str:
    from app.notify import onetime

    ss = shift_start(c, MEMBERS[which][0] if which == "own" else "bob")
    with c.database.transaction() as s:
        return onetime.mint(s, "ready", now=c.clock.now(), hours=1, base_url="", shift_start_id=ss).token


def report_contact(c: Ctx, which: str) -> int:
    """A fresh recipient of the monthly report of the client."""
    from app.models import ReportContact

    with c.database.transaction() as s:
        rc = ReportContact(client_id=c.client_id(which), name="CTO", email=f"{uuid.uuid4().hex}@client.example",
                           created_at=c.clock.now())
        s.add(rc)
        s.flush()
        return rc.id


CONTACT_FORM = {"name": "Duty desk", "email": "duty@client.example", "channels": "email", "delay_minutes": "15"}


SEE_INCIDENT = viewers_read(by_client(401, 200), 200)
ACT_INCIDENT = by_client(401, 200)
PAGE_SEE = viewers_read(by_client(302, 200), 200)
CONNECTION_FORM = {"kind": "ssh", "label": "db jump", "host": "10.1.1.1", "port": "22", "user": "ops"}
NEW_CONNECTION = {"kind": "vpn", "label": "office vpn", "vpn_profile": "client\nremote vpn.acme.test 1194"}

def status_url(suffix: str = "") -> Url:
    return lambda c, r, w: f"/status/{CLIENT[w]}{suffix}"


def subscriber_link(purpose: str) -> Url:
    """A real link of a subscriber of Acme's page; "other": the same link under Initech's page."""
    def url(c: Ctx, role: str, which: str) -> str:
        from app.models import StatusSubscriber
        from app.status import subscribers

        with c.database.transaction() as s:
            sub = StatusSubscriber(client_id=c.client_id("own"), kind="email", address=f"{uuid.uuid4().hex}@x.test",
                                   nonce=uuid.uuid4().hex[:16], created_at=c.clock.now())
            s.add(sub)
            s.flush()
            tok = subscribers.token(c.app.config["SECRET_KEY"], sub, purpose)
            return f"/status/{CLIENT[which]}/subscribers/{sub.id}/{purpose}/{tok}"
    return url


def webhook(c: Ctx, which: str) -> int:
    """A fresh webhook of the own (Acme) or other (Initech) client's status page."""
    from app.models import StatusSubscriber

    with c.database.transaction() as s:
        sub = StatusSubscriber(client_id=c.client_id(which), kind="webhook", address=f"https://hooks.example.com/{uuid.uuid4().hex}",
                               nonce=uuid.uuid4().hex[:16], created_at=c.clock.now(), confirmed_at=c.clock.now())
        s.add(sub)
        s.flush()
        return sub.id


def window(c: Ctx, which: str) -> int:
    """A fresh maintenance window of the own (Acme) or other (Initech) client, an hour ahead."""
    from datetime import timedelta

    from app.models import MaintenanceWindow

    with c.database.transaction() as s:
        w = MaintenanceWindow(public_id=uuid.uuid4().hex[:12], client_id=c.client_id(which), title="Upgrade",
                              body="", service_ids=[], starts_at=c.clock.now() + timedelta(hours=1),
                              ends_at=c.clock.now() + timedelta(hours=2), hold_pages=True, state="scheduled",
                              created_at=c.clock.now(), updated_at=c.clock.now())
        s.add(w)
        s.flush()
        return w.id


# A status page (private unless made public: none is in the matrix): whoever sees the client reads
# it; anybody else, anonymous included, is told it does not exist (404).
STATUS_READ = viewers_read(by_client(404, 200), 200)
WINDOW = {"title": "DB upgrade", "starts_at": "2026-03-02T04:00:00+00:00", "ends_at": "2026-03-02T05:00:00+00:00"}

MATRIX: dict[tuple[str, str], Case] = {
    # --- pages and session ---------------------------------------------------------------
    # A client viewer lands on its status page: the engineers' screens redirect it there.
    ("/", "GET"): Case(lambda c, r, w: "/", same(302, 200) | {"viewer": (302, 302), "other_viewer": (302, 302)}),
    ("/login", "GET"): Case(lambda c, r, w: "/login", same(200, 200)),
    ("/login", "POST"): Case(lambda c, r, w: "/login", same(401, 401),
                             form=lambda c, r, w: {"email": f"nobody-{r}-{w}@x.test", "password": "x" * 12}),
    ("/login/code", "GET"): Case(lambda c, r, w: "/login/code", same(302, 302)),
    ("/login/code", "POST"): Case(lambda c, r, w: "/login/code", same(302, 302), form={"code": "123456"}),
    ("/login/enrol", "GET"): Case(lambda c, r, w: "/login/enrol", same(302, 302)),
    ("/login/enrol", "POST"): Case(lambda c, r, w: "/login/enrol", same(302, 302), form={"code": "123456"}),
    ("/logout", "POST"): Case(lambda c, r, w: "/logout", same(302, 302), fresh=True),
    ("/static/<path:filename>", "GET"): Case(lambda c, r, w: "/static/css/app.css", same(200, 200)),
    ("/healthz", "GET"): Case(lambda c, r, w: "/healthz", same(200, 200)),
    ("/api/openapi.json", "GET"): Case(lambda c, r, w: "/api/openapi.json", same(200, 200)),
    ("/incidents", "GET"): Case(lambda c, r, w: "/incidents", same(302, 200) | {"viewer": (302, 302), "other_viewer": (302, 302)}),
    ("/incidents/<int:incident_id>", "GET"): Case(page_incident(), PAGE_SEE | {"viewer": (302, 302), "other_viewer": (302, 302)}),
    # A refused form action is told on the page it returns to (a flash), so it is a redirect;
    # test_a_client_viewer_form_action_changes_nothing checks nothing happened.
    ("/incidents/<int:incident_id>/<action>", "POST"): Case(
        page_incident("/ack"), viewers_read(by_client(302, 302), 302)),
    # --- the incident API ----------------------------------------------------------------
    ("/api/v1/me", "GET"): Case(lambda c, r, w: "/api/v1/me", same(401, 200)),
    ("/api/v1/incidents", "GET"): Case(lambda c, r, w: "/api/v1/incidents", same(401, 200)),
    ("/api/v1/events", "GET"): Case(lambda c, r, w: "/api/v1/events?since=0", same(401, 200)),
    ("/api/v1/incidents/<int:incident_id>", "GET"): Case(incident(), SEE_INCIDENT),
    ("/api/v1/incidents/<int:incident_id>/ack", "POST"): Case(incident("/ack"), ACT_INCIDENT, json={}),
    # The matrix's incidents are single-engineer (4-hour): whoever may act on one is told it has
    # no responder slots (409); the others are refused as for any action.
    ("/api/v1/incidents/<int:incident_id>/claim", "POST"): Case(incident("/claim"), by_client(401, 409),
                                                                  json={"slot": 1}),
    ("/api/v1/incidents/<int:incident_id>/escalate", "POST"): Case(incident("/escalate"), ACT_INCIDENT, json={}),
    ("/api/v1/incidents/<int:incident_id>/actions", "POST"): Case(incident("/actions"), ACT_INCIDENT, json={"text": "looked"}),
    ("/api/v1/incidents/<int:incident_id>/handover", "POST"): Case(incident("/handover"), ACT_INCIDENT, json={"reason": "app bug"}),
    ("/api/v1/incidents/<int:incident_id>/resolve", "POST"): Case(incident("/resolve"), ACT_INCIDENT, json={"summary": "fixed"}),
    # --- intake: integration keys, whoever calls (the key is the credential) ----------------
    ("/api/v1/intake/<source>/<key>", "POST"): Case(
        lambda c, r, w: f"/api/v1/intake/generic/{c.world.keys[KEY[w]]}", same(202, 202), json={"summary": "x"}),
    ("/api/v1/intake/<source>", "POST"): Case(lambda c, r, w: "/api/v1/intake/generic", same(202, 202), json={"summary": "x"}),
    ("/v2/enqueue", "POST"): Case(lambda c, r, w: "/v2/enqueue", same(202, 202), json="v2"),
    ("/api/v1/services/<int:service_id>/intake/<source>", "POST"): Case(
        lambda c, r, w: f"/api/v1/services/{c.service_id(w)}/intake/generic",
        # A client viewer's token can only read: 403 (scope) before anything else.
        {**by_client(401, 202), "viewer": (403, 403), "other_viewer": (403, 403)}, json={"summary": "x"}, token=True),
    # --- client e-mail: HTTP inbound (an e-mail integration key), messages, rules -------------
    # A generic key is refused on the e-mail routes (403): the key's source is checked first.
    ("/api/v1/intake/email/<key>", "POST"): Case(
        lambda c, r, w: f"/api/v1/intake/email/{c.world.keys[KEY[w]]}", same(403, 403)),
    ("/api/v1/intake/email", "POST"): Case(lambda c, r, w: "/api/v1/intake/email", same(401, 401)),
    ("/api/v1/intake/email/<key>/<provider>", "POST"): Case(
        lambda c, r, w: f"/api/v1/intake/email/{c.world.keys[KEY[w]]}/sendgrid", same(403, 403)),
    ("/api/v1/incidents/<int:incident_id>/mails", "GET"): Case(incident("/mails"), by_client(401, 200)),
    # The incident came from a webhook: no message, no attachment, nobody to write to.
    ("/incidents/<int:incident_id>/mails/<int:mail_id>/raw", "GET"): Case(page_incident("/mails/1/raw"), by_client(302, 404)),
    ("/incidents/<int:incident_id>/attachments/<int:attachment_id>", "GET"): Case(
        page_incident("/attachments/1"), by_client(302, 404)),
    ("/api/v1/incidents/<int:incident_id>/client-mail", "POST"): Case(
        incident("/client-mail"), by_client(401, 409), json={"text": "hello"}),
    ("/api/v1/clients/<int:client_id>/mail", "GET"): Case(
        lambda c, r, w: f"/api/v1/clients/{c.client_id(w)}/mail", by_client(401, 200, staff_only=True)),
    ("/api/v1/clients/<int:client_id>/mail", "PUT"): Case(
        lambda c, r, w: f"/api/v1/clients/{c.client_id(w)}/mail", by_client(401, 200, staff_only=True),
        json={"allowed_senders": ["@client.example"]}),
    ("/api/v1/clients/<int:client_id>/mail/held/<int:mail_id>", "POST"): Case(
        lambda c, r, w: f"/api/v1/clients/{c.client_id(w)}/mail/held/1", by_client(401, 404, staff_only=True),
        json={"action": "release"}),
    ("/clients/<int:client_id>/mail", "GET"): Case(
        lambda c, r, w: f"/clients/{c.client_id(w)}/mail", by_client(302, 200, staff_only=True)),
    ("/clients/<int:client_id>/mail", "POST"): Case(
        lambda c, r, w: f"/clients/{c.client_id(w)}/mail", by_client(302, 302, staff_only=True),
        form={"allowed_senders": "@client.example", "unknown_senders": "hold", "reopen_days": "7", "rate_per_hour": "30"}),
    # --- connection info ------------------------------------------------------------------
    ("/api/v1/clients/<int:client_id>/connections", "GET"): Case(
        lambda c, r, w: f"/api/v1/clients/{c.client_id(w)}/connections", by_client(401, 200, viewers_see=False)),
    ("/api/v1/clients/<int:client_id>/connections", "POST"): Case(
        lambda c, r, w: f"/api/v1/clients/{c.client_id(w)}/connections",
        by_client(401, 201, viewers_see=False, staff_only=True), json=NEW_CONNECTION),
    ("/api/v1/connections/<int:conn_id>", "PUT"): Case(
        conn("/api/v1/connections/"), by_client(401, 200, viewers_see=False, staff_only=True), json={"label": "renamed"}),
    ("/api/v1/connections/<int:conn_id>", "DELETE"): Case(
        conn("/api/v1/connections/"), by_client(401, 204, viewers_see=False, staff_only=True)),
    ("/api/v1/connections/<int:conn_id>/reveal", "POST"): Case(
        conn("/api/v1/connections/", "/reveal"), by_client(401, 200, viewers_see=False)),
    ("/clients", "GET"): Case(lambda c, r, w: "/clients", same(302, 200) | {"viewer": (302, 302), "other_viewer": (302, 302)}),
    ("/clients/<slug>", "GET"): Case(lambda c, r, w: f"/clients/{CLIENT[w]}", PAGE_SEE | {"viewer": (302, 302), "other_viewer": (302, 302)}),
    ("/clients/<slug>/connections/new", "GET"): Case(
        lambda c, r, w: f"/clients/{CLIENT[w]}/connections/new", by_client(302, 200, viewers_see=True, staff_only=True)
        | {"viewer": (404, 404), "other_viewer": (404, 404)}),
    ("/clients/<slug>/connections/new", "POST"): Case(
        lambda c, r, w: f"/clients/{CLIENT[w]}/connections/new", by_client(302, 302, staff_only=True)
        | {"viewer": (404, 404), "other_viewer": (404, 404)}, form=CONNECTION_FORM),
    ("/connections/<int:conn_id>/reveal", "POST"): Case(
        conn("/connections/", "/reveal"), by_client(302, 200, viewers_see=False)),
    ("/connections/<int:conn_id>/edit", "GET"): Case(
        conn("/connections/", "/edit"), by_client(302, 200, viewers_see=False, staff_only=True)),
    ("/connections/<int:conn_id>/edit", "POST"): Case(
        conn("/connections/", "/edit"), by_client(302, 302, viewers_see=False, staff_only=True), form=CONNECTION_FORM),
    ("/connections/<int:conn_id>/delete", "POST"): Case(
        conn("/connections/", "/delete"), by_client(302, 302, viewers_see=False, staff_only=True)),
    # --- integration keys ---------------------------------------------------------------------
    ("/services/<int:service_id>/keys", "GET"): Case(
        lambda c, r, w: f"/services/{c.service_id(w)}/keys", by_client(302, 200, staff_only=True)),
    ("/services/<int:service_id>/keys", "POST"): Case(
        lambda c, r, w: f"/services/{c.service_id(w)}/keys", by_client(302, 201, staff_only=True),
        form={"source": "grafana", "name": "prod"}),
    ("/services/<int:service_id>/keys/<int:key_id>/revoke", "POST"): Case(
        lambda c, r, w: f"/services/{c.service_id(w)}/keys/{c.integration_key(w)}/revoke",
        by_client(302, 302, staff_only=True)),
    # --- heartbeats: the ping URLs (the uuid is the credential), the managers' screen ---------
    ("/hb/<token>", "GET"): Case(lambda c, r, w: f"/hb/{c.heartbeat(w)[1]}", same(200, 200)),
    ("/hb/<token>", "POST"): Case(lambda c, r, w: f"/hb/{c.heartbeat(w)[1]}", same(200, 200), form={"log": "ok"}),
    ("/hb/<token>/<kind>", "GET"): Case(lambda c, r, w: f"/hb/{c.heartbeat(w)[1]}/start", same(200, 200)),
    ("/hb/<token>/<kind>", "POST"): Case(lambda c, r, w: f"/hb/{c.heartbeat(w)[1]}/fail", same(200, 200), form={"log": "x"}),
    ("/services/<int:service_id>/heartbeats", "GET"): Case(
        lambda c, r, w: f"/services/{c.service_id(w)}/heartbeats", by_client(302, 200, staff_only=True)),
    ("/services/<int:service_id>/heartbeats", "POST"): Case(
        lambda c, r, w: f"/services/{c.service_id(w)}/heartbeats", by_client(302, 303, staff_only=True),
        form={"name": "nightly backup", "period": "24", "grace": "60", "timezone": "Europe/Paris"}),
    ("/services/<int:service_id>/heartbeats/<int:monitor_id>", "POST"): Case(
        lambda c, r, w: f"/services/{c.service_id(w)}/heartbeats/{c.heartbeat(w)[0]}", by_client(302, 303, staff_only=True),
        form={"name": "weekly backup", "period": "168", "grace": "120", "timezone": "UTC"}),
    ("/services/<int:service_id>/heartbeats/<int:monitor_id>/delete", "POST"): Case(
        lambda c, r, w: f"/services/{c.service_id(w)}/heartbeats/{c.heartbeat(w)[0]}/delete",
        by_client(302, 303, staff_only=True)),
    # --- reports, settings, admin ---------------------------------------------------------------
    ("/reports/access", "GET"): Case(lambda c, r, w: f"/reports/access?client={CLIENT[w]}", staff_only(302, 200)),
    ("/settings/tokens", "GET"): Case(lambda c, r, w: "/settings/tokens", same(302, 200)),
    ("/settings/tokens", "POST"): Case(lambda c, r, w: "/settings/tokens", same(302, 201), form={"name": "ci", "scopes": "read"}),
    # own: the caller's token; other: someone else's. Only an admin may revoke another's.
    ("/settings/tokens/<int:token_id>/revoke", "POST"): Case(
        lambda c, r, w: f"/settings/tokens/{c.api_token(r if w == 'own' and r != 'anonymous' else 'bob')}/revoke",
        {r: ((302, 302) if r in ("anonymous", "admin") else (302, 404)) for r in ROLES}),
    ("/settings/security", "GET"): Case(lambda c, r, w: "/settings/security", same(302, 200)),
    ("/settings/profile", "GET"): Case(lambda c, r, w: "/settings/profile", same(302, 200)),
    ("/settings/profile/timezone", "POST"): Case(lambda c, r, w: "/settings/profile/timezone", same(302, 302),
                                                 form={"timezone": "Europe/Paris", "auto": "1"}),
    # A wrong current password: refused on the page it returns to, nothing changes.
    ("/settings/password", "POST"): Case(lambda c, r, w: "/settings/password", same(302, 302),
                                         form={"current": "not it", "new": "a new password 1", "confirm": "a new password 1"}),
    ("/on-call", "GET"): Case(lambda c, r, w: "/on-call", same(302, 200)),
    # No incident has this key: the page says how to open one (the lookup only sees visible ones).
    ("/incidents/by-key/<path:dedup_key>", "GET"): Case(lambda c, r, w: "/incidents/by-key/no-such-key", same(302, 404)),
    ("/settings/totp", "POST"): Case(lambda c, r, w: "/settings/totp", same(302, 302), form={"code": "000000"}),
    ("/settings/totp/disable", "POST"): Case(lambda c, r, w: "/settings/totp/disable", same(302, 302), form={"code": "000000"}),
    ("/settings/sessions/end-others", "POST"): Case(lambda c, r, w: "/settings/sessions/end-others", same(302, 302)),
    ("/admin/users", "GET"): Case(lambda c, r, w: "/admin/users", admins_only(302, 200)),
    ("/admin/users/<int:user_id>/reset", "GET"): Case(
        lambda c, r, w: f"/admin/users/{c.world.bob if w == 'own' else c.world.carol}/reset", admins_only(302, 200)),
    ("/admin/users/<int:user_id>/reset", "POST"): Case(
        lambda c, r, w: f"/admin/users/{c.world.bob if w == 'own' else c.world.carol}/reset", admins_only(302, 200),
        form={"password": ""}),
    ("/admin/security", "GET"): Case(lambda c, r, w: "/admin/security", admins_only(302, 200)),
    ("/admin/security", "POST"): Case(lambda c, r, w: "/admin/security", admins_only(302, 302), form={}),
    ("/admin/audit", "GET"): Case(lambda c, r, w: "/admin/audit", admins_only(302, 200)),
    # --- the installable app and live updates ------------------------------------------------
    ("/manifest.webmanifest", "GET"): Case(lambda c, r, w: "/manifest.webmanifest", same(200, 200)),
    ("/sw.js", "GET"): Case(lambda c, r, w: "/sw.js", same(200, 200)),
    ("/offline", "GET"): Case(lambda c, r, w: "/offline", same(200, 200)),
    # Client viewers are never paged: nothing to set up (as the notification API, below).
    ("/settings/notifications", "GET"): Case(lambda c, r, w: "/settings/notifications", paged_people(302, 200)),
    # Refused before any upgrade: 401 for strangers (403 for a foreign Origin, see
    # test_live_socket). From our own origin but without the WebSocket handshake (the test client
    # cannot upgrade), the route, a WebSocket-only rule, does not match: 400.
    ("/ws", "GET"): Case(lambda c, r, w: "/ws", same(401, 400), headers={"Origin": "http://vigil.test"}),
    # --- status pages: the public side (a 400 on the socket: the test client does not upgrade) ---
    ("/status/<slug>", "GET"): Case(status_url(), STATUS_READ),
    ("/status/<slug>/body", "GET"): Case(status_url("/body"), STATUS_READ),
    ("/status/<slug>/api/v2/<path:doc>.json", "GET"): Case(status_url("/api/v2/summary.json"), STATUS_READ),
    ("/status/<slug>/history.atom", "GET"): Case(status_url("/history.atom"), STATUS_READ),
    ("/status/<slug>/history.rss", "GET"): Case(status_url("/history.rss"), STATUS_READ),
    ("/status/<slug>/ws", "GET"): Case(status_url("/ws"), viewers_read(by_client(404, 400), 400),
                                       headers={"Origin": "http://vigil.test"}),
    ("/status/<slug>/subscribe", "POST"): Case(status_url("/subscribe"), viewers_read(by_client(404, 202), 202),
                                               form={"email": "reader@example.com"}),
    # The token in the address is the credential, whoever asks; under another client's page: 404.
    ("/status/<slug>/subscribers/<int:sub_id>/confirm/<token>", "GET"): Case(
        subscriber_link("confirm"), {r: (200, 404) for r in ROLES}),
    ("/status/<slug>/subscribers/<int:sub_id>/confirm/<token>", "POST"): Case(
        subscriber_link("confirm"), {r: (200, 404) for r in ROLES}, form={}),
    ("/status/<slug>/subscribers/<int:sub_id>/unsubscribe/<token>", "GET"): Case(
        subscriber_link("unsubscribe"), {r: (200, 404) for r in ROLES}),
    ("/status/<slug>/subscribers/<int:sub_id>/unsubscribe/<token>", "POST"): Case(
        subscriber_link("unsubscribe"), {r: (200, 404) for r in ROLES}, form={"List-Unsubscribe": "One-Click"}),
    # --- status pages: the engineers' side ---------------------------------------------------------
    ("/api/v1/clients/<int:client_id>/status", "GET"): Case(
        lambda c, r, w: f"/api/v1/clients/{c.client_id(w)}/status", by_client(401, 200)),
    ("/api/v1/clients/<int:client_id>/status", "PUT"): Case(
        lambda c, r, w: f"/api/v1/clients/{c.client_id(w)}/status", by_client(401, 200, staff_only=True),
        json={"title": "Status"}),
    ("/api/v1/clients/<int:client_id>/status/secret", "POST"): Case(
        lambda c, r, w: f"/api/v1/clients/{c.client_id(w)}/status/secret", by_client(401, 201, staff_only=True)),
    # Webhooks: managers and admins (a chat's webhook URL is a credential); the own client's
    # webhook under the other client's slug is not found.
    ("/api/v1/clients/<int:client_id>/status/webhooks", "GET"): Case(
        lambda c, r, w: f"/api/v1/clients/{c.client_id(w)}/status/webhooks", by_client(401, 200, staff_only=True)),
    ("/api/v1/clients/<int:client_id>/status/webhooks", "POST"): Case(
        lambda c, r, w: f"/api/v1/clients/{c.client_id(w)}/status/webhooks", by_client(401, 201, staff_only=True),
        json=lambda c, r, w: {"url": f"https://hooks.example.com/{uuid.uuid4().hex}"}),
    ("/api/v1/status-webhooks/<int:webhook_id>", "DELETE"): Case(
        lambda c, r, w: f"/api/v1/status-webhooks/{webhook(c, w)}", by_client(401, 200, staff_only=True)),
    ("/clients/<slug>/status/webhooks", "POST"): Case(
        lambda c, r, w: f"/clients/{CLIENT[w]}/status/webhooks", by_client(302, 201, staff_only=True),
        form=lambda c, r, w: {"url": f"https://hooks.example.com/{uuid.uuid4().hex}"}),
    ("/clients/<slug>/status/webhooks/<int:webhook_id>/delete", "POST"): Case(
        lambda c, r, w: f"/clients/{CLIENT[w]}/status/webhooks/{webhook(c, w)}/delete",
        by_client(302, 302, staff_only=True)),
    ("/api/v1/services/<int:service_id>/status", "PUT"): Case(
        lambda c, r, w: f"/api/v1/services/{c.service_id(w)}/status", by_client(401, 200), json={"override": None}),
    ("/api/v1/incidents/<int:incident_id>/public-updates", "POST"): Case(
        incident("/public-updates"), by_client(401, 201), json={"status": "identified", "body": "found it"}),
    ("/api/v1/clients/<int:client_id>/maintenance", "GET"): Case(
        lambda c, r, w: f"/api/v1/clients/{c.client_id(w)}/maintenance", by_client(401, 200)),
    ("/api/v1/clients/<int:client_id>/maintenance", "POST"): Case(
        lambda c, r, w: f"/api/v1/clients/{c.client_id(w)}/maintenance", by_client(401, 201), json=WINDOW),
    ("/api/v1/maintenance/<int:window_id>/<action>", "POST"): Case(
        lambda c, r, w: f"/api/v1/maintenance/{window(c, w)}/start", by_client(401, 200)),
    ("/clients/<slug>/status", "GET"): Case(lambda c, r, w: f"/clients/{CLIENT[w]}/status", by_client(302, 200)),
    ("/clients/<slug>/status/settings", "POST"): Case(
        lambda c, r, w: f"/clients/{CLIENT[w]}/status/settings", by_client(302, 302, staff_only=True),
        form={"visibility": "private"}),
    ("/clients/<slug>/status/components/<int:service_id>", "POST"): Case(
        lambda c, r, w: f"/clients/{CLIENT[w]}/status/components/{c.service_id(w)}", by_client(302, 302),
        form={"override": "degraded_performance"}),
    ("/clients/<slug>/maintenance", "POST"): Case(lambda c, r, w: f"/clients/{CLIENT[w]}/maintenance",
                                                  by_client(302, 302), form=WINDOW),
    ("/maintenance/<int:window_id>/<action>", "POST"): Case(
        lambda c, r, w: f"/maintenance/{window(c, w)}/start", by_client(302, 302)),
    ("/incidents/<int:incident_id>/public-update", "POST"): Case(
        page_incident("/public-update"), by_client(302, 302), form={"status": "identified", "body": "found it"}),
    # --- managers' screens: managers and admins; the whole area is refused to the others ------
    ("/admin", "GET"): Case(lambda c, r, w: "/admin", staff_only(302, 200)),
    ("/admin/clients/new", "GET"): Case(lambda c, r, w: "/admin/clients/new", staff_only(302, 200)),
    ("/admin/clients/new", "POST"): Case(
        lambda c, r, w: "/admin/clients/new", staff_only(302, 302),
        form=lambda c, r, w: {"name": f"New {r} {w}", "slug": f"new-{r.replace('_', '-')}-{w}", "tier": "4h",
                              "pool_id": str(c.pool_id(w)), "policy_id": str(c.world.policy_4h)}),
    # --- me, runbooks -------------------------------------------------------------------------
    ("/me", "GET"): Case(lambda c, r, w: "/me", same(302, 200)),
    # Runbooks hold operational detail: hidden from client viewers (404), written by staff.
    ("/runbooks/<int:runbook_id>", "GET"): Case(
        lambda c, r, w: f"/runbooks/{c.runbook(w)}", by_client(302, 200, viewers_see=False)),
    ("/runbooks/<int:runbook_id>/edit", "GET"): Case(
        lambda c, r, w: f"/runbooks/{c.runbook(w)}/edit", by_client(302, 200, viewers_see=False, staff_only=True)),
    ("/runbooks/<int:runbook_id>/edit", "POST"): Case(
        lambda c, r, w: f"/runbooks/{c.runbook(w)}/edit", by_client(302, 302, viewers_see=False, staff_only=True),
        form={"title": "Failover", "body": "Promote db-2."}),
    ("/runbooks/<int:runbook_id>/delete", "POST"): Case(
        lambda c, r, w: f"/runbooks/{c.runbook(w)}/delete", by_client(302, 302, viewers_see=False, staff_only=True)),
    ("/clients/<slug>/runbooks/new", "GET"): Case(
        lambda c, r, w: f"/clients/{CLIENT[w]}/runbooks/new", by_client(302, 200, staff_only=True)),
    ("/clients/<slug>/runbooks/new", "POST"): Case(
        lambda c, r, w: f"/clients/{CLIENT[w]}/runbooks/new", by_client(302, 302, staff_only=True),
        form={"title": "Failover", "body": "Promote db-2."}),
    ("/admin/clients/<int:client_id>", "GET"): Case(
        lambda c, r, w: f"/admin/clients/{c.client_id(w)}", staff_only(302, 200)),
    ("/admin/clients/<int:client_id>", "POST"): Case(
        lambda c, r, w: f"/admin/clients/{c.new_client(w)}", staff_only(302, 302),
        form=lambda c, r, w: {**c.made["client"], "name": "Renamed"}),
    ("/admin/clients/<int:client_id>/services", "POST"): Case(
        lambda c, r, w: f"/admin/clients/{c.new_client(w)}/services", staff_only(302, 302), form={"name": "Labs API"}),
    ("/admin/users/new", "GET"): Case(lambda c, r, w: "/admin/users/new", staff_only(302, 200)),
    ("/admin/users/new", "POST"): Case(
        lambda c, r, w: "/admin/users/new", staff_only(302, 302),
        form=lambda c, r, w: {"name": "Eve Night", "email": f"eve-{r}-{w}@vigil.test", "role": "engineer"}),
    ("/admin/pools/new", "GET"): Case(lambda c, r, w: "/admin/pools/new", staff_only(302, 200)),
    ("/admin/pools/new", "POST"): Case(
        lambda c, r, w: "/admin/pools/new", staff_only(302, 302),
        form=lambda c, r, w: {"name": f"Pool {r} {w}", "members": [str(c.world.alice)]}),
    ("/admin/pools/<int:pool_id>", "GET"): Case(lambda c, r, w: f"/admin/pools/{c.pool_id(w)}", staff_only(302, 200)),
    ("/admin/pools/<int:pool_id>", "POST"): Case(
        lambda c, r, w: f"/admin/pools/{c.new_pool(w)}", staff_only(302, 302), form=lambda c, r, w: c.made["pool"]),
    ("/admin/policies/new", "GET"): Case(lambda c, r, w: "/admin/policies/new", staff_only(302, 200)),
    ("/admin/policies/new", "POST"): Case(
        lambda c, r, w: "/admin/policies/new", staff_only(302, 302),
        form=lambda c, r, w: {"preset": "4h", "name": f"Policy {r} {w}", "role_primary": f"user:{c.world.alice}",
                              "role_lead": f"user:{c.world.theo}"}),
    ("/admin/policies/<int:policy_id>", "GET"): Case(lambda c, r, w: f"/admin/policies/{c.world.policy_4h}", staff_only(302, 200)),
    ("/admin/policies/<int:policy_id>", "POST"): Case(
        lambda c, r, w: f"/admin/policies/{c.new_policy(w)}", staff_only(302, 302), form=lambda c, r, w: c.made["policy"]),
    ("/admin/policies/<int:policy_id>/delete", "POST"): Case(
        lambda c, r, w: f"/admin/policies/{c.new_policy(w)}/delete", staff_only(302, 302)),
    ("/admin/people/<int:user_id>", "GET"): Case(lambda c, r, w: f"/admin/people/{c.world.bob}", staff_only(302, 200)),
    ("/admin/people/<int:user_id>", "POST"): Case(
        lambda c, r, w: f"/admin/people/{c.new_person(w)}", staff_only(302, 302), form=lambda c, r, w: c.made["person"]),
    ("/admin/people/<int:user_id>/active", "POST"): Case(
        lambda c, r, w: f"/admin/people/{c.new_person(w)}/active", staff_only(302, 302), form={"active": "0"}),
    # --- who is on call, my shifts, open slots, the calendar feed ------------------------------
    ("/api/v1/oncall", "GET"): Case(lambda c, r, w: "/api/v1/oncall", schedule_readers(401, 200)),
    ("/api/v1/me/shifts", "GET"): Case(lambda c, r, w: "/api/v1/me/shifts", schedule_readers(401, 200)),
    ("/api/v1/open-slots", "GET"): Case(lambda c, r, w: "/api/v1/open-slots", schedule_readers(401, 200)),
    # Only an engineer of the schedule's pool claims; managers see the slot but are not in it.
    ("/api/v1/open-slots/claim", "POST"): Case(
        lambda c, r, w: "/api/v1/open-slots/claim", by_pool(401, 200) | {"admin": (403, 403), "manager": (403, 403)},
        json=lambda c, r, w: c.open_slot(w)),
    ("/open-slots", "GET"): Case(lambda c, r, w: "/open-slots", schedule_readers(302, 200)),
    # A refusal of a visible slot is told on the page it returns to; a hidden one is 404.
    ("/open-slots/claim", "POST"): Case(lambda c, r, w: "/open-slots/claim", by_pool(302, 302),
                                        form=lambda c, r, w: c.open_slot(w)),
    ("/me/shifts", "GET"): Case(lambda c, r, w: "/me/shifts", schedule_readers(302, 200)),
    ("/me/calendar", "POST"): Case(lambda c, r, w: "/me/calendar", schedule_readers(302, 302),
                                   form={"action": "regenerate"}),
    # The secret address is the credential, whoever calls: own, a live one; other, a replaced one.
    ("/ical/<secret>.ics", "GET"): Case(lambda c, r, w: c.ical(w), {r: (200, 404) for r in ROLES}),
    # --- schedules: staff see all, the pool engineer Pool A's, nobody else any ------------------
    ("/schedules", "GET"): Case(lambda c, r, w: "/schedules", schedule_readers(302, 200)),
    ("/schedules/<int:schedule_id>", "GET"): Case(lambda c, r, w: f"/schedules/{c.schedule(w)}", by_pool(302, 200)),
    ("/schedules/new", "GET"): Case(lambda c, r, w: "/schedules/new", staff_only(302, 200)),
    ("/schedules/new", "POST"): Case(
        lambda c, r, w: "/schedules/new", staff_only(302, 302),
        form=lambda c, r, w: {"name": f"New {r} {w}", "pool_id": str(c.pool_id(w)), "timezone": "Europe/Paris",
                              "kind": "always"}),
    ("/schedules/<int:schedule_id>/edit", "GET"): Case(
        lambda c, r, w: f"/schedules/{c.schedule(w)}/edit", by_pool(302, 200, staff_only=True)),
    ("/schedules/<int:schedule_id>/edit", "POST"): Case(
        lambda c, r, w: f"/schedules/{c.schedule(w, fresh=True)}/edit", by_pool(302, 302, staff_only=True),
        form=lambda c, r, w: {"name": f"Renamed {c.made['schedule']}", "pool_id": str(c.pool_id(w)),
                              "timezone": "Europe/Paris", "kind": "always"}),
    ("/schedules/<int:schedule_id>/delete", "POST"): Case(
        lambda c, r, w: f"/schedules/{c.schedule(w, fresh=True)}/delete", by_pool(302, 302, staff_only=True)),
    ("/schedules/<int:schedule_id>/layers/new", "GET"): Case(
        lambda c, r, w: f"/schedules/{c.schedule(w)}/layers/new", by_pool(302, 200, staff_only=True)),
    ("/schedules/<int:schedule_id>/layers/new", "POST"): Case(
        lambda c, r, w: f"/schedules/{c.schedule(w, fresh=True)}/layers/new", by_pool(302, 302, staff_only=True),
        form=lambda c, r, w: layer_form(c, "Secondary", w)),
    ("/schedules/<int:schedule_id>/layers/<int:layer_id>/edit", "GET"): Case(
        lambda c, r, w: f"/schedules/{c.layer(w)}/edit", by_pool(302, 200, staff_only=True)),
    ("/schedules/<int:schedule_id>/layers/<int:layer_id>/edit", "POST"): Case(
        lambda c, r, w: f"/schedules/{c.layer(w, fresh=True)}/edit", by_pool(302, 302, staff_only=True),
        form=lambda c, r, w: layer_form(c, "Primary", w, reverse=True)),
    ("/schedules/<int:schedule_id>/layers/<int:layer_id>/delete", "POST"): Case(
        lambda c, r, w: f"/schedules/{c.layer(w, fresh=True)}/delete", by_pool(302, 302, staff_only=True)),
    ("/schedules/<int:schedule_id>/overrides", "POST"): Case(
        lambda c, r, w: f"/schedules/{c.schedule(w, fresh=True)}/overrides", by_pool(302, 302, staff_only=True),
        form=lambda c, r, w: {"layer_id": str(c.made["layer"]), "user_id": str(c.world.ids[MEMBERS[w][1]]),
                              "start": "2026-03-10T20:00", "end": "2026-03-11T08:00", "note": "family event"}),
    ("/schedules/<int:schedule_id>/overrides/<int:override_id>/delete", "POST"): Case(
        lambda c, r, w: f"/schedules/{c.override(w)}/delete", by_pool(302, 302, staff_only=True)),
    ("/schedules/<int:schedule_id>/swap", "POST"): Case(
        lambda c, r, w: f"/schedules/{c.schedule(w, fresh=True)}/swap", by_pool(302, 302, staff_only=True),
        form=lambda c, r, w: {"layer_id": str(c.made["layer"]), "a": SHIFTS[0], "b": SHIFTS[1]}),
    # --- coverage hours, allowances: managers; a client or pool the role cannot see is hidden --
    # Sets the default hours (24/7, hold): the same client for every role after it.
    ("/clients/<int:client_id>/coverage", "GET"): Case(
        lambda c, r, w: f"/clients/{c.client_id(w)}/coverage", by_client(302, 200, staff_only=True)),
    ("/clients/<int:client_id>/coverage", "POST"): Case(
        lambda c, r, w: f"/clients/{c.client_id(w)}/coverage", by_client(302, 302, staff_only=True),
        form={"kind": "always", "timezone": "Europe/Paris", "out_of_coverage": "hold"}),
    ("/api/v1/clients/<int:client_id>/coverage", "PUT"): Case(
        lambda c, r, w: f"/api/v1/clients/{c.client_id(w)}/coverage", by_client(401, 200, staff_only=True),
        json={"coverage": {"kind": "always"}, "out_of_coverage": "hold", "timezone": "Europe/Paris"}),
    ("/reports/allowances", "GET"): Case(
        lambda c, r, w: f"/reports/allowances?pool={c.pool_id(w)}&from=2026-02-01&to=2026-02-28", staff_only(302, 200)),
    ("/reports/allowances.csv", "GET"): Case(
        lambda c, r, w: f"/reports/allowances.csv?pool={c.pool_id(w)}&from=2026-02-01&to=2026-02-28",
        staff_only(302, 200)),
    # --- reports: every role reads the clients it may see; load per engineer is the managers' --
    ("/history", "GET"): Case(lambda c, r, w: f"/history?client={c.client_id(w)}", PAGE_SEE),
    ("/reports", "GET"): Case(lambda c, r, w: f"/reports?client={c.client_id(w)}&by=engineer", PAGE_SEE),
    ("/reports/load", "GET"): Case(lambda c, r, w: "/reports/load", staff_only(302, 200)),
    ("/reports/charts/<name>.svg", "GET"): Case(
        lambda c, r, w: f"/reports/charts/sla.svg?client={c.client_id(w)}", PAGE_SEE),
    ("/reports/<name>.csv", "GET"): Case(lambda c, r, w: f"/reports/breaches.csv?client={c.client_id(w)}", PAGE_SEE),
    ("/reports/charts/<name>.csv", "GET"): Case(
        lambda c, r, w: f"/reports/charts/hours.csv?client={c.client_id(w)}", PAGE_SEE),
    ("/api/v1/reports/charts/<name>", "GET"): Case(
        lambda c, r, w: f"/api/v1/reports/charts/days?client={c.client_id(w)}", SEE_INCIDENT),
    ("/api/v1/reports/history", "GET"): Case(lambda c, r, w: f"/api/v1/reports/history?client={c.client_id(w)}",
                                             SEE_INCIDENT),
    ("/api/v1/reports/figures", "GET"): Case(lambda c, r, w: f"/api/v1/reports/figures?client={c.client_id(w)}",
                                             SEE_INCIDENT),
    ("/api/v1/reports/breaches", "GET"): Case(lambda c, r, w: f"/api/v1/reports/breaches?client={c.client_id(w)}",
                                              SEE_INCIDENT),
    ("/incidents/<int:incident_id>/postmortem", "GET"): Case(page_incident("/postmortem"), PAGE_SEE),
    ("/incidents/<int:incident_id>/postmortem", "POST"): Case(page_incident("/postmortem"), by_client(302, 302),
                                                            form={"impact": "an hour of checkout"}),
    ("/incidents/<int:incident_id>/postmortem.<fmt>", "GET"): Case(page_incident("/postmortem.md"), PAGE_SEE),
    ("/api/v1/incidents/<int:incident_id>/postmortem", "GET"): Case(incident("/postmortem"), SEE_INCIDENT),
    ("/api/v1/incidents/<int:incident_id>/postmortem", "PUT"): Case(incident("/postmortem"), by_client(401, 200),
                                                                  json={"impact": "an hour of checkout"}),
    ("/reports/monthly/<slug>/<month>", "GET"): Case(lambda c, r, w: f"/reports/monthly/{CLIENT[w]}/2026-02", PAGE_SEE),
    ("/reports/monthly/<slug>/<month>.pdf", "GET"): Case(
        lambda c, r, w: f"/reports/monthly/{CLIENT[w]}/2026-02.pdf", PAGE_SEE),
    ("/reports/monthly/<slug>/<month>/<name>.csv", "GET"): Case(
        lambda c, r, w: f"/reports/monthly/{CLIENT[w]}/2026-02/incidents.csv", PAGE_SEE),
    ("/api/v1/reports/monthly/<slug>/<month>", "GET"): Case(
        lambda c, r, w: f"/api/v1/reports/monthly/{CLIENT[w]}/2026-02", SEE_INCIDENT),
    ("/clients/<slug>/report-contacts", "POST"): Case(
        lambda c, r, w: f"/clients/{CLIENT[w]}/report-contacts", by_client(302, 302, staff_only=True),
        form=lambda c, r, w: {"name": "CTO", "email": f"cto-{r}-{w}@client.example"}),
    ("/report-contacts/<int:contact_id>/delete", "POST"): Case(
        lambda c, r, w: f"/report-contacts/{report_contact(c, w)}/delete", by_client(302, 302, staff_only=True),
        form={}),
    # Prometheus: loopback (the test client's address) without a token, whoever is logged in.
    ("/metrics", "GET"): Case(lambda c, r, w: "/metrics", same(200, 200)),
    ("/api/v1/reports/load", "GET"): Case(lambda c, r, w: "/api/v1/reports/load", staff_only(401, 200)),
    ("/pools/<int:pool_id>/rates", "POST"): Case(
        lambda c, r, w: f"/pools/{c.new_pool(w)}/rates", by_pool(302, 302, staff_only=True),
        form={"weekday": "20", "weekend": "40", "holiday": "60", "currency": "EUR", "country": "FR"}),
    # --- being reached: contact methods, rules, push devices (the caller's own only) -----------
    ("/api/v1/push/vapid-public-key", "GET"): Case(lambda c, r, w: "/api/v1/push/vapid-public-key",
                                                  paged_people(401, 200)),
    ("/api/v1/push/subscriptions", "GET"): Case(lambda c, r, w: "/api/v1/push/subscriptions", paged_people(401, 200)),
    # own: this device's subscription, held by the caller (updated: 200); other: a device whose
    # subscription bob holds, where the caller is now logged in (it moves to the caller: 201).
    ("/api/v1/push/subscriptions", "POST"): Case(
        lambda c, r, w: "/api/v1/push/subscriptions", paged_people(401, 200, 201),
        json=lambda c, r, w: c.push_subscription(c.whose(r, w))),
    ("/api/v1/push/subscriptions/<int:method_id>", "DELETE"): Case(
        mine("/api/v1/push/subscriptions/", lambda c, who: c.contact_method(who, "push")), paged_people(401, 204, 404)),
    ("/api/v1/me/contact-methods", "GET"): Case(lambda c, r, w: "/api/v1/me/contact-methods", paged_people(401, 200)),
    ("/api/v1/me/contact-methods", "POST"): Case(
        lambda c, r, w: "/api/v1/me/contact-methods", paged_people(401, 201),
        json=lambda c, r, w: {"kind": "email", "address": f"{r}-{w}-{uuid.uuid4().hex[:8]}@example.com"}),
    ("/api/v1/me/contact-methods/<int:method_id>", "DELETE"): Case(
        mine("/api/v1/me/contact-methods/", Ctx.contact_method), paged_people(401, 204, 404)),
    ("/api/v1/me/contact-methods/<int:method_id>/test", "POST"): Case(
        mine("/api/v1/me/contact-methods/", Ctx.contact_method, "/test"), paged_people(401, 202, 404)),
    ("/api/v1/me/notifications/<int:notification_id>", "GET"): Case(
        mine("/api/v1/me/notifications/", Ctx.notification), paged_people(401, 200, 404)),
    ("/api/v1/me/notification-rules", "GET"): Case(lambda c, r, w: "/api/v1/me/notification-rules",
                                                  paged_people(401, 200)),
    ("/api/v1/me/notification-rules", "PUT"): Case(
        lambda c, r, w: "/api/v1/me/notification-rules", paged_people(401, 200),
        json={"rules": [{"urgency": "high", "kind": "push", "delay_minutes": 0},
                        {"urgency": "high", "kind": "sms", "delay_minutes": 2}]}),
    # --- hand-overs to the client's team: the chain (managers), the state, "we have it" --------
    ("/clients/<slug>/contacts", "GET"): Case(lambda c, r, w: f"/clients/{CLIENT[w]}/contacts",
                                              by_client(302, 200, staff_only=True)),
    ("/clients/<slug>/contacts", "POST"): Case(lambda c, r, w: f"/clients/{CLIENT[w]}/contacts",
                                               by_client(302, 302, staff_only=True), form=CONTACT_FORM),
    ("/contacts/<int:contact_id>/edit", "GET"): Case(lambda c, r, w: f"/contacts/{contact(c, w)}/edit",
                                                     by_client(302, 200, staff_only=True)),
    ("/contacts/<int:contact_id>/edit", "POST"): Case(lambda c, r, w: f"/contacts/{contact(c, w)}/edit",
                                                      by_client(302, 302, staff_only=True), form=CONTACT_FORM),
    ("/contacts/<int:contact_id>/delete", "POST"): Case(lambda c, r, w: f"/contacts/{contact(c, w)}/delete",
                                                        by_client(302, 302, staff_only=True)),
    ("/contacts/<int:contact_id>/move", "POST"): Case(lambda c, r, w: f"/contacts/{contact(c, w)}/move",
                                                      by_client(302, 302, staff_only=True), form={"to": "up"}),
    ("/api/v1/incidents/<int:incident_id>/handover/state", "GET"): Case(incident("/handover/state"), SEE_INCIDENT),
    # The link's token is the credential, whoever calls (the client's contact has no login).
    ("/h/<token>", "GET"): Case(lambda c, r, w: f"/h/{we_have_it_token(c, w)}", same(200, 200)),
    ("/h/<token>", "POST"): Case(lambda c, r, w: f"/h/{we_have_it_token(c, w)}", same(200, 200),
                                 form={"name": "Hank Client"}),
    # --- shift starts: "I'm ready" (a link, the service worker, the home screen), notes ----------
    ("/r/<token>", "GET"): Case(lambda c, r, w: f"/r/{ready_token(c, w)}", same(200, 200)),
    ("/r/<token>", "POST"): Case(lambda c, r, w: f"/r/{ready_token(c, w)}", same(200, 200)),
    ("/api/v1/ready-links/<token>", "POST"): Case(lambda c, r, w: f"/api/v1/ready-links/{ready_token(c, w)}",
                                                  same(200, 200), json={}),
    # own: the caller's own shift start; other: bob's (404: nobody else's business).
    ("/shifts/<int:shift_start_id>/ready", "POST"): Case(
        lambda c, r, w: f"/shifts/{shift_start(c, c.whose(r, w))}/ready",
        {r: ((302, 302) if r == "anonymous" else (302, 404)) for r in ROLES}),
    # Nobody holds a layer in the matrix's world: refused on the page it returns to, 409.
    ("/handoff-notes", "POST"): Case(lambda c, r, w: "/handoff-notes", same(302, 409),
                                     form={"layer_id": "1", "body": "watch db-2"}),
    ("/people/<int:user_id>/test-phones", "POST"): Case(
        lambda c, r, w: f"/people/{c.world.bob if w == 'own' else c.world.carol}/test-phones", staff_only(302, 302)),
    # --- contact methods and rules: the screen (each person their own) -----------------------
    ("/settings/contact", "GET"): Case(lambda c, r, w: "/settings/contact", paged_people(302, 200)),
    ("/settings/contact/methods", "POST"): Case(
        lambda c, r, w: "/settings/contact/methods", paged_people(302, 302),
        form=lambda c, r, w: {"kind": "email", "address": f"{r}-{w}-{uuid.uuid4().hex[:8]}@example.com"}),
    ("/settings/contact/methods/<int:method_id>/delete", "POST"): Case(
        mine("/settings/contact/methods/", Ctx.contact_method, "/delete"), paged_people(302, 302, 404)),
    ("/settings/contact/methods/<int:method_id>/test", "POST"): Case(
        mine("/settings/contact/methods/", Ctx.contact_method, "/test"), paged_people(302, 302, 404)),
    ("/settings/contact/rules", "POST"): Case(
        lambda c, r, w: "/settings/contact/rules", paged_people(302, 302),
        form={"high_count": "1", "high_0_push": "1", "high_0_push_delay": "0", "high_0_start": "22:00",
              "high_0_end": "08:00"}),
    # --- ack links: the token is the credential, whoever calls and whatever their session -------
    # own: a link for an Acme incident (alice's); other: for an Initech one (erin's). Each
    # acknowledges as the link's user: test_an_ack_link_acts_as_its_user_whatever_the_session.
    ("/a/<token>", "GET"): Case(lambda c, r, w: f"/a/{c.ack_token(w)}", same(200, 200)),
    # The page's form carries a CSRF token (the GET puts one in the visitor's session, a new one
    # if nobody is logged in), so this POST keeps the CSRF check, as
    # tests/notifications/test_ack_links.py::test_the_page_form_needs_its_csrf_token wants.
    ("/a/<token>", "POST"): Case(lambda c, r, w: f"/a/{c.ack_token(w)}", same(200, 200),
                                 form=lambda c, r, w: {"op_id": f"op-{uuid.uuid4().hex}"}),
    # The service worker's button: no page, no session, no CSRF token; the token is all.
    ("/api/v1/ack-links/<token>", "POST"): Case(
        lambda c, r, w: f"/api/v1/ack-links/{c.ack_token(w)}", same(200, 200),
        json=lambda c, r, w: {"op_id": f"sw-{uuid.uuid4().hex}"}),
    # --- the SMS/voice provider's webhooks: authenticated by X-Twilio-Signature alone -----------
    # own: signed by the provider (this server's account and auth token), so it acts, whoever's
    # session is sent along; other: the same request unsigned, 403 for everyone, anonymous
    # included. Forged, misdirected and other-account signatures:
    # test_a_provider_webhook_not_signed_for_this_server_is_refused.
    ("/twilio/sms", "POST"): Case(
        lambda c, r, w: "/twilio/sms", {r: (200, 403) for r in ROLES}, twilio=True,
        form=lambda c, r, w: {"MessageSid": f"SM{uuid.uuid4().hex}", "From": c.alice_phone(), "To": TWILIO["TWILIO_FROM"],
                              "Body": f"ACK {c.incident('own')}"}),
    ("/twilio/status/<int:notification_id>", "POST"): Case(
        lambda c, r, w: f"/twilio/status/{c.page('own')}", {r: (204, 403) for r in ROLES}, twilio=True,
        form=lambda c, r, w: {"MessageSid": c.made["provider_id"], "MessageStatus": "undelivered", "ErrorCode": "30003"}),
    ("/twilio/voice/<token>", "POST"): Case(
        lambda c, r, w: f"/twilio/voice/{c.ack_token('own')}", {r: (200, 403) for r in ROLES}, twilio=True,
        form=lambda c, r, w: {"CallSid": f"CA{uuid.uuid4().hex}", "CallStatus": "in-progress"}),
    ("/twilio/voice/<token>/gather", "POST"): Case(
        lambda c, r, w: f"/twilio/voice/{c.ack_token('own')}/gather", {r: (200, 403) for r in ROLES}, twilio=True,
        form=lambda c, r, w: {"CallSid": f"CA{uuid.uuid4().hex}", "Digits": "1"}),
}


@pytest.fixture
def app(database, clock, tmp_path) -> Any:
    """The test app with SMS and voice configured (without a provider account the webhooks do
    not exist: 404)."""
    return make_app(database, clock, tmp_path, **TWILIO)


def routes(app: Any) -> set[tuple[str, str]]:
    """Flask's routes, and the ping URLs answered before Flask (views/heartbeats.PingPath)."""
    return {(r.rule, m) for r in app.url_map.iter_rules() for m in (r.methods or ()) if m not in ("HEAD", "OPTIONS")} \
        | PingPath.ROUTES


def test_every_route_has_an_expectation_for_every_role(app) -> None:
    missing = routes(app) - set(MATRIX)
    assert not missing, f"give these routes a row in MATRIX: {sorted(missing)}"
    assert not set(MATRIX) - routes(app), "MATRIX names routes that do not exist"
    for key, case in MATRIX.items():
        assert set(case.expect) == set(ROLES), key


def _status(ctx: Ctx, case: Case, method: str, role: str, which: str, csrf: bool = True) -> int:
    r = _call(ctx, case, method, role, which, csrf)
    r.close()  # static files are streamed
    return int(r.status_code)


def _call(ctx: Ctx, case: Case, method: str, role: str, which: str, csrf: bool = True) -> Any:
    url = case.url(ctx, role, which)
    if case.token:
        headers = {"Authorization": f"Bearer {ctx.bearer(role)}"} if role != "anonymous" else {}
        return ctx.app.test_client().open(url, method=method, json=case.json, headers=headers)
    b = ctx.browser(role, fresh=case.fresh)
    headers = {"X-CSRFToken": b.csrf or ""} if csrf else {}
    headers.update(case.headers or {})
    body: dict[str, Any] = {}
    if case.twilio:
        assert callable(case.form)
        form = {"AccountSid": TWILIO["TWILIO_ACCOUNT_SID"], **case.form(ctx, role, which)}
        if which == "own":
            headers["X-Twilio-Signature"] = ctx.twilio_signature(url, form)
        return b.client.open(url, method=method, headers=headers, data=form)
    if case.json == "v2":
        body["json"] = {"routing_key": ctx.world.keys["acme_v2" if which == "own" else "globex_v2"],
                        "event_action": "trigger", "payload": {"summary": "x", "source": "s", "severity": "info"}}
    elif url == "/api/v1/intake/generic":
        headers["Authorization"] = f"Bearer {ctx.world.keys[KEY[which]]}"
        body["json"] = case.json
    elif case.json is not None:
        body["json"] = case.json(ctx, role, which) if callable(case.json) else case.json
    elif case.form is not None:
        body["data"] = case.form(ctx, role, which) if callable(case.form) else case.form
    return b.client.open(url, method=method, headers=headers, **body)


@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[1]} {r[0]}")
def test_route_answers_each_role_exactly(route, app, database, clock, world) -> None:
    ctx = build(app, database, clock, world)
    case = MATRIX[route]
    got: dict[str, tuple[int, int]] = {}
    for role in ROLES:
        got[role] = (_status(ctx, case, route[1], role, "own"), _status(ctx, case, route[1], role, "other"))
    assert got == case.expect, json.dumps({r: [got[r], case.expect[r]] for r in ROLES if got[r] != case.expect[r]})


# Authenticated by what they carry (an integration key, an API token, an ack link's token, the
# provider's signature), never by the cookie. Not /a/<token> POST: the page's form has a CSRF token.
NO_CSRF = {("/api/v1/intake/<source>/<key>", "POST"), ("/api/v1/intake/<source>", "POST"), ("/v2/enqueue", "POST"),
           ("/api/v1/services/<int:service_id>/intake/<source>", "POST"), ("/api/v1/ack-links/<token>", "POST"),
           ("/api/v1/ready-links/<token>", "POST"),
           ("/twilio/sms", "POST"), ("/twilio/status/<int:notification_id>", "POST"), ("/twilio/voice/<token>", "POST"),
           ("/twilio/voice/<token>/gather", "POST"), ("/hb/<token>", "POST"), ("/hb/<token>/<kind>", "POST"),
           ("/api/v1/intake/email/<key>", "POST"),
           ("/api/v1/intake/email", "POST"), ("/api/v1/intake/email/<key>/<provider>", "POST"),
           ("/status/<slug>/subscribers/<int:sub_id>/confirm/<token>", "POST"),
           ("/status/<slug>/subscribers/<int:sub_id>/unsubscribe/<token>", "POST")}


def test_every_write_with_the_session_needs_the_csrf_token(app, database, clock, world) -> None:
    """The matrix sends the token with every request; here each state-changing route is called
    by a logged-in admin without it (form field or header): 400, before the view runs."""
    ctx = build(app, database, clock, world)
    writes = {key for key in MATRIX if key[1] not in ("GET", "HEAD", "OPTIONS")}
    exempt = {(r.rule, m) for r in app.url_map.iter_rules() for m in (r.methods or ())
              if (r.rule, m) in writes and getattr(app.view_functions[r.endpoint], "csrf_exempt", False)}
    exempt |= {key for key in PingPath.ROUTES if key in writes}  # answered before Flask: no cookie read at all
    assert exempt == NO_CSRF
    got = {key: _status(ctx, MATRIX[key], key[1], "admin", "own", csrf=False) for key in sorted(writes - NO_CSRF)}
    assert got == dict.fromkeys(got, 400)


def test_a_client_viewer_form_action_changes_nothing(app, database, clock, world) -> None:
    ctx = build(app, database, clock, world)
    iid = ctx.incident("own")
    r = ctx.browser("viewer").client.post(f"/incidents/{iid}/resolve", data={"summary": "x", "csrf_token": ctx.browser("viewer").csrf})
    assert r.status_code == 302
    assert ctx.browser("admin").get(f"/api/v1/incidents/{iid}").get_json()["incident"]["status"] == "triggered"


def test_another_clients_incident_by_id_is_not_found_not_forbidden(app, database, clock, world) -> None:
    ctx = build(app, database, clock, world)
    theirs = ctx.incident("other")
    for role in ("engineer", "outsider", "viewer"):
        b = ctx.browser(role)
        pages = [b.get(f"/incidents/{theirs}")] if role != "viewer" else []  # a viewer is sent to its status page
        for r in (b.get(f"/api/v1/incidents/{theirs}"), *pages,
                  b.post(f"/api/v1/incidents/{theirs}/ack", json={}), b.get(f"/api/v1/incidents/{theirs + 1000}")):
            assert r.status_code == 404, (role, r.request.path)
        assert theirs not in [i["id"] for i in b.get("/api/v1/incidents?status=all").get_json()["incidents"]]


def _acknowledged_by(ctx: Ctx, iid: int) -> str | None:
    from app.models import Incident

    with ctx.database.transaction() as s:
        inc = s.get(Incident, iid)
        return inc.acknowledged_by.name if inc.acknowledged_by else None


def test_an_ack_link_acts_as_its_user_whatever_the_session(app, database, clock, world) -> None:
    """The token is the credential: Acme's client viewer (who may not act on any incident), the
    Initech viewer and an engineer of another pool, holding Erin's link to an Initech incident,
    acknowledge as Erin; their own session neither helps nor hinders."""
    ctx = build(app, database, clock, world)
    for role in ("viewer", "other_viewer", "engineer"):
        b = ctx.browser(role)
        token = ctx.ack_token("other")
        iid = ctx.made["incident"]
        assert "Acknowledge as Erin Night" in b.get(f"/a/{token}").get_data(as_text=True)
        r = b.client.post(f"/a/{token}", data={"op_id": f"op-{role}", "csrf_token": b.csrf})
        assert r.status_code == 200 and f"#{iid} acknowledged." in r.get_data(as_text=True), role
        assert _acknowledged_by(ctx, iid) == "Erin Night"
        token = ctx.ack_token("other")
        r = b.post(f"/api/v1/ack-links/{token}", json={"op_id": f"sw-{role}"})
        assert r.status_code == 200 and _acknowledged_by(ctx, ctx.made["incident"]) == "Erin Night", role


def test_a_provider_webhook_not_signed_for_this_server_is_refused(app, database, clock, world, tmp_path) -> None:
    """Besides unsigned (the matrix's "other"): a signature made with another auth token, one made
    for another address, and a good signature on a request for another account are all 403, and
    change nothing. A server without a provider account has no webhooks: 404."""
    from app.models import InboundMessage, TimelineEntry

    ctx = build(app, database, clock, world)
    sid = TWILIO["TWILIO_ACCOUNT_SID"]
    token = ctx.ack_token("own")
    iid = ctx.made["incident"]
    other = ctx.ack_token("own")
    nid = ctx.page("own")
    paged = ctx.made["incident"]
    cases = {
        "/twilio/sms": {"MessageSid": "SM" + "1" * 32, "From": ctx.alice_phone(), "Body": f"ACK {iid}"},
        f"/twilio/status/{nid}": {"MessageSid": ctx.made["provider_id"], "MessageStatus": "failed"},
        f"/twilio/voice/{token}": {"CallSid": "CA" + "1" * 32},
        f"/twilio/voice/{token}/gather": {"CallSid": "CA" + "2" * 32, "Digits": "1"},
    }
    for path, form in cases.items():
        form = {"AccountSid": sid, **form}
        # Signed for another address: another link's call, or this path on another server.
        elsewhere = (ctx.twilio_signature(path.replace(token, other), form) if token in path
                     else twilio_signature(TWILIO["TWILIO_AUTH_TOKEN"], "https://elsewhere.example" + path, form))
        for signature, sent in ((ctx.twilio_signature(path, form, token="another-accounts-auth-token"), form),
                                (elsewhere, form),
                                (ctx.twilio_signature(path, {**form, "AccountSid": "AC" + "9" * 32}),
                                 {**form, "AccountSid": "AC" + "9" * 32})):
            r = app.test_client().post(path, data=sent, headers={"X-Twilio-Signature": signature})
            assert r.status_code == 403, (path, r.get_data(as_text=True))
    assert _acknowledged_by(ctx, iid) is None
    with database.transaction() as s:
        assert not s.query(TimelineEntry).filter_by(incident_id=paged, kind="delivery_report").count()
        assert not s.query(InboundMessage).count()

    bare = make_app(database, clock, tmp_path / "no-twilio")
    form = {"AccountSid": sid, "CallSid": "CA" + "3" * 32}
    r = bare.test_client().post(f"/twilio/voice/{token}", data=form,
                                headers={"X-Twilio-Signature": ctx.twilio_signature(f"/twilio/voice/{token}", form)})
    assert r.status_code == 404


def test_a_client_viewers_refusal_changes_nothing(app, database, clock, world) -> None:
    """Refused before anything is looked up: a viewer's own method (made behind the API's back)
    stays, and subscribing the device whose subscription bob holds does not take it from him."""
    from app.models import ContactMethod

    ctx = build(app, database, clock, world)
    viewer = ctx.browser("viewer")
    own = ctx.contact_method("viewer")
    assert viewer.client.delete(f"/api/v1/me/contact-methods/{own}", headers={"X-CSRFToken": viewer.csrf}).status_code == 403
    body = ctx.push_subscription("bob")
    assert viewer.post("/api/v1/push/subscriptions", json=body).status_code == 403
    with database.transaction() as s:
        assert s.get(ContactMethod, own) is not None
        [held] = s.query(ContactMethod).filter_by(kind="push", address=body["endpoint"]).all()
        assert held.user_id == world.bob
