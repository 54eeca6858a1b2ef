"""Fixtures for the API tests: demo data, a signed-in customer, and the contract checker."""

from __future__ import annotations

import re

import jsonschema
import pytest
from api_support import DEMO_CHAIN, DEMO_CUSTOMER, DEMO_STORE, sign_in

from shopbuilder.demo import DEMO_PASSWORD, load_demo
from shopbuilder.testing import in_app


@pytest.fixture
def demo(app):
    """The demo chain (three stores, eight products, one customer) in the test database."""
    with in_app(app):
        load_demo(echo=lambda *args: None, orders=False)
    return {"store": DEMO_STORE, "chain": DEMO_CHAIN, "email": DEMO_CUSTOMER,
            "password": DEMO_PASSWORD}


@pytest.fixture
def token(client, demo):
    return sign_in(client)


@pytest.fixture
def auth(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def spec(client, demo):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _template_matches(template: str, path: str) -> bool:
    pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
    return re.match(pattern, path) is not None


class Contract:
    """Checks a response against the operation the description declares for it."""

    def __init__(self, spec: dict):
        self.spec = spec

    def operation(self, method: str, path: str) -> dict:
        path = path.split("?", 1)[0]
        candidates = [t for t in self.spec["paths"] if _template_matches(t, path)]
        # The most literal template wins (``/products/{id}`` over ``/{rest}``).
        candidates.sort(key=lambda t: t.count("{"))
        assert candidates, f"{path} is not in the description"
        operations = self.spec["paths"][candidates[0]]
        assert method.lower() in operations, f"{method} {candidates[0]} is not described"
        return operations[method.lower()]

    def check(self, response, method: str, path: str) -> None:
        operation = self.operation(method, path)
        status = str(response.status_code)
        assert status in operation["responses"], (
            f"{method} {path} answered {status}, described: {sorted(operation['responses'])}")
        described = operation["responses"][status]
        content = described.get("content")
        if not content:
            assert not response.data, f"{status} should have no body"
            return
        media_type = response.mimetype
        assert media_type in content, f"{media_type} not in {sorted(content)}"
        schema = content[media_type]["schema"]
        document = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                    "components": self.spec["components"], **schema}
        jsonschema.validate(response.get_json(), document,
                            cls=jsonschema.Draft202012Validator)


@pytest.fixture
def contract(spec):
    return Contract(spec)
