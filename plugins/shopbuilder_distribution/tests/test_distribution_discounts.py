# ruff: noqa: F811 - fixtures come from distkit
"""Commission is earned on the goods after an order-level discount from another plugin."""

from __future__ import annotations

import types

import pytest
from distkit import (  # noqa: F401  (fixtures)
    _frozen_clock,
    bind,
    buy,
    chain,
    commissions,
    distributor,
    ledger_balance,
    make_listing,
    person,
    settle_all,
    shop,
    verify,
)

from shopbuilder import hookimpl
from shopbuilder.extensions import db
from shopbuilder.models import Order, Store
from shopbuilder.plugins import PluginMeta, PriceAdjustment
from shopbuilder.testing import in_app, set_plugin_enabled

promo = types.ModuleType("promo")
promo.meta = PluginMeta(name="promo", title="Promo", version="1.0")


@hookimpl
def shopbuilder_checkout_price_adjustments(store, cart):
    return [PriceAdjustment(code="promo", label="Ten yuan off", amount_fen=-1000)]


promo.shopbuilder_checkout_price_adjustments = shopbuilder_checkout_price_adjustments


@pytest.fixture
def app_config():
    return {"EXTRA_PLUGINS": [promo]}


def test_an_order_discount_from_another_plugin_lowers_the_commission(app, chain, store, shop):
    with in_app(app):
        row = db.session.get(Store, store.id)
        row.settings = {**(row.settings or {}), "orders": {"delivery_fee_fen": 800}}
        db.session.commit()
    set_plugin_enabled(app, store, "promo")
    variant_id = make_listing(app, chain, [store], price_fen=12800, title="Mingqian Longjing")
    d_id, code, _c = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, code)
    order_id = buy(app, store, buyer, variant_id, quantity=2)
    with in_app(app):
        order = db.session.get(Order, order_id)
        assert (order.goods_fen, order.delivery_fen, order.total_fen) == (25600, 800, 25400)
    # 10 % of the 246.00 paid for the goods (256.00 less the 10.00 discount), not of 256.00.
    assert commissions(app, order_id)[1][1:3] == ("frozen", 2460)
    settle_all(app, order_id)
    assert ledger_balance(app, chain, f"commission:{d_id}") == 2460
    assert verify(app, chain).ok
