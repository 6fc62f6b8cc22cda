"""The intake parsers, on real documented payloads (tests/payloads/README.md says where from),
then on every kind of malformed input: they parse it or raise IntakeError, nothing else."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.intake import alertmanager, events_v2, generic, grafana
from app.intake.base import (
    MAX_DEDUP_KEY,
    MAX_DETAILS,
    MAX_SEVERITY,
    MAX_SUMMARY,
    IntakeError,
    IntakeEvent,
)
from app.intake.generic import parse_timestamp

PAYLOADS = Path(__file__).parent / "payloads"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def only(events: list[IntakeEvent]) -> IntakeEvent:
    assert len(events) == 1
    return events[0]


def hrefs(event: IntakeEvent) -> list[str]:
    return [link["href"] for link in event.links]


def refusal(module: ModuleType, body: object) -> IntakeError:
    with pytest.raises(IntakeError) as caught:
        module.parse(body)
    return caught.value


# Alertmanager


def test_a_firing_alertmanager_group_triggers_one_incident_keyed_by_group_key() -> None:
    event = only(alertmanager.parse(load("alertmanager_firing.json")))
    assert event.action == "trigger"
    assert event.dedup_key == '{}:{alertname="Fire"}'
    assert event.summary == "[FIRING:1] Fire (severity=critical)"
    assert (event.severity, event.urgency) == ("critical", "high")
    # Go's nanoseconds are cut to microseconds, the +01:00 offset becomes UTC.
    assert event.occurred_at == datetime(2018, 11, 4, 21, 43, 58, 283995, tzinfo=UTC)
    assert hrefs(event) == [
        "http://localhost:9090/graph?g0.expr=vector%28666%29&g0.tab=1",
        "http://localhost:9093",
    ]
    assert "message: Something is on fire" in event.details


def test_a_resolved_alertmanager_group_resolves_by_group_key() -> None:
    firing = only(alertmanager.parse(load("alertmanager_firing.json")))
    resolved = only(alertmanager.parse(load("alertmanager_resolved.json")))
    assert resolved.action == "resolve"
    assert resolved.dedup_key == firing.dedup_key
    assert resolved.summary.startswith("[RESOLVED] Fire")
    assert "Ended: 2018-11-04 21:48:13 UTC" in resolved.details


def test_the_common_summary_annotation_becomes_the_incident_summary() -> None:
    event = only(alertmanager.parse(load("alertmanager_firing_probe.json")))
    assert event.summary == "BlackBox Probe Failure: https://server.example.org"
    assert event.dedup_key == '{}/{severity="critical"}:{alertname="ProbeFailure"}'
    assert event.occurred_at == datetime(2023, 2, 6, 13, 8, 45, 828000, tzinfo=UTC)
    assert "has been down for over 5m" in event.details
    assert "http://prometheus.example.org:9093" in hrefs(event)


def test_without_a_summary_the_title_names_the_alert_and_its_grouping_labels_first() -> None:
    event = only(alertmanager.parse(load("alertmanager_firing_no_summary.json")))
    assert (
        event.summary == "[FIRING:1] Test (job=prometheus24, dc=eu-west-1, instance=localhost:9090)"
    )
    assert event.severity is None and event.urgency == "high"
    assert event.occurred_at == datetime(2018, 8, 3, 7, 52, 26, 739266, tzinfo=UTC)


def test_a_group_of_alerts_counts_them_and_takes_the_earliest_start_and_worst_severity() -> None:
    body = load("alertmanager_firing_no_summary.json")
    second = copy.deepcopy(body["alerts"][0])
    second["labels"] |= {"instance": "localhost:9091", "severity": "critical"}
    second["startsAt"] = "2018-08-03T07:00:00.123456789Z"
    second["generatorURL"] = "http://example.com:9090/graph?g0.expr=up"
    body["alerts"][0]["labels"]["severity"] = "warning"
    body["alerts"].append(second)
    event = only(alertmanager.parse(body))
    assert event.summary.startswith("[FIRING:2] Test (")
    assert (event.severity, event.urgency) == ("critical", "high")
    assert event.occurred_at == datetime(2018, 8, 3, 7, 0, 0, 123456, tzinfo=UTC)
    assert len([h for h in hrefs(event) if "9090/graph" in h]) == 2
    assert "Alert 2 of 2: FIRING" in event.details


def test_a_warning_group_pages_with_low_urgency() -> None:
    body = load("alertmanager_firing.json")
    body["commonLabels"]["severity"] = body["alerts"][0]["labels"]["severity"] = "warning"
    assert only(alertmanager.parse(body)).urgency == "low"


def test_an_overlong_group_key_becomes_a_stable_hash() -> None:
    body = load("alertmanager_firing.json")
    body["groupKey"] = "{}:{" + "x" * 400 + "}"
    key = only(alertmanager.parse(body)).dedup_key
    assert key == "am:" + hashlib.sha256(body["groupKey"].encode()).hexdigest()
    assert key == only(alertmanager.parse(copy.deepcopy(body))).dedup_key
    assert len(key) <= MAX_DEDUP_KEY


def test_a_group_key_of_exactly_255_characters_is_kept_as_is() -> None:
    body = load("alertmanager_firing.json")
    body["groupKey"] = "k" * MAX_DEDUP_KEY
    assert only(alertmanager.parse(body)).dedup_key == "k" * MAX_DEDUP_KEY


def test_only_payload_version_4_is_accepted_but_a_missing_version_is_fine() -> None:
    body = load("alertmanager_firing.json")
    body["version"] = "3"
    assert "version" in refusal(alertmanager, body).message
    del body["version"]
    assert only(alertmanager.parse(body)).action == "trigger"


def test_a_zero_start_time_leaves_occurred_at_unset() -> None:
    body = load("alertmanager_firing.json")
    body["alerts"][0]["startsAt"] = "0001-01-01T00:00:00Z"
    assert only(alertmanager.parse(body)).occurred_at is None


def test_links_that_are_not_http_are_dropped() -> None:
    body = load("alertmanager_firing.json")
    body["alerts"][0]["generatorURL"] = "javascript:alert(1)"
    assert hrefs(only(alertmanager.parse(body))) == ["http://localhost:9093"]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("alerts", 0, "labels"), ["alertname"], "alerts[0].labels must be an object"),
        (("alerts", 0, "labels", "severity"), 3, "alerts[0].labels.severity must be a string"),
        (("alerts", 0, "status"), "pending", 'alerts[0].status must be "firing" or "resolved"'),
        (
            ("alerts", 0, "startsAt"),
            1541367838,
            "alerts[0].startsAt must be an RFC 3339 timestamp string",
        ),
        (("alerts", 0), "Fire", "alerts[0] must be an object"),
        (("alerts",), {"0": {}}, "alerts must be a list"),
        (("status",), "FIRING", 'status must be "firing" or "resolved"'),
        (("groupKey",), "", "groupKey must be a non-empty string"),
        (("commonLabels",), "severity=critical", "commonLabels must be an object"),
    ],
)
def test_malformed_alertmanager_payloads_are_refused_with_a_specific_message(
    path: tuple[Any, ...], value: object, message: str
) -> None:
    body = load("alertmanager_firing.json")
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    assert refusal(alertmanager, body).message == message


def test_a_body_that_is_not_an_object_is_refused() -> None:
    for module in (alertmanager, grafana, generic):
        assert (
            refusal(module, [load("alertmanager_firing.json")]).message
            == "body must be a JSON object"
        )


# Grafana


def test_a_grafana_alerting_group_triggers_one_incident_keyed_by_group_key() -> None:
    event = only(grafana.parse(load("grafana_unified_firing.json")))
    assert event.action == "trigger"
    assert event.dedup_key == "{}:{}"
    assert event.summary == "[FIRING:2] High memory usage, High CPU usage (team=blue)"
    assert event.urgency == "high"
    assert event.occurred_at == datetime(2021, 10, 12, 7, 51, 3, 157076, tzinfo=UTC)
    links = hrefs(event)
    assert "https://play.grafana.org/alerting/1afz29v7z/edit" in links
    assert "https://play.grafana.org/alerting/d1rdpdv7k/edit" in links
    assert links.count("https://myrunbook.com/runbook/1234") == 1
    assert links[-1] == "https://play.grafana.org/"
    assert "Values: B=44.23943737541908, C=1" in event.details
    assert "The system has high CPU usage" in event.details


def test_a_resolved_grafana_alerting_group_resolves_the_same_incident() -> None:
    body = load("grafana_unified_firing.json")
    body["status"] = "resolved"
    for alert in body["alerts"]:
        alert["status"] = "resolved"
    event = only(grafana.parse(body))
    assert (event.action, event.dedup_key) == ("resolve", "{}:{}")


def test_a_legacy_grafana_alert_triggers_one_incident_per_rule() -> None:
    event = only(grafana.parse(load("grafana_legacy_alerting.json")))
    assert event.action == "trigger"
    assert event.dedup_key == "grafana-rule-1"
    assert event.summary == "[Alerting] Panel Title alert"
    assert event.urgency == "high"
    assert hrefs(event) == [
        "http://localhost:3000/d/hZ7BuVbWz/test-dashboard?fullscreen&edit&tab=alert&panelId=2&orgId=1",
        "https://grafana.com/assets/img/blog/mixed_styles.png",
    ]
    assert "Notification Message" in event.details
    assert "Count = 1" in event.details
    assert "tag name=tag value" in event.details


@pytest.mark.parametrize(
    ("state", "action"), [("alerting", "trigger"), ("no_data", "trigger"), ("ok", "resolve")]
)
def test_legacy_grafana_states_map_to_actions_on_the_same_rule(state: str, action: str) -> None:
    body = load("grafana_legacy_alerting.json") | {"state": state}
    event = only(grafana.parse(body))
    assert (event.action, event.dedup_key) == (action, "grafana-rule-1")


@pytest.mark.parametrize("state", ["paused", "pending"])
def test_paused_and_pending_legacy_grafana_alerts_do_nothing(state: str) -> None:
    assert grafana.parse(load("grafana_legacy_alerting.json") | {"state": state}) == []


def test_a_legacy_grafana_alert_without_rule_id_is_keyed_on_its_rule_url() -> None:
    body = load("grafana_legacy_alerting.json")
    del body["ruleId"]
    key = only(grafana.parse(body)).dedup_key
    assert key is not None and key.startswith("grafana-rule-")
    body["ruleName"] = "renamed"
    assert only(grafana.parse(body)).dedup_key == key


def test_grafana_refuses_unknown_states_and_unrecognisable_bodies() -> None:
    body = load("grafana_legacy_alerting.json") | {"state": "exploded"}
    assert (
        refusal(grafana, body).message
        == "state must be one of alerting, no_data, ok, paused, pending"
    )
    assert "not a Grafana alert" in refusal(grafana, {"hello": "world"}).message


# PagerDuty Events API v2


def test_a_pagerduty_trigger_opens_an_incident_with_everything_it_carries() -> None:
    event = only(events_v2.parse(load("pagerduty_v2_trigger.json")))
    assert event.action == "trigger"
    assert event.dedup_key == "samplekeyhere"
    assert event.summary == "Example alert on host1.example.com"
    assert (event.severity, event.urgency) == ("info", "low")
    assert event.occurred_at == datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)
    assert event.links == (
        {"href": "https://example.com/", "text": "Link text"},
        {
            "href": "https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo-green.png",
            "text": "Example text",
        },
        {"href": "https://monitoring.example.com", "text": "Sample Monitoring Service"},
    )
    for line in (
        "Source: monitoringtool:cloudvendor:",
        "Component: postgres",
        "Group: prod-datapipe",
        "Class: deploy",
    ):
        assert line in event.details
    assert '"load avg": 0.75' in event.details


def test_a_pagerduty_trigger_without_dedup_key_leaves_it_to_the_caller() -> None:
    body = load("pagerduty_v2_trigger.json")
    del body["dedup_key"]
    assert only(events_v2.parse(body)).dedup_key is None


@pytest.mark.parametrize(
    ("name", "action"), [("acknowledge", "acknowledge"), ("resolve", "resolve")]
)
def test_pagerduty_acknowledge_and_resolve_apply_to_the_dedup_key(name: str, action: str) -> None:
    event = only(events_v2.parse(load(f"pagerduty_v2_{name}.json")))
    assert (event.action, event.dedup_key) == (action, "dedupkeyhere")
    assert event.summary


@pytest.mark.parametrize(
    ("severity", "urgency"), [("critical", "high"), ("error", "high"), ("warning", "low")]
)
def test_pagerduty_severity_decides_urgency(severity: str, urgency: str) -> None:
    body = load("pagerduty_v2_trigger.json")
    body["payload"]["severity"] = severity
    assert only(events_v2.parse(body)).urgency == urgency


def test_the_routing_key_is_returned_or_refused() -> None:
    assert events_v2.routing_key(load("pagerduty_v2_trigger.json")) == "samplekeyhere"
    for body in ({}, {"routing_key": ""}, {"routing_key": 42}, ["samplekeyhere"], None):
        with pytest.raises(IntakeError) as caught:
            events_v2.routing_key(body)
        assert caught.value.message == "Event object is invalid"


def test_an_invalid_pagerduty_event_reports_every_problem_at_once() -> None:
    body = {
        "routing_key": 42,
        "event_action": "trigger",
        "payload": {"summary": " ", "severity": "fatal"},
    }
    error = refusal(events_v2, body)
    assert error.message == "Event object is invalid"
    assert error.errors == [
        "routing_key must be a string",
        "payload.summary is missing or blank",
        "payload.source is missing or blank",
        "payload.severity must be one of critical, error, warning, info",
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"event_action": "escalate"}, "event_action must be one of trigger, acknowledge, resolve"),
        ({"event_action": None}, "event_action is missing or blank"),
        ({"dedup_key": "d" * 256}, "dedup_key is too long (maximum 255 characters)"),
        ({"dedup_key": 7}, "dedup_key must be a string"),
        ({"payload": None}, "payload is missing or blank (required to trigger)"),
        ({"payload": "Example alert"}, "payload must be an object"),
        ({"links": [{"text": "no href"}]}, "links[0].href must be a non-empty string"),
        ({"images": [{"alt": "no src"}]}, "images[0].src must be a non-empty string"),
        ({"client": ["x"]}, "client must be a string"),
    ],
)
def test_pagerduty_trigger_problems_are_named(change: dict[str, Any], problem: str) -> None:
    assert refusal(events_v2, load("pagerduty_v2_trigger.json") | change).errors == [problem]


@pytest.mark.parametrize("name", ["acknowledge", "resolve"])
def test_pagerduty_acknowledge_and_resolve_need_a_dedup_key(name: str) -> None:
    body = load(f"pagerduty_v2_{name}.json")
    del body["dedup_key"]
    assert refusal(events_v2, body).errors == [
        f"dedup_key is missing or blank (required to {name})"
    ]


def test_an_overlong_pagerduty_summary_is_clipped_not_refused() -> None:
    body = load("pagerduty_v2_trigger.json")
    body["payload"]["summary"] = "s" * 5000
    summary = only(events_v2.parse(body)).summary
    assert len(summary) == MAX_SUMMARY and summary.endswith("…")


def test_an_unreadable_pagerduty_timestamp_is_ignored() -> None:
    body = load("pagerduty_v2_trigger.json")
    body["payload"]["timestamp"] = "yesterday"
    assert only(events_v2.parse(body)).occurred_at is None


# Generic JSON


def test_a_generic_event_needs_only_a_summary() -> None:
    event = only(generic.parse({"summary": "  Disk full\non db1  ", "hostname": "db1"}))
    assert (event.action, event.summary, event.dedup_key) == ("trigger", "Disk full on db1", None)
    assert (event.details, event.urgency, event.links) == ("", "high", ())


def test_a_generic_event_carries_details_severity_and_links() -> None:
    event = only(
        generic.parse(
            {
                "summary": "Backup late",
                "details": {"job": "nightly", "late_by_minutes": 42},
                "severity": "warning",
                "dedup_key": "backup-nightly",
                "links": [{"href": "https://backup.example.com/jobs/nightly", "text": "Job"}],
            }
        )
    )
    assert event.details == '{\n  "job": "nightly",\n  "late_by_minutes": 42\n}'
    assert (event.severity, event.urgency, event.dedup_key) == ("warning", "low", "backup-nightly")
    assert event.links == ({"href": "https://backup.example.com/jobs/nightly", "text": "Job"},)


def test_a_generic_resolve_applies_to_its_dedup_key() -> None:
    event = only(
        generic.parse(
            {"summary": "Backup done", "action": "resolve", "dedup_key": "backup-nightly"}
        )
    )
    assert (event.action, event.dedup_key) == ("resolve", "backup-nightly")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "summary is required and must be a non-empty string"),
        ({"summary": 5}, "summary is required and must be a non-empty string"),
        (
            {"summary": "x", "action": "close"},
            "action must be one of trigger, acknowledge, resolve",
        ),
        (
            {"summary": "x", "action": "acknowledge"},
            "dedup_key is required to acknowledge an incident",
        ),
        ({"summary": "x", "dedup_key": "k" * 256}, "dedup_key must be at most 255 characters"),
        ({"summary": "x", "details": 12}, "details must be a string or an object"),
        (
            {"summary": "x", "links": "https://example.com"},
            "links must be a list of {href, text} objects",
        ),
        ({"summary": "x", "links": [{"href": 1}]}, "links[0].href must be a non-empty string"),
    ],
)
def test_malformed_generic_events_are_refused_with_a_specific_message(
    body: object, message: str
) -> None:
    assert refusal(generic, body).message == message


# Timestamps


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T00:00:00.123456789Z", datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2024-01-01T02:00:00+02:00", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2015-07-17T08:42:58.315+0000", datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)),
        ("2024-01-01T00:00:00", datetime(2024, 1, 1, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        ("0001-01-01T00:00:00+01:00", None),
        ("9999-12-31T23:00:00-05:00", None),
        ("not a time", None),
        ("", None),
    ],
)
def test_timestamps_are_read_as_aware_utc_or_not_at_all(
    text: str, expected: datetime | None
) -> None:
    assert parse_timestamp(text) == expected


# Robustness: anything JSON can say either parses or is an IntakeError.

PARSERS = [alertmanager, grafana, events_v2, generic]
REAL = [
    (alertmanager, "alertmanager_firing.json"),
    (alertmanager, "alertmanager_firing_probe.json"),
    (grafana, "grafana_unified_firing.json"),
    (grafana, "grafana_legacy_alerting.json"),
    (events_v2, "pagerduty_v2_trigger.json"),
    (events_v2, "pagerduty_v2_resolve.json"),
    (generic, None),
]
GENERIC_EXAMPLE = {"summary": "s", "details": {"a": [1]}, "dedup_key": "k", "severity": "info", "action": "trigger",
                   "links": [{"href": "https://example.com", "text": "t"}]}  # fmt: skip
BAD_VALUES: list[object] = [
    None, True, 0, -1, 2**70, 1.5, "", " ", "\x00", "x" * 100_000, "javascript:alert(1)",
    "0001-01-01T00:00:00Z", [], {}, [None], [[]], {"": None}, {"x": {"y": [1, {"z": None}]}},
]  # fmt: skip


def check(module: ModuleType, body: object) -> None:
    try:
        events = module.parse(body)
    except IntakeError as error:
        assert isinstance(error.message, str) and error.message
        assert error.errors and all(isinstance(e, str) for e in error.errors)
        return
    assert isinstance(events, list)
    for event in events:
        assert isinstance(event, IntakeEvent)
        assert event.action in ("trigger", "acknowledge", "resolve")
        assert event.summary and len(event.summary) <= MAX_SUMMARY and "\n" not in event.summary
        assert event.dedup_key is None or 0 < len(event.dedup_key) <= MAX_DEDUP_KEY
        assert event.dedup_key is not None or event.action == "trigger"
        assert isinstance(event.details, str) and len(event.details) <= MAX_DETAILS
        assert event.severity is None or 0 < len(event.severity) <= MAX_SEVERITY
        assert event.urgency in ("high", "low")
        assert event.occurred_at is None or event.occurred_at.utcoffset() == timedelta(0)
        for link in event.links:
            assert set(link) == {"href", "text"}
            assert link["href"].lower().startswith(("http://", "https://"))


def test_every_text_an_intake_event_carries_fits_the_database_column_it_is_stored_in() -> None:
    from app.models import Alert, Incident

    def length(column: Any) -> int:
        return column.property.columns[0].type.length

    assert MAX_SUMMARY == length(Incident.summary) == length(Alert.summary)
    assert MAX_DEDUP_KEY == length(Incident.dedup_key) == length(Alert.dedup_key)
    assert MAX_SEVERITY == length(Incident.severity)
    event = IntakeEvent(action="trigger", summary="s\n" * 2000, dedup_key="k" * 300, details="d" * 60_000,
                        severity="x" * 40)
    assert len(event.summary) == MAX_SUMMARY and "\n" not in event.summary
    assert event.dedup_key.startswith("key:") and len(event.dedup_key) <= MAX_DEDUP_KEY
    assert event.dedup_key == IntakeEvent(action="resolve", summary="s", dedup_key="k" * 300).dedup_key
    assert len(event.details) == MAX_DETAILS and len(event.severity) == MAX_SEVERITY


def paths(value: object, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON document a value sits, deepest last."""
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in items:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


