"""The demo's past: three weeks of incidents (acknowledged at varied times, a few late, some handed
over to the client's team, every one resolved with a summary), the clients' runbooks and
connection info. Seeded, so every install gets the same story; relative to now, so it is always
"the last three weeks"; written once (a second `vigil demo` finds it and adds nothing).

The people who answer are whoever the schedule had on call at the time, as in real life."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clients import connections, runbooks
from ..clients.crypto import Vault
from ..models import Client, Incident, Service, StepFiring, TimelineEntry, User
from ..schedules.rosters import layer_oncall

MARKER = "demo-history-"
DAYS = 21
SEED = 17

# client slug, service, summary, details, source, severity, what fixed it
ALERTS = [
    ("acme", "Web shop", "HTTP 5xx above 5% on the web shop", "job=nginx instance=web-1 rate=7.2%", "alertmanager", "critical",
     "php-fpm pool exhausted after a traffic spike from a newsletter; raised pm.max_children from 20 to 40."),
    ("acme", "Web shop", "Disk 92% full on web-2", "mountpoint=/var device=/dev/sda2", "alertmanager", "warning",
     "nginx access logs not rotated since the upgrade; fixed logrotate and freed 14 GB."),
    ("acme", "Payments API", "Payment provider timeouts above 2 s", "p99=2.8s provider=adyen region=eu-west", "grafana", "critical",
     "provider incident on their side (status page confirmed); traffic failed over to the backup route until it cleared."),
    ("acme", "Web shop", "TLS certificate expires in 5 days", "cn=shop.acme-retail.fr", "generic", "warning",
     "certbot renewal hook failed on a changed webroot; renewed by hand and fixed the hook."),
    ("acme", "Payments API", "Database replication lag 45 s", "replica=db-2 lag=45s", "grafana", "critical",
     "long-running report query on the replica; killed it and moved the report to the analytics copy."),
    ("globex", "Warehouse API", "Warehouse API not answering", "probe=https://wms.globex-logistics.eu/health", "events_v2", "critical",
     "JVM out of memory after a bulk import; restarted with a larger heap and opened a ticket for the import job."),
    ("globex", "Tracking", "Tracking queue backlog over 10,000 messages", "queue=tracking.events depth=12480", "alertmanager", "critical",
     "one consumer stuck on a malformed message; moved it to the dead-letter queue and restarted the consumers."),
    ("globex", "Warehouse API", "VPN tunnel to the Lyon depot down", "peer=lyon-depot ipsec=down", "events_v2", "critical",
     "the depot's ISP changed their public address; updated the peer and the tunnel came back."),
    ("globex", "Tracking", "Load average 24 on track-1", "host=track-1 load15=24.1 cpus=8", "alertmanager", "warning",
     "runaway cron job duplicated by a deploy; removed the duplicate entry."),
    ("globex", "Warehouse API", "Barcode scanners cannot log in", "service=wms-auth error_rate=100%", "events_v2", "critical",
     "LDAP bind password expired on the client's side: application issue for their team."),
]

ACTIONS = [
    "looked at the dashboards: the spike started at the same time as the alert",
    "restarted the service on the affected host",
    "checked the last deploy: nothing changed in the last 48 hours",
    "opened a ticket with the provider",
    "confirmed with the client's contact by phone",
]

RUNBOOKS = [
    ("acme", None, "Web shop: 5xx errors", """## When the web shop answers 5xx

1. Open the Grafana board *Acme / Web* and look at the php-fpm pool: `active processes` at the limit means the pool is exhausted.
2. Connect to **web-1** and **web-2** through the bastion (see *Connect*), then:

   ```
   sudo systemctl status php8.2-fpm
   sudo tail -n 200 /var/log/php8.2-fpm.log
   ```
3. A full pool: raise `pm.max_children` in `/etc/php/8.2/fpm/pool.d/www.conf` (at most 60 on these hosts), then `sudo systemctl reload php8.2-fpm`.
4. Still failing after 15 minutes: hand over to Acme's team (their on-call is in the contract) and keep the incident open.
"""),
    ("acme", "Payments API", "Payments API: provider timeouts", """## Provider timeouts

