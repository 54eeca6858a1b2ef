"""Fixtures for the order tests."""

from __future__ import annotations

import pytest
from order_helpers import make_listing

from shopbuilder.extensions import db
from shopbuilder.models import Order
from shopbuilder.testing import in_app, make_chain, make_staff


@pytest.fixture
def chain(app):
    """The tests read English pages; the zh_CN catalogue is checked on its own."""
    return make_chain(app, locale="en")


@pytest.fixture
def clerk(app, chain, store):
    # The shared fixtures' ``.test`` addresses fail the login form's Email() check.
    return make_staff(app, "clerk@north.example.com", chain, store, "clerk")


@pytest.fixture
def manager(app, chain, store):
    return make_staff(app, "manager@north.example.com", chain, store, "manager")


@pytest.fixture
def hq_user(app, chain):
    return make_staff(app, "hq@acme.example.com", chain, None, "hq")


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
