"""Property-based run of the whole description with schemathesis (bounded, deterministic).

Every operation gets a few valid and invalid requests against the demo data;
no answer may be a 5xx, carry an undocumented status or content type, or
contradict its declared schema. Part of ``make test``; raise
``SCHEMATHESIS_MAX_EXAMPLES`` locally for a deeper run.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from api_support import DEMO_CHAIN, DEMO_STORE, sign_in
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# The same behaviour on both databases (PostgreSQL skips when unreachable).
pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def _property_test(operation, mode, client):
    fixed = {}
    if "{store}" in operation.path:
        fixed["store"] = DEMO_STORE
    if "{chain}" in operation.path:
        fixed["chain"] = DEMO_CHAIN
    checks = CHECKS + ([negative_data_rejection] if mode == GenerationMode.NEGATIVE else [])

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        # A fresh token per case: signing out in one case must not starve the others.
        headers = {"Authorization": f"Bearer {sign_in(client)}"}
        case.call_and_validate(headers=headers, checks=checks)

    return run


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_within_its_description(app, client, demo, mode):
    failures = []
    for operation in _operations(app):
        try:
            _property_test(operation, mode, client)()
        except Unsatisfiable:
            continue  # nothing of this operation can be made invalid (fixed path only)
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
