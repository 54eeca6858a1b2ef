# ruff: noqa: F811 - fixtures come from distkit
"""Group-buy orders earn commission only when their campaign allows it (the real plugin)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from distkit import (  # noqa: F401  (fixtures)
    T0,
    _frozen_clock,
    act,
    bind,
    chain,
    commissions,
    distributor,
    person,
    shop,
)
from shopbuilder_groupbuy import service as groupbuy

from shopbuilder import tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Chain, Customer, Store
from shopbuilder.services import orders
from shopbuilder.testing import set_plugin_enabled


def _group_order(app, chain, store, variant_id, customer, allowed):
    with app.test_request_context(), tenancy.unscoped():
        row = db.session.get(Store, store.id)
        campaign = groupbuy.create_campaign(groupbuy.CampaignInput(
            title="Two for tea", variant_id=variant_id, group_price_fen=8000, group_size=2,
            fill_hours=24, starts_at=T0 - timedelta(hours=1), ends_at=T0 + timedelta(days=3),
            unit_cap=10, commission_allowed=allowed), db.session.get(Chain, chain.id), row)
        db.session.commit()
        campaign_id = campaign.id
    with app.test_request_context():
        row = db.session.get(Store, store.id)
        with tenancy.store_scope(row):
            order = groupbuy.start_group(
                row, db.session.get(Customer, customer.id), groupbuy.get_campaign(row, campaign_id),
                orders.Checkout("delivery", "offline", contact_name="x", contact_phone="1",
                                address="road"))
            order_id = order.id
    act(app, order_id, lambda o: orders.mark_paid(o, "system"))
    return order_id


@pytest.mark.parametrize("allowed, expected", [(True, 800), (False, None)])
def test_group_order_earns_commission_only_when_its_campaign_allows(app, chain, store, shop,
                                                                   allowed, expected):
    set_plugin_enabled(app, store, "groupbuy")
    d_id, code, _c = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, code)
    order_id = _group_order(app, chain, store, shop["variant_id"], buyer, allowed)
    found = commissions(app, order_id)
    if expected is None:
        assert found == {}
    else:
        assert found == {1: (d_id, "frozen", expected, 0)}
