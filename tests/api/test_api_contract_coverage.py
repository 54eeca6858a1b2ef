"""Every operation of the description has a contract test, as every hook has a doc section.

A contract test names its operation: ``contract.check(response, "<operationId>")``
(the checker also proves the request was that operation's method and path). This
module reads those names from the API tests and compares them with the description
the app generates, the core's operations and the built-in plugins'.
"""

from __future__ import annotations

import re
from pathlib import Path

from api_support import operations

HERE = Path(__file__).resolve().parent
BUILT_IN_PLUGINS = {"pickup", "groupbuy", "distribution"}
CHECK = re.compile(r"contract\.check\(\s*\w+,\s*\"(\w+)\"\s*\)")


def checked_operation_ids() -> set[str]:
    """Operation ids named by a literal ``contract.check`` call in ``tests/api``."""
    found = set()
    for source in HERE.glob("test_*.py"):
        found |= set(CHECK.findall(source.read_text(encoding="utf-8")))
    return found


def described_operation_ids(app) -> set[str]:
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    return {op_id for op_id, (_method, _path, op) in operations(spec).items()
            if op.get("x-plugin") in (None, *BUILT_IN_PLUGINS)}


def test_every_operation_has_a_contract_test(app):
    described = described_operation_ids(app)
    assert {"api_place_order", "pickup_api_pickup_detail", "groupbuy_api_join_group",
            "distribution_api_share"} <= described  # the built-in plugins are installed
    missing = sorted(described - checked_operation_ids())
    assert not missing, (
        "no contract test names these operations (contract.check(response, \"<id>\")): "
        + ", ".join(missing))


def test_contract_tests_name_only_operations_that_exist(app):
    unknown = sorted(checked_operation_ids() - described_operation_ids(app))
    assert not unknown, "contract tests name operations the description lacks: " + ", ".join(
        unknown)
