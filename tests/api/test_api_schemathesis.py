"""Property-based run of the whole description with schemathesis (bounded, deterministic).

Every operation gets a few valid and invalid requests against the demo data,
with every built-in plugin on at the demo store (pickup, group-buy,
distribution), so plugin routes answer for real rather than 404. No answer may
be a 5xx, carry an undocumented status or content type, or contradict its
declared schema. Valid requests name real objects (the demo customer's order,
an open group...), so they reach the success paths; invalid ones may put
anything in the path. Part of ``make test``; raise ``SCHEMATHESIS_MAX_EXAMPLES``
locally for a deeper run.
"""

from __future__ import annotations

import itertools
import os

import pytest
import schemathesis
from api_support import DEMO_CHAIN, DEMO_STORE, sign_in
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
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


#: Operations whose valid requests need a line in the cart (placing an order empties it).
NEEDS_A_CART_LINE = {"/api/v1/stores/{store}/orders",
                     "/api/v1/stores/{store}/cart/items/{variant_id}"}


def _operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.fixture
def real(app, client, auth, social):
    """What valid requests act on: the social demo, a pickup order to pay, a cart line.

    ``path``: ids for path parameters. ``body``: values that half the valid bodies
    get instead of random ones, so orders are placed and groups joined for real.
    """
    base = f"/api/v1/stores/{DEMO_STORE}"
    client.post(f"{base}/cart/items", headers=auth, json={"variant_id": social["variant_id"]})
    slot = next(s for s in client.get(f"{base}/pickup/slots").get_json()["slots"]
                if not s["full"])
    order = client.post(f"{base}/orders", headers={**auth, "Idempotency-Key": "schemathesis"},
                        json={"fulfilment": "pickup", "payment_provider": "sandbox",
                              "fulfilment_data": {"pickup_slot": slot["key"]}})
    assert order.status_code == 201, order.get_data(as_text=True)
    client.post(f"{base}/cart/items", headers=auth, json={"variant_id": social["variant_id"]})
    ids = {k: social[k] for k in ("product_id", "variant_id", "campaign_id", "group_id")}
    return {
        "path": {"store": DEMO_STORE, "chain": DEMO_CHAIN, "order_id": order.get_json()["id"],
                 **ids},
        "body": {"variant_id": social["variant_id"], "fulfilment": "delivery",
                 "payment_provider": "sandbox", "code": social["leader_share_code"]},
    }


def _wants_a_token(case) -> bool:
    """Whether the case sends a (made-up) bearer token that a real one should replace.

    A negative case may leave the token out or malform it on purpose: then the
    request must go as generated, and answer 401.
    """
    return ("Authorization" in (case.headers or {})
            and not case.meta.is_negative_at(ParameterLocation.HEADER))


def _property_test(operation, mode, client, real):
    names = {p.name for p in operation.path_parameters}
    positive = mode == GenerationMode.POSITIVE
    if positive:
        fixed = {name: value for name, value in real["path"].items() if name in names}
    else:
        fixed = {name: real["path"][name] for name in ("store", "chain") if name in names}
    checks = CHECKS + ([] if positive else [negative_data_rejection])
    examples = itertools.count()

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        if positive and isinstance(case.body, dict) and next(examples) % 2 == 0:
            case.body.update({k: v for k, v in real["body"].items() if k in case.body})
        # A fresh token per case: signing out in one case must not starve the others.
        signed_in = {"Authorization": f"Bearer {sign_in(client)}"}
        if positive and operation.path in NEEDS_A_CART_LINE:
            client.post(f"/api/v1/stores/{DEMO_STORE}/cart/items", headers=signed_in,
                        json={"variant_id": real["path"]["variant_id"]})
        case.call_and_validate(headers=signed_in if _wants_a_token(case) else None,
                               checks=checks)

    return run


def test_the_run_sees_every_plugin_of_the_description_enabled_at_the_demo_store(
        app, client, social):
    described = {op.get("x-plugin") for ops in client.get("/api/v1/openapi.json")
                 .get_json()["paths"].values() for op in ops.values()} - {None}
    enabled = set(client.get(f"/api/v1/stores/{DEMO_STORE}").get_json()["plugins"])
    assert described and described <= enabled


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_within_its_description(app, client, real, mode):
    failures = []
    for operation in _operations(app):
        try:
            _property_test(operation, mode, client, real)()
        except Unsatisfiable:
            continue  # nothing of this operation can be made invalid (fixed path only)
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
