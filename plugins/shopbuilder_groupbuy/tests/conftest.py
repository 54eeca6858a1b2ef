"""Fixtures for the group-buy tests (helpers live in ``gb_helpers``)."""

from __future__ import annotations

import pytest
from gb_helpers import T0, make_campaign, make_variant

from shopbuilder import clock
from shopbuilder.testing import make_chain, set_plugin_enabled


@pytest.fixture
def chain(app):
    """The tests read English pages; one test checks the zh_CN catalogue."""
    return make_chain(app, locale="en")


@pytest.fixture(autouse=True)
def _frozen_clock():
    with clock.frozen(T0):
        yield


@pytest.fixture
def shop(app, chain, store):
    """A store with group-buy on, a product with 20 units and a size-3 campaign."""
    set_plugin_enabled(app, store, "groupbuy")
    variant_id = make_variant(app, chain, [store])
    campaign_id = make_campaign(app, chain, store, variant_id)
    return {"variant_id": variant_id, "campaign_id": campaign_id}
