"""Demo data: two clients on the two contract tiers, a shared pool of engineers, keys for every
intake source. Loading is idempotent; passwords and keys are derived from the installation's
secret key, so running `vigil demo` again prints the same values (only their hashes are stored).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..accounts.users import create_user, find_by_email
from ..db import Database
from ..incidents import policies
from ..incidents.escalation import TargetSpec
from ..intake import heartbeats
from ..intake.keys import create_key, digest
from ..intake.mail.recipients import DEMO_DOMAIN, DOMAIN_SETTING, configured_domain, local_part_of
from ..models import (
    Client,
    ClientMail,
    ContactMethod,
    EscalationPolicy,
    IntegrationKey,
    Pool,
    PoolMember,
    Schedule,
    Service,
    Setting,
    StatusPage,
    User,
)
from ..notify.readiness import describe as channels
from ..schedules import overrides
from ..schedules import store as schedule_store
from ..schedules.coverage import local_to_utc, zone
from ..schedules.rosters import layer_oncall
from . import history as demo_history

USERS = [
    # email, name, role, phone, in the pool
    ("admin@vigil.example", "Ada Admin", "admin", None, False),
    ("maya@vigil.example", "Maya Manager", "manager", "+33600000001", False),
    ("theo@vigil.example", "Theo Lead", "engineer", "+33600000002", True),
    ("alice@vigil.example", "Alice Martin", "engineer", "+33600000003", True),
    ("bob@vigil.example", "Bob Durand", "engineer", "+33600000004", True),
    ("carol@vigil.example", "Carol Petit", "engineer", "+33600000005", True),
]
CLIENTS = [
    # slug, name, tier, services
    ("acme", "Acme Retail", "4h", ["Web shop", "Payments API"]),
    ("globex", "Globex Logistics", "1h", ["Warehouse API", "Tracking"]),
]
HEARTBEATS = [
    # client slug, service, name, period (s), grace (s), time zone, cron
    ("acme", "Payments API", "Nightly database backup", 86400, 3600, "Europe/Paris", "0 2 * * *"),
]
KEYS = [
    # client slug, service, source
    ("acme", "Web shop", "alertmanager"),
    ("acme", "Web shop", "generic"),
    ("acme", "Payments API", "grafana"),
    ("globex", "Warehouse API", "events_v2"),
    ("globex", "Tracking", "alertmanager"),
]


def _derive(secret: str, what: str, length: int) -> str:
    return hmac.new(secret.encode(), f"vigil-demo:{what}".encode(), hashlib.sha256).hexdigest()[:length]


def load(db: Database, config: dict[str, Any], now: datetime) -> dict[str, Any]:
    secret = config["SECRET_KEY"]
    base_url = config.get("BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    with db.transaction() as s:
        users = {email: _user(s, secret, email, name, role, phone, now, config) for email, name, role, phone, _ in USERS}
        pool = s.execute(select(Pool).where(Pool.name == "Pool A")).scalar_one_or_none()
        if pool is None:
            pool = Pool(name="Pool A", created_at=now)
            s.add(pool)
            s.flush()
        for email, *_rest, in_pool in USERS:
            if in_pool and s.get(PoolMember, (pool.id, users[email].id)) is None:
                s.add(PoolMember(pool_id=pool.id, user_id=users[email].id))
        primary, secondary = _schedule(s, pool, users, now)
        policy = {
            "4h": _policy(s, "Acme: 4-hour SLA", "4h", {
                "primary": TargetSpec("layer", primary),
                "lead": TargetSpec("user", users["theo@vigil.example"].id),
            }, now),
            "1h": _policy(s, "Globex: 1-hour SLA, dual on-call", "1h", {
                "primary": TargetSpec("layer", primary),
                "secondary": TargetSpec("layer", secondary),
                "manager": TargetSpec("user", users["maya@vigil.example"].id),
            }, now),
        }
        services: dict[tuple[str, str], Service] = {}
        for slug, name, tier, service_names in CLIENTS:
            client = s.execute(select(Client).where(Client.slug == slug)).scalar_one_or_none()
            if client is None:
                client = Client(slug=slug, name=name, tier=tier, pool_id=pool.id, policy_id=policy[tier].id,
                                created_at=now, handover_email=f"dev-team@{slug}.example")
                s.add(client)
                s.flush()
            for sname in service_names:
                svc = s.execute(select(Service).where(Service.client_id == client.id, Service.name == sname)).scalar_one_or_none()
                if svc is None:
                    svc = Service(client_id=client.id, name=sname, created_at=now)
                    s.add(svc)
                    s.flush()
                services[(slug, sname)] = svc
        viewer = find_by_email(s, "viewer@acme.example")
        if viewer is None:
            acme = s.execute(select(Client).where(Client.slug == "acme")).scalar_one()
            viewer = create_user(s, email="viewer@acme.example", name="Victor (Acme)", role="client_viewer",
                                 password=_derive(secret, "pw:viewer@acme.example", 16), now=now, client_id=acme.id)
        keys = []
        for slug, sname, source in KEYS:
            plain = _derive(secret, f"key:{slug}:{sname}:{source}", 32)
            if s.execute(select(IntegrationKey).where(IntegrationKey.key_hash == digest(plain))).scalar_one_or_none() is None:
                create_key(s, services[(slug, sname)], source, now=now, key=plain, name=f"demo {source}")
            keys.append({"client": slug, "service": sname, "source": source, "key": plain})
        beats = []
        for slug, sname, name, period, grace, tz, cron in HEARTBEATS:
            token = str(uuid.UUID(bytes=bytes.fromhex(_derive(secret, f"hb:{slug}:{sname}:{name}", 32)), version=4))
            if heartbeats.monitor_for_token(s, token) is None:
                heartbeats.create(s, services[(slug, sname)], heartbeats.MonitorInput(name, period, grace, tz, cron), now,
                                  token=token)
            beats.append({"client": slug, "service": sname, "name": name, "ping_url": f"{base_url}/hb/{token}"})
        channel_lines = channels(config, s)
        mail = _mail(s, config, {slug: s.execute(select(Client).where(Client.slug == slug)).scalar_one()
                                  for slug, *_ in CLIENTS}, now)

        demo_history.load(s, config, now, admin=users["admin@vigil.example"], primary=primary, secondary=secondary)
        status_pages = {"acme": f"{base_url}/status/acme"}
        acme_page = s.get(StatusPage, services[("acme", "Web shop")].client_id)
        if acme_page is None:  # Acme shows its page to the world: the demo's public status page
            s.add(StatusPage(client_id=services[("acme", "Web shop")].client_id, visibility="public", title="",
                             color="#c2410c", created_at=now, updated_at=now))
        else:
            acme_page.visibility = "public"
        oncall = _on_call_now(s, {"Primary": primary, "Secondary": secondary}, now)

    logins = [{"email": e, "password": _derive(secret, f"pw:{e}", 16), "role": r} for e, _, r, _, _ in USERS]
    logins.append({"email": "viewer@acme.example", "password": _derive(secret, "pw:viewer@acme.example", 16),
                   "role": "client_viewer"})
    ev2 = next(k for k in keys if k["source"] == "events_v2")
    curl = (
        f"curl -sS -X POST {base_url}/v2/enqueue -H 'Content-Type: application/json' -d "
        f"'{{\"routing_key\": \"{ev2['key']}\", \"event_action\": \"trigger\", \"dedup_key\": \"disk-web-2\", "
        f"\"payload\": {{\"summary\": \"Disk 95% full on web-2\", \"source\": \"web-2\", \"severity\": \"critical\"}}}}'"
    )
    return {"url": base_url, "logins": logins, "integration_keys": keys, "heartbeats": beats, "curl": curl, "channels": channel_lines,
            "oncall": oncall, "incident_url": f"{base_url}/incidents/by-key/disk-web-2", "mail": mail,
            "status_pages": status_pages}


def _mail(s: Session, config: dict[str, Any], clients: dict[str, Client], now: datetime) -> dict[str, Any]:
    """Turn the mail listener on (the demo's domain, unless VIGIL_MAIL_DOMAIN is set) and let each
    client's ops address open incidents; everyone else is held for review."""
    domain = config.get("MAIL_DOMAIN")
    if not domain:
        if s.get(Setting, DOMAIN_SETTING) is None:
            s.add(Setting(key=DOMAIN_SETTING, value=DEMO_DOMAIN, created_at=now))
        domain = configured_domain(s, config) or DEMO_DOMAIN
    addresses, senders = {}, {}
    for slug, client in clients.items():
        row = s.get(ClientMail, client.id)
        if row is None:
            row = ClientMail(client_id=client.id, allowed_senders=[f"ops@{slug}.example"], unknown_senders="hold",
                             reopen_days=7, rate_per_hour=30, enabled=True)
            s.add(row)
        addresses[slug] = f"{local_part_of(client, row)}@{domain}"
        senders[slug] = f"ops@{slug}.example"
    host = config.get("MAIL_HOST") or "127.0.0.1"
    return {"smtp": f"{'127.0.0.1' if host == '0.0.0.0' else host}:{config.get('MAIL_PORT') or 2525}",
            "addresses": addresses, "allowed_senders": senders}


def _on_call_now(s: Session, layers: dict[str, int], now: datetime) -> list[dict[str, Any]]:

    out = []
    for name, layer_id in layers.items():
        ids, _label = layer_oncall(s, layer_id, now)
        person = s.get(User, ids[0]) if ids else None
        out.append({"layer": name, "name": person.name if person else None, "email": person.email if person else None})
    return out


def _user(s: Session, secret: str, email: str, name: str, role: str, phone: str | None, now: datetime,
          config: dict[str, Any]) -> User:
    user = find_by_email(s, email)
    if user is None:
        user = create_user(s, email=email, name=name, role=role, password=_derive(secret, f"pw:{email}", 16),
                           now=now, phone=phone)
        # The demo's addresses are fictitious, and a demo install usually has no SMS provider or
        # mail server: only the channels this server can use are kept (each failed page would
        # otherwise add a FAILED line per channel to every timeline). Pages are recorded on the
        # timeline through the recording channel; a real push subscription comes from the app.
        usable = {"sms": bool(config.get("TWILIO_ACCOUNT_SID")), "voice": bool(config.get("TWILIO_ACCOUNT_SID")),
                  "email": bool(config.get("SMTP_HOST"))}
        for m in [m for m in user.contact_methods if not usable.get(m.kind, True)]:
            user.contact_methods.remove(m)
        user.contact_methods.append(ContactMethod(kind="recording", address=email, label="demo log", created_at=now))
        s.flush()
    return user


SCHEDULE = "Pool A on-call"
ROTATIONS = [
    # layer, turns: a complete dual schedule (nobody holds both layers in the same week)
    ("Primary", ["alice@vigil.example", "bob@vigil.example", "carol@vigil.example", "theo@vigil.example"]),
    ("Secondary", ["carol@vigil.example", "theo@vigil.example", "alice@vigil.example", "bob@vigil.example"]),
]


def _schedule(s: Session, pool: Pool, users: dict[str, User], now: datetime) -> tuple[int, int]:
    """Pool A's schedule: Primary and Secondary, handing off weekly on Mondays at 09:00 in
    Paris; the ids of the two layers."""
    found = s.execute(select(Schedule).where(Schedule.name == SCHEDULE)).scalar_one_or_none()
    if found is None:
        admin = users["admin@vigil.example"]
        found = schedule_store.save_schedule(s, admin, None, name=SCHEDULE, pool_id=pool.id,
                                             timezone="Europe/Paris", coverage=None, now=now)
        # Begun five weeks ago: someone is on call from the first minute, and the demo's past
        # (app/demo_history.py) was answered by whoever the schedule had on call then.
        today = now.astimezone(zone("Europe/Paris")).date()
        for name, turns in ROTATIONS:
            spec = schedule_store.RotationSpec.parse({
                "members": [users[e].id if e else None for e in turns], "length": "weekly", "handoff_day": 0,
                "handoff_time": "09:00", "start_date": (today - timedelta(days=today.weekday() + 35)).isoformat(),
                "timezone": "Europe/Paris"})
            schedule_store.save_layer(s, admin, found.id, None, name=name, rotation=spec, now=now)
        s.flush()
        # One night next week the Secondary is on leave: an open slot for the pool to claim, and
        # a coverage gap the managers' overview announces until someone takes it.

        night = today + timedelta(days=9)
        secondary = next(layer for layer in found.layers if layer.name == "Secondary")
        overrides.create(s, admin, secondary.id, None, local_to_utc(night, time(19), zone("Europe/Paris")),
                         local_to_utc(night + timedelta(days=1), time(9), zone("Europe/Paris")), now,
                         note="Secondary on leave (demo): claim it on /open-slots")
        pool.allowance_weekday_cents, pool.allowance_weekend_cents, pool.allowance_holiday_cents = 2500, 5000, 7500
        s.flush()
    layers = {layer.name: layer.id for layer in found.layers}
    return layers["Primary"], layers["Secondary"]


def _policy(s: Session, name: str, tier: str, roles: dict[str, TargetSpec], now: datetime) -> Any:
    found = s.execute(select(EscalationPolicy).where(EscalationPolicy.name == name)).scalar_one_or_none()
    if found is None:
        found = policies.create_preset(s, tier, name, roles, now=now)
        s.flush()
    return found


def describe(info: dict[str, Any]) -> str:
    lines = [f"Vigil demo data is loaded. Open {info['url']} and log in as:", ""]
    for login in info["logins"]:
        lines.append(f"  {login['role']:<14} {login['email']:<24} password: {login['password']}")
    lines += ["", "Integration keys:"]
    for k in info["integration_keys"]:
        lines.append(f"  {k['client']:<7} {k['service']:<14} {k['source']:<13} {k['key']}")
    lines += ["", "Heartbeats (ping with curl -fsS URL; add /start or /fail):"]
    for h in info["heartbeats"]:
        lines.append(f"  {h['client']:<7} {h['service']:<14} {h['name']}: {h['ping_url']}")
    lines += ["", f"{SCHEDULE}: Primary and Secondary hand off on Mondays at 09:00 (Europe/Paris).", "On call now:"]
    for o in info.get("oncall", []):
        lines.append(f"  {o['layer']:<10} {o['name'] or 'nobody'}" + (f" ({o['email']})" if o["email"] else ""))
    lines += ["One night next week the Secondary is an open slot (see /open-slots); the last three weeks of",
              "incidents, the runbooks and the connection info are in place (see /incidents and /clients)."]
    mail = info["mail"]
    lines += ["", f"Client e-mail (`vigil serve` runs the listener on {mail['smtp']}); send a test mail:",
              f"  swaks --server {mail['smtp']} --from {mail['allowed_senders']['acme']} --to {mail['addresses']['acme']} "
              "--header 'Subject: The web shop is down'"]
    lines += ["", "Notification channels:", *(f"  {c}" for c in info["channels"]),
              "  Every demo user also has the recording channel: each page shows on the incident's timeline.",
              "", "Fire an alert (Globex, 1-hour SLA):", f"  {info['curl']}",
              f"then open the incident it opens: {info['incident_url']}", "",
              "Status pages (public; the Acme viewer lands on Acme's when logging in):",
              *(f"  {slug:<7} {url}" for slug, url in info.get("status_pages", {}).items()), ""]
    return "\n".join(lines)
