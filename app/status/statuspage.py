"""The page in the shape of Statuspage's public v2 API (/api/v2/summary.json and friends), so
aggregators and widgets that read Statuspage pages read Vigil's unchanged. Built from the
snapshot only (see snapshot.py): the promise and uptime bars, which Statuspage has not, are left
out of these shapes."""

from __future__ import annotations

from typing import Any

_MAINT_STATUS = {"scheduled": "scheduled", "in_progress": "in_progress", "completed": "completed"}


def page(snap: dict[str, Any]) -> dict[str, Any]:
    return dict(snap["page"])


def components(snap: dict[str, Any]) -> list[dict[str, Any]]:
    pid = snap["page"]["id"]
    return [{
        "id": c["id"], "name": c["name"], "status": c["status"], "created_at": c["created_at"],
        "updated_at": c["updated_at"], "position": c["position"], "description": c["description"],
        "showcase": True, "start_date": c["created_at"][:10], "group_id": None, "page_id": pid, "group": False,
        "only_show_if_degraded": False,
    } for c in snap["components"]]


def _components_by_id(snap: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in components(snap)}


def _update(u: dict[str, Any], incident_id: str, affected: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": u["id"], "status": u["status"], "body": u["body"], "incident_id": incident_id,
        "created_at": u["created_at"], "updated_at": u["created_at"], "display_at": u["created_at"],
        "affected_components": [{"code": c["id"], "name": c["name"], "old_status": "operational",
                                 "new_status": c["status"]} for c in affected],
        "deliver_notifications": True, "custom_tweet": None, "tweet_id": None,
    }


def incidents(snap: dict[str, Any], *, unresolved_only: bool = False) -> list[dict[str, Any]]:
    pid, by_id = snap["page"]["id"], _components_by_id(snap)
    out = []
    for i in snap["incidents"]:
        if unresolved_only and i["status"] == "resolved":
            continue
        comps = [by_id[c] for c in i["components"] if c in by_id]
        out.append({
            "id": i["id"], "name": i["name"], "status": i["status"], "created_at": i["created_at"],
            "updated_at": i["updated_at"], "monitoring_at": i["monitoring_at"], "resolved_at": i["resolved_at"],
            "impact": i["impact"], "shortlink": f"{snap['page']['url']}#incident-{i['id']}",
            "started_at": i["started_at"], "page_id": pid,
            "incident_updates": [_update(u, i["id"], comps) for u in i["updates"]], "components": comps,
        })
    return out[:50]


def maintenances(snap: dict[str, Any], *, which: str = "all") -> list[dict[str, Any]]:
    pid, by_id = snap["page"]["id"], _components_by_id(snap)
    out = []
    for m in snap["scheduled_maintenances"]:
        if which == "upcoming" and m["status"] != "scheduled":
            continue
        if which == "active" and m["status"] != "in_progress":
            continue
        if which == "summary" and m["status"] == "completed":
            continue
        comps = [by_id[c] for c in m["components"] if c in by_id]
        body = m["body"] or m["name"]
        update = {"id": m["id"], "status": _MAINT_STATUS[m["status"]], "body": body, "created_at": m["updated_at"]}
        out.append({
            "id": m["id"], "name": m["name"], "status": _MAINT_STATUS[m["status"]], "created_at": m["created_at"],
            "updated_at": m["updated_at"], "monitoring_at": None, "resolved_at": m["resolved_at"],
            "impact": "maintenance", "shortlink": f"{snap['page']['url']}#maintenance-{m['id']}",
            "started_at": m["started_at"], "page_id": pid, "incident_updates": [_update(update, m["id"], comps)],
            "components": comps, "scheduled_for": m["scheduled_for"], "scheduled_until": m["scheduled_until"],
        })
    return out[:50]


def document(snap: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The JSON document `name` (summary, status, components, incidents, incidents/unresolved,
    scheduled-maintenances[/upcoming|/active]), or None when there is no such document."""
    head = {"page": page(snap)}
    match name:
        case "summary":
            return {**head, "components": components(snap), "incidents": incidents(snap, unresolved_only=True),
                    "scheduled_maintenances": maintenances(snap, which="summary"), "status": dict(snap["status"])}
        case "status":
            return {**head, "status": dict(snap["status"])}
        case "components":
            return {**head, "components": components(snap)}
        case "incidents":
            return {**head, "incidents": incidents(snap)}
        case "incidents/unresolved":
            return {**head, "incidents": incidents(snap, unresolved_only=True)}
        case "scheduled-maintenances":
            return {**head, "scheduled_maintenances": maintenances(snap)}
        case "scheduled-maintenances/upcoming":
            return {**head, "scheduled_maintenances": maintenances(snap, which="upcoming")}
        case "scheduled-maintenances/active":
            return {**head, "scheduled_maintenances": maintenances(snap, which="active")}
    return None