def replaced(document: Any, path: tuple[Any, ...], value: object) -> Any:
    copied = copy.deepcopy(document)
    target = copied
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return copied


@pytest.mark.parametrize(("module", "name"), REAL, ids=lambda v: getattr(v, "SOURCE", v))
def test_every_parser_survives_a_wrong_value_or_a_missing_key_anywhere_in_a_real_payload(
    module: ModuleType, name: str | None
) -> None:
    document = load(name) if name else GENERIC_EXAMPLE
    check(module, document)
    for path in paths(document):
        for value in [*BAD_VALUES, KeyError]:
            check(module, replaced(document, path, value))


@pytest.mark.parametrize("module", PARSERS, ids=lambda m: m.SOURCE)
def test_every_parser_refuses_bodies_that_are_not_objects(module: ModuleType) -> None:
    for body in BAD_VALUES:
        if not isinstance(body, dict):
            with pytest.raises(IntakeError):
                module.parse(body)


WORDS = st.sampled_from(
    ["firing", "resolved", "4", "1", "trigger", "acknowledge", "resolve", "alerting", "ok", "no_data",
     "paused", "critical", "warning", "info", "2024-01-01T00:00:00.123456789Z", "0001-01-01T00:00:00Z",
     "https://example.com/x", "alertname", "severity", "summary"]
)  # fmt: skip
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | WORDS
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8) | WORDS, children, max_size=4)
    ),
    max_leaves=25,
)
TEXT = st.text(max_size=30) | WORDS


