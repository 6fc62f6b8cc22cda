"""schemathesis against /api/openapi.json, through the WSGI app: generated requests (valid and
invalid) to every operation never get a 500, and every answer matches the documented status
codes, content type and schema. Authenticated as an admin API token with every scope.

VIGIL_FUZZ_EXAMPLES sets the examples per operation and mode (default 12: ~460 cases, ~20 s).
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers import post_alert

EXAMPLES = int(os.environ.get("VIGIL_FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_generated_requests_get_documented_answers_and_never_a_500(app, client, world, database, clock, capsys) -> None:
    from app.accounts import tokens
    from app.models import EngineHeartbeat, User

    with database.transaction() as s:  # a live engine: /healthz's 503 is by design, not a crash
        s.add(EngineHeartbeat(name="e1", started_at=clock.now(), beat_at=clock.now(), pid=1, host="h"))
    for key in ("acme_generic", "globex_generic"):
        post_alert(client, world.keys[key])
    with database.transaction() as s:
        _, token = tokens.create(s, s.get(User, world.admin), "fuzz", ["read", "write", "ingest"], clock.now())
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    _rfc822_bodies()
    ran: dict[str, int] = {}
    for result in schema.get_all_operations():
        op = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case) -> None:
                ran[case.operation.label] = ran.get(case.operation.label, 0) + 1
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong in a request without input
    with capsys.disabled():
        print(f"\nschemathesis: {sum(ran.values())} cases over {len(ran)} operations, no failure")
    assert len(ran) == len(list(schema.get_all_operations()))


def _rfc822_bodies() -> None:
    """A client's e-mail posted raw (message/rfc822): the generated value is sent as its bytes."""

    @schemathesis.serializer("message/rfc822")
    def _raw(ctx: schemathesis.SerializationContext, value: object) -> bytes:
        return value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
