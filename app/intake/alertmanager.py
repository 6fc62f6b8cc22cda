"""Prometheus Alertmanager webhook, payload version 4: one incident per alert group.

Alertmanager re-sends the whole group each time it changes, so the group key (not an alert's
fingerprint) is the dedup key: a group that fires with two alerts and later with three is one
incident, and that incident resolves when Alertmanager reports the whole group resolved.
Grafana Alerting sends the same shape, so grafana.py reuses `parse_group`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.intake.base import (
    MAX_SEVERITY,
    Action,
    IntakeError,
    IntakeEvent,
    clip,
    require_object,
    stable_key,
    urgency_for,
)
from app.intake.generic import MAX_LINKS, limit, parse_timestamp, string_map, web_link

SOURCE = "alertmanager"

STATUS_ACTIONS: dict[str, Action] = {"firing": "trigger", "resolved": "resolve"}
# Picks a group's worst severity. Unknown words rank with "error", as urgency_for pages on them.
_TIERS = (
    ("none", "debug"),
    ("info", "informational", "information", "low"),
    ("minor", "warn", "warning"),
    ("error", "major", "high"),
    ("critical",),
)
_RANK = {word: rank for rank, words in enumerate(_TIERS) for word in words}
# Per-alert URL fields worth a link; all but generatorURL only come from Grafana.
_URL_FIELDS = {"generatorURL": "Source", "silenceURL": "Silence", "dashboardURL": "Dashboard"}
_URL_FIELDS |= {"panelURL": "Panel", "imageURL": "Image"}


@dataclass(frozen=True)
class Alert:
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None
    raw: dict[str, Any]

    def urls(self) -> list[tuple[str, str]]:
        """(label, url) for every non-empty URL the alert carries, its runbook included."""
        found = [(label, self.raw.get(field)) for field, label in _URL_FIELDS.items()]
        found.insert(1, ("Runbook", self.annotations.get("runbook_url")))
        return [(label, url) for label, url in found if isinstance(url, str) and url]


@dataclass(frozen=True)
class Group:
    status: str
    key: str
    alerts: list[Alert]
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    common_annotations: dict[str, str]

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.status == "firing"]


def parse(body: object) -> list[IntakeEvent]:
    msg = require_object(body)
    version = msg.get("version")
    if version is not None and version != "4":
        raise IntakeError('version must be "4" (the Alertmanager webhook payload version)')
    return [parse_group(msg, product="Alertmanager", key_prefix="am")]


def parse_group(msg: dict[str, Any], *, product: str, key_prefix: str) -> IntakeEvent:
    status = msg.get("status")
    if not isinstance(status, str) or status not in STATUS_ACTIONS:
        raise IntakeError('status must be "firing" or "resolved"')
    group_key = msg.get("groupKey")
    if not isinstance(group_key, str) or not group_key.strip():
        raise IntakeError("groupKey must be a non-empty string")
    raw_alerts = msg.get("alerts")
    if not isinstance(raw_alerts, list):
        raise IntakeError("alerts must be a list")
    group = Group(
        status=status,
        key=group_key,
        alerts=[_alert(a, f"alerts[{i}]", status) for i, a in enumerate(raw_alerts)],
        group_labels=string_map(msg.get("groupLabels"), "groupLabels"),
        common_labels=string_map(msg.get("commonLabels"), "commonLabels"),
        common_annotations=string_map(msg.get("commonAnnotations"), "commonAnnotations"),
    )
    severity = group.common_labels.get("severity") or _worst(
        a.labels.get("severity") for a in group.firing or group.alerts
    )
    severity = clip(severity, MAX_SEVERITY) if severity and severity.strip() else None
    starts = [a.starts_at for a in group.alerts if a.starts_at]
    return IntakeEvent(
        action=STATUS_ACTIONS[status],
        summary=_summary(group),
        dedup_key=stable_key(group_key, key_prefix),
        details=_details(product, msg, group),
        severity=severity,
        urgency=urgency_for(severity),
        occurred_at=min(starts) if starts else None,
        links=_links(product, group, msg.get("externalURL")),
    )


def _alert(value: object, where: str, group_status: str) -> Alert:
    if not isinstance(value, dict):
        raise IntakeError(f"{where} must be an object")
    status = value.get("status")
    if status is None:
        status = group_status
    if not isinstance(status, str) or status not in STATUS_ACTIONS:
        raise IntakeError(f'{where}.status must be "firing" or "resolved"')
    return Alert(
        status=status,
        labels=string_map(value.get("labels"), f"{where}.labels"),
        annotations=string_map(value.get("annotations"), f"{where}.annotations"),
        starts_at=_time(value.get("startsAt"), f"{where}.startsAt"),
        ends_at=_time(value.get("endsAt"), f"{where}.endsAt"),
        raw=value,
    )


def _time(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise IntakeError(f"{where} must be an RFC 3339 timestamp string")
    return parse_timestamp(value)


def _worst(severities: Iterable[object]) -> str | None:
    words = [s for s in severities if isinstance(s, str) and s.strip()]
    return max(words, key=lambda s: _RANK.get(s.strip().lower(), 3), default=None)


def _summary(group: Group) -> str:
    text = group.common_annotations.get("summary", "").strip()
    if not text:
        distinct = {a.annotations.get("summary", "").strip() for a in group.alerts}
        text = distinct.pop() if len(distinct) == 1 else ""
    if text:
        return clip(text)
    names = group.common_labels.get("alertname") or group.group_labels.get("alertname")
    if not names:
        seen = [n for n in dict.fromkeys(a.labels.get("alertname", "") for a in group.alerts) if n]
        names = ", ".join(seen[:3]) + (f" +{len(seen) - 3} more" if len(seen) > 3 else "")
    # Grouping labels first: they are what tells this group from its siblings.
    shown = dict(sorted(group.group_labels.items())) | dict(sorted(group.common_labels.items()))
    extras = [f"{k}={v}" for k, v in shown.items() if k != "alertname" and not k.startswith("__")]
    head = f"[FIRING:{len(group.firing)}]" if group.status == "firing" else "[RESOLVED]"
    return clip(f"{head} {names or 'alerts'}" + (f" ({', '.join(extras[:6])})" if extras else ""))


def _details(product: str, msg: dict[str, Any], group: Group) -> str:
    firing = len(group.firing)
    lines = [f"{product} alert group: {firing} firing, {len(group.alerts) - firing} resolved"]
    lines.append(f"Group key: {group.key}")
    receiver = msg.get("receiver")
    if isinstance(receiver, str) and receiver:
        lines.append(f"Receiver: {receiver}")
    truncated = msg.get("truncatedAlerts")
    if isinstance(truncated, int) and not isinstance(truncated, bool) and truncated > 0:
        lines.append(f"{truncated} more alerts were left out of this notification by {product}.")
    if len(group.alerts) != 1:  # with one alert, its own labels say it all
        lines.append(f"Common labels: {_pairs(group.common_labels)}")
        lines += [f"{name}: {_indent(text)}" for name, text in group.common_annotations.items()]
    for n, alert in enumerate(group.alerts, 1):
        lines += ["", f"Alert {n} of {len(group.alerts)}: {alert.status.upper()}"]
        lines.append(f"  Labels: {_pairs(alert.labels)}")
        lines += [f"  {name}: {_indent(text)}" for name, text in alert.annotations.items()]
        if alert.starts_at:
            lines.append(f"  Started: {alert.starts_at:%Y-%m-%d %H:%M:%S} UTC")
        if alert.ends_at and alert.status == "resolved":
            lines.append(f"  Ended: {alert.ends_at:%Y-%m-%d %H:%M:%S} UTC")
        values = alert.raw.get("values")  # Grafana: the query results that fired the rule
        if isinstance(values, dict) and all(
            isinstance(v, int | float | str) for v in values.values()
        ):
            lines.append(f"  Values: {_pairs(values)}")
        if isinstance(alert.raw.get("valueString"), str) and alert.raw["valueString"]:
            lines.append(f"  Value: {alert.raw['valueString']}")
        lines += [f"  {label}: {url}" for label, url in alert.urls() if label != "Runbook"]
    return limit("\n".join(lines))


def _links(product: str, group: Group, external_url: object) -> tuple[dict[str, str], ...]:
    links: dict[str, dict[str, str]] = {}
    for alert in group.alerts:
        for label, url in alert.urls():
            link = web_link(url, f"{label}: {alert.labels.get('alertname', 'alert')}")
            if link and link["href"] not in links and len(links) < MAX_LINKS - 1:
                links[link["href"]] = link
    external = web_link(external_url, product)
    if external and external["href"] not in links:
        links[external["href"]] = external
    return tuple(links.values())


def _pairs(labels: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in labels.items()) or "(none)"


def _indent(text: str) -> str:
    return text.strip().replace("\n", "\n    ")