- Check the provider's status page first: most timeouts are theirs.
- The backup route is a feature flag: `payments.route=backup` in the admin console (Acme approved its use at any hour).
- Note the time you switched on the incident's timeline: Acme's finance team reconciles by it.
"""),
    ("globex", None, "Globex: Warehouse API down", """## Warehouse API down (1-hour SLA: take slot #1 at once)

1. Take **Responder #1**; the second engineer takes #2 when paged at M+30.
2. Over the VPN (see *Connect*), on `wms-1`:

   ```
   sudo systemctl status wms
   sudo journalctl -u wms --since "-30 min" | tail -n 100
   ```
3. `OutOfMemoryError` in the journal: restart with `sudo systemctl restart wms` and note the heap use before the restart.
4. The depots work offline for two hours: tell Globex's logistics desk (+33 4 00 00 00 00) when it is back.
"""),
    ("globex", "Tracking", "Tracking: queue backlog", """## Tracking queue backlog

- `rabbitmqctl list_queues name messages consumers` on `mq-1`.
- A consumer stuck on one message: move that message to `tracking.dead` with the shovel in the admin UI, then restart the consumers (`sudo systemctl restart tracking-consumer@*`).
- Over 50,000 messages: call the Globex on-call developer, it is an application issue.
"""),
]

CONNECTIONS = [
    ("acme", {"kind": "bastion", "label": "Acme bastion (SSH)", "host": "bastion.acme-retail.fr", "port": 22,
              "user": "oncall", "password": "Tr0ub4dor&3-acme",
              "instructions": "Then ssh web-1 / web-2 / db-1 from the bastion."}),
    ("acme", {"kind": "ssh", "label": "web-1", "host": "10.20.0.11", "user": "oncall", "jump_host": "bastion.acme-retail.fr"}),
    ("globex", {"kind": "vpn", "label": "Globex VPN (WireGuard)", "vpn_profile": "[Interface]\nAddress = 10.99.0.7/32\n"
                "[Peer]\nEndpoint = vpn.globex-logistics.eu:51820\nAllowedIPs = 10.40.0.0/16",
                "instructions": "Activate the profile, then ssh oncall@10.40.0.10 (wms-1)."}),
    ("globex", {"kind": "ssh", "label": "wms-1", "host": "10.40.0.10", "user": "oncall", "password": "globex-wms-Night-2026"}),
]


def has_history(session: Session) -> bool:
    return session.execute(select(Incident.id).where(Incident.dedup_key.like(f"{MARKER}%")).limit(1)).first() is not None


def load(session: Session, config: dict[str, Any], now: datetime, *, admin: User, primary: int, secondary: int) -> int:
    """Write the history once; the number of past incidents written (0 when it was there)."""
    if has_history(session):
        return 0
    clients = {c.slug: c for c in session.execute(select(Client)).scalars()}
    services = {(c.slug, s.name): s for c in clients.values() for s in c.services}
    for slug, service, title, body in RUNBOOKS:
        sid = services[(slug, service)].id if service else None
        runbooks.save(session, admin, clients[slug].id, title=title, body=body, service_id=sid, now=now - timedelta(days=DAYS + 3))
    vault = Vault.from_config(config)
    for slug, data in CONNECTIONS:
        connections.create(session, vault, admin, clients[slug].id, data, now - timedelta(days=DAYS + 3))
    rng = random.Random(SEED)
    written = 0
    for day in range(DAYS, 0, -1):
        for _ in range(rng.choice((0, 1, 1, 1, 2))):
            alert = rng.choice(ALERTS)
            start = (now - timedelta(days=day)).replace(hour=rng.randrange(24), minute=rng.randrange(60), second=0, microsecond=0)
            if start >= now - timedelta(hours=12):
                continue
            written += 1
            _incident(session, rng, alert, clients[alert[0]], services[(alert[0], alert[1])], start, written,
                      primary=primary, secondary=secondary)
    session.flush()
    return written


def _who(session: Session, layer_id: int, at: datetime) -> User | None:
    ids, _ = layer_oncall(session, layer_id, at)
    return session.get(User, ids[0]) if ids else None


def _incident(session: Session, rng: random.Random, alert: tuple[str, ...], client: Client, service: Service,
              start: datetime, n: int, *, primary: int, secondary: int) -> None:
    slug, _service, summary, details, source, severity, fix = alert
    policy = client.policy
    response = timedelta(minutes=policy.response_minutes if policy else 240)
    dual = client.tier == "1h"
    first = _who(session, primary, start)
    second = _who(session, secondary, start) if dual else None
    if first is None:
        return
    # Most are answered within minutes; about one in six late (asleep through the first pages).
    late = n % 6 == 3
    minutes = (response.total_seconds() / 60) + rng.randrange(5, 25) if late else rng.choice((1, 2, 3, 4, 6, 8, 11, 14, 19, 27))
    answered = start + timedelta(minutes=minutes)
    answerer = second if (late and second is not None) else first
    handed = "application issue" in fix
    resolved = answered + timedelta(minutes=rng.randrange(12, 170))
    inc = Incident(
        client_id=client.id, service_id=service.id, policy_id=policy.id if policy else None, summary=summary,
        details=details, source=source, severity=severity, urgency="high" if severity == "critical" else "low",
        dedup_key=f"{MARKER}{n}", status="resolved", alert_count=rng.choice((1, 1, 1, 2, 3, 7)), created_at=start,
        last_alert_at=start, response_deadline=start + response, responded_at=answered,
        sla_breached_at=start + response if late else None, acknowledged_at=answered, acknowledged_by_id=answerer.id,
        handed_over_at=(answered + timedelta(minutes=9)) if handed else None,
        handover_reason="application issue: their LDAP service account" if handed else None,
        resolved_at=resolved, resolved_by_id=answerer.id, resolution_summary=fix,
        esc_seq=3 if late else 1, esc_step=3 if late else 1, next_escalation_at=None,
        slot1_user_id=answerer.id if dual else None, slot1_at=answered if dual else None,
        slot2_user_id=(first.id if answerer is not first else (second.id if second else None)) if dual else None,
        slot2_at=(answered + timedelta(minutes=4)) if dual else None,
    )
    session.add(inc)
    session.flush()
    notes: list[tuple[datetime, str, User | None, str]] = [(start, "triggered", None, f"Incident opened: {summary}")]
    notes.append((start, "escalated", None, f"Step 1 (M+0): notifying {first.name}."))
    session.add(StepFiring(incident_id=inc.id, seq=1, step_index=0, loop=0, due_at=start, fired_at=start,
                           lateness_ms=rng.randrange(8, 60), engine="demo", targets=[first.id]))
    if late:
        m30 = start + timedelta(minutes=30)
        again = f"{first.name} and {second.name}" if second else first.name
        notes.append((m30, "escalated", None, f"Step 2 (M+30): notifying {again}."))
        notes.append((start + response, "sla_breached", None,
                      f"RESPONSE DEADLINE MISSED: nobody responded by {(start + response).strftime('%H:%M UTC')}."))
    notes.append((answered, "acknowledged", answerer, f"Acknowledged by {answerer.name}."))
    if dual:
        notes.append((answered, "claimed", answerer, f"{answerer.name} took slot #1."))
        other = session.get(User, inc.slot2_user_id) if inc.slot2_user_id else None
        if other is not None:
            notes.append((answered + timedelta(minutes=4), "claimed", other, f"{other.name} took slot #2."))
    for i in range(rng.randrange(1, 3)):
        notes.append((answered + timedelta(minutes=3 + 4 * i), "action", answerer, rng.choice(ACTIONS)))
    if handed:
        notes.append((inc.handed_over_at, "handed_over", answerer,
                      f"Handed over to {client.name}'s team: {inc.handover_reason}"))
    notes.append((resolved, "resolved", answerer, f"Resolved by {answerer.name}: {fix}"))
    for at, kind, who, message in notes:
        session.add(TimelineEntry(incident_id=inc.id, at=at, kind=kind, actor_id=who.id if who else None,
                                  actor_label=who.name if who else "escalation", message=message, data={}))
