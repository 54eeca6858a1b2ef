"""Fixtures for the order tests."""

from __future__ import annotations

import pytest
from order_helpers import make_listing

from shopbuilder.extensions import db
from shopbuilder.models import Order
from shopbuilder.testing import in_app


@pytest.fixture
def variant_id(app, chain, store):
    return make_listing(app, chain, store)


@pytest.fixture
def act(app):
    """Run ``fn(order)`` on a fresh copy of the order inside the app, unscoped (like the worker)."""

    def run(order_id, fn):
        with in_app(app):
            order = db.session.get(Order, order_id)
            return fn(order)

    return run
