"""What a status page shows, as one JSON-ready dict built from public facts only: components and
their states, incidents with their public updates and the promise, 90 days of history and uptime,
maintenance. The HTML page, the Statuspage-shaped API, the feeds and the page's WebSocket all
read this; nothing else of an incident (its alert text, timeline, notes, people, connection
info) is ever read here, so nothing else can leak."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..clients import handover
from ..models import Client, Incident, MaintenanceWindow, PublicUpdate, Status, StatusPage
from . import components, uptime
from .pages import public_id
from .promise import promise_of, share_kept

HISTORY_DAYS = 90
# Events after which a page may have changed: the page's socket sends its new state then, and
# nothing else (an internal event of the same client changes nothing public).
PUBLIC_KINDS = frozenset({
    "incident.triggered", "incident.acknowledged", "incident.claimed", "incident.handed_over", "incident.resolved",
    "incident.released", "handover.taken", "handover.exhausted", "status.update_posted", "status.component_changed",
    "status.maintenance_changed", "status.page_changed",
})
INDICATOR_TEXT = {"none": "All Systems Operational", "minor": "Minor Service Outage", "major": "Partial System Outage",
                  "critical": "Major System Outage", "maintenance": "Service Under Maintenance"}
IMPACT_RANK = {"none": 0, "minor": 1, "major": 2, "critical": 3}
_NAME = {"critical": "Major outage of {}", "major": "Disruption of {}", "minor": "Degraded performance of {}"}


def build(session: Session, client: Client, page: StatusPage, now: datetime, *, base_url: str, secret_key: str) -> dict[str, Any]:
    tz = ZoneInfo(client.timezone)
    since = now - timedelta(days=HISTORY_DAYS)
    pairs = components.of_client(session, client.id)
    comp_id = {svc.id: public_id(secret_key, "component", svc.id) for svc, _ in pairs}
    comp_name = {svc.id: (c.name if c and c.name else svc.name) for svc, c in pairs}

    t = Incident.__table__.c
    rows = session.execute(
        select(t.id, t.service_id, t.urgency, t.severity, t.status, t.created_at, t.responded_at, t.response_deadline,
               t.resolved_at)
        .where(t.client_id == client.id, or_(t.status != Status.resolved.value, t.resolved_at >= since))
        .order_by(t.created_at.desc())).all()
    ids = [r.id for r in rows]
    updates: dict[int, list[PublicUpdate]] = {}
    if ids:
        for u in session.execute(select(PublicUpdate).where(PublicUpdate.client_id == client.id,
                                                            PublicUpdate.incident_id.in_(ids))
                                 .order_by(PublicUpdate.created_at.desc(), PublicUpdate.id.desc())).scalars():
            updates.setdefault(u.incident_id, []).append(u)

    windows = session.execute(select(MaintenanceWindow).where(
        MaintenanceWindow.client_id == client.id, MaintenanceWindow.state != "cancelled",
        MaintenanceWindow.ends_at >= since).order_by(MaintenanceWindow.starts_at.desc())).scalars().all()

    incidents, promises, outages, open_impacts = [], [], {}, {}
    for r in rows:
        ups = updates.get(r.id, [])
        impact = components.impact_of(r.urgency, r.severity)
        resolved = r.status == Status.resolved.value
        # While the incident is open, a public "resolved" means a fix is in: it is being monitored.
        latest = ups[0].status if ups else "investigating"
        status = "resolved" if resolved else ("monitoring" if latest == "resolved" else latest)
        waiting = None
        if r.status == Status.handed_over.value:
            st = handover.state(session, session.get(Incident, r.id))  # type: ignore[arg-type]
            waiting = st.waiting_since if st else None
        p = promise_of(r.created_at, r.responded_at, r.response_deadline, now, waiting)
        promises.append(p)
        name = next((u.title for u in ups if u.title), None) or _NAME[impact].format(comp_name.get(r.service_id, "a service"))
        pub_updates = [{"id": u.public_id, "status": u.status, "body": u.body, "created_at": u.created_at.isoformat()}
                       for u in ups]
        if resolved and not any(u.status == "resolved" for u in ups):
            pub_updates.insert(0, {"id": public_id(secret_key, "resolved", r.id), "status": "resolved",
                                   "body": "This incident has been resolved.", "created_at": r.resolved_at.isoformat()})
        monitoring_at = next((u.created_at for u in reversed(ups) if u.status == "monitoring"), None)
        stamps = [r.created_at, r.responded_at, r.resolved_at, *(u.created_at for u in ups)]
        incidents.append({
            "id": public_id(secret_key, "incident", r.id), "name": name, "status": status, "impact": impact,
            "created_at": r.created_at.isoformat(), "started_at": r.created_at.isoformat(),
            "updated_at": max(s for s in stamps if s is not None).isoformat(),
            "monitoring_at": monitoring_at.isoformat() if monitoring_at else None,
            "resolved_at": r.resolved_at.isoformat() if r.resolved_at else None,
            "components": [comp_id[r.service_id]] if r.service_id in comp_id else [],
            "updates": pub_updates, "promise": p.as_dict(),
        })
        state = components.IMPACT_STATE[impact]
        outages.setdefault(r.service_id, []).append(uptime.Outage(r.created_at, r.resolved_at or now, state))
        if not resolved:
            open_impacts.setdefault(r.service_id, []).append((impact, status))

    maint = [_window(w, now, comp_id) for w in windows]
    running = [w for w in windows if w.state in ("scheduled", "in_progress") and w.starts_at <= now < w.ends_at]
    today = now.astimezone(tz).date()
    comps = []
    for n, (svc, c) in enumerate(pairs):
        if c is not None and c.hidden:
            continue
        in_maint = any(not w.service_ids or svc.id in w.service_ids for w in running)
        bars = uptime.bars(outages.get(svc.id, []), today, HISTORY_DAYS, tz)
        comps.append({
            "id": comp_id[svc.id], "name": comp_name[svc.id], "description": (c.description if c else "") or None,
            "status": components.state_of(c.override if c else None, in_maint, open_impacts.get(svc.id, [])),
            "position": n + 1, "created_at": svc.created_at.isoformat(),
            "updated_at": (c.updated_at if c else svc.created_at).isoformat(),
            "uptime": uptime.overall(bars),
            # Compact (100 components x 90 days): day i is `from` + i days.
            "days": {"from": bars.first.isoformat(), "state": list(bars.states), "uptime": list(bars.uptimes)},
        })
    unresolved = [i for i in incidents if i["status"] != "resolved"]
    worst = max((i["impact"] for i in unresolved), key=IMPACT_RANK.__getitem__, default="none")
    indicator = "maintenance" if worst == "none" and running else worst
    stamps = [page.updated_at, *(datetime.fromisoformat(i["updated_at"]) for i in incidents),
              *(w.updated_at for w in windows)]
    url = f"{base_url.rstrip('/')}/status/{client.slug}"
    return {
        "page": {"id": public_id(secret_key, "page", client.id), "name": page.title or client.name, "url": url,
                 "time_zone": client.timezone, "updated_at": max(stamps).isoformat()},
        "look": {"color": page.color, "logo_url": page.logo_url},
        "status": {"indicator": indicator, "description": INDICATOR_TEXT[indicator]},
        "components": comps,
        "incidents": incidents,
        "scheduled_maintenances": maint,
        "promise": {"days": HISTORY_DAYS, **share_kept(promises).as_dict()},
    }


def _window(w: MaintenanceWindow, now: datetime, comp_id: dict[int, str]) -> dict[str, Any]:
    if w.state in ("completed",) or w.ends_at <= now:
        status = "completed"
    elif w.starts_at <= now:
        status = "in_progress"
    else:
        status = "scheduled"
    return {
        "id": w.public_id, "name": w.title, "body": w.body, "status": status,
        "scheduled_for": w.starts_at.isoformat(), "scheduled_until": w.ends_at.isoformat(),
        "created_at": w.created_at.isoformat(), "updated_at": w.updated_at.isoformat(),
        "started_at": (w.started_at or w.starts_at).isoformat(),
        "resolved_at": w.completed_at.isoformat() if w.completed_at else None,
        "components": [comp_id[i] for i in w.service_ids if i in comp_id] or list(comp_id.values()),
    }


def etag_of(snap: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(snap, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]