def mostly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a well-formed value, so deeper code runs; sometimes any JSON at all."""
    return st.integers(0, 7).flatmap(lambda pick: JSON if pick == 5 else good)


def one_of(*words: str) -> st.SearchStrategy[Any]:
    return mostly(st.sampled_from(words))


def shaped(
    required: dict[str, st.SearchStrategy[Any]],
    optional: dict[str, st.SearchStrategy[Any]] | None = None,
    other: str = "",
) -> st.SearchStrategy[dict[str, Any]]:
    """An object with the right field names holding mostly well-formed values; the `optional`
    and `other` fields (the latter any JSON) may be missing."""
    extra = (optional or {}) | {name: JSON for name in other.split()}
    return st.fixed_dictionaries(required, optional=extra)


LABELS = mostly(st.dictionaries(TEXT, TEXT, max_size=4))
TIME = mostly(st.datetimes(timezones=st.timezones()).map(datetime.isoformat) | WORDS)
URL = mostly(st.just("https://example.com/") | st.text(max_size=10).map("http://x/".__add__))
ALERT = shaped(
    {"labels": LABELS, "annotations": LABELS, "startsAt": TIME},
    {"status": one_of("firing", "resolved"), "endsAt": TIME, "generatorURL": URL, "silenceURL": URL,
     "values": LABELS, "valueString": TEXT},
    "fingerprint dashboardURL panelURL",
)  # fmt: skip
GROUP = shaped(
    {"groupKey": mostly(TEXT), "status": one_of("firing", "resolved"),
     "alerts": mostly(st.lists(mostly(ALERT), max_size=3))},
    {"version": one_of("4"), "groupLabels": LABELS, "commonLabels": LABELS,
     "commonAnnotations": LABELS, "externalURL": URL, "truncatedAlerts": mostly(st.integers())},
    "receiver orgId title state message",
)  # fmt: skip
LEGACY = shaped(
    {"state": one_of("alerting", "no_data", "ok", "paused", "pending")},
    {"ruleId": mostly(st.integers()), "ruleName": TEXT, "ruleUrl": URL, "imageUrl": URL,
     "title": TEXT, "message": TEXT, "tags": LABELS,
     "evalMatches": mostly(st.lists(shaped({}, {"value": JSON, "metric": TEXT, "tags": LABELS}), max_size=3))},
    "dashboardId orgId panelId",
)  # fmt: skip
LINKS = mostly(
    st.lists(mostly(shaped({}, {"href": URL, "text": TEXT, "src": URL, "alt": TEXT})), max_size=3)
)
PD_PAYLOAD = shaped(
    {"summary": mostly(TEXT), "source": mostly(TEXT), "severity": one_of("critical", "error", "warning", "info")},
    {"timestamp": TIME, "component": TEXT, "group": TEXT, "class": TEXT, "custom_details": JSON},
)  # fmt: skip
PD_EVENT = shaped(
    {"routing_key": mostly(TEXT), "event_action": one_of("trigger", "acknowledge", "resolve"),
     "payload": mostly(PD_PAYLOAD)},
    {"dedup_key": mostly(TEXT), "images": LINKS, "links": LINKS, "client": TEXT, "client_url": URL},
)  # fmt: skip
GENERIC = shaped(
    {"summary": mostly(TEXT)},
    {"details": TEXT | JSON, "dedup_key": mostly(TEXT), "links": LINKS, "severity": mostly(TEXT),
     "action": one_of("trigger", "acknowledge", "resolve")},
    "hostname",
)  # fmt: skip
BODIES = {
    "alertmanager": GROUP,
    "grafana": GROUP | LEGACY,
    "events_v2": PD_EVENT,
    "generic": GENERIC,
}


@pytest.mark.parametrize("module", PARSERS, ids=lambda m: m.SOURCE)
@settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(data=st.data())
def test_every_parser_survives_fuzzed_json(module: ModuleType, data: st.DataObject) -> None:
    check(module, data.draw(JSON | BODIES[module.SOURCE]))
