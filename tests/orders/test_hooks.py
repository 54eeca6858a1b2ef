"""Checkout hooks shape and guard the order; order-event hooks fire only after a commit."""

from __future__ import annotations

import pytest
from order_helpers import load, make_listing, place, stock_of

from shopbuilder import hookimpl
from shopbuilder.extensions import db
from shopbuilder.models import Order
from shopbuilder.plugins import FulfilmentOption, PluginMeta, PriceAdjustment
from shopbuilder.services import orders
from shopbuilder.testing import in_app, set_plugin_enabled


class Shop:
    """A test plugin: pickup option, a discount, a veto on huge orders, and a spy."""

    meta = PluginMeta(name="shoptest", title="Shop test", version="1.0")
    events: list = []
    fail_placed = False

    @hookimpl
    def shopbuilder_checkout_fulfilment_options(self, store, cart):
        return [FulfilmentOption(code="pickup", label="Pick up", details={"kind": "pickup"})]

    @hookimpl
    def shopbuilder_checkout_price_adjustments(self, store, cart):
        return [PriceAdjustment(code="member", label="Member", amount_fen=-280)]

    @hookimpl
    def shopbuilder_checkout_validate(self, store, cart, checkout):
        if sum(line.quantity for line in cart.lines) > 5:
            return ["At most 5 per order."]

    @hookimpl
    def shopbuilder_checkout_placed(self, store, order, checkout):
        if Shop.fail_placed:
            raise RuntimeError("boom")

    @hookimpl
    def shopbuilder_order_created(self, order):
        Shop.events.append(("created", order.number))

    @hookimpl
    def shopbuilder_order_cancelled(self, order):
        Shop.events.append(("cancelled", order.number))


@pytest.fixture
def app_config():
    return {"EXTRA_PLUGINS": [Shop()]}


@pytest.fixture(autouse=True)
def reset():
    Shop.events.clear()
    Shop.fail_placed = False


def test_plugin_adjusts_the_price_and_offers_pickup_where_enabled(app, chain, store,
                                                                  other_store, customer,
                                                                  variant_id, act):
    set_plugin_enabled(app, store, "shoptest")
    order_id = place(app, store, customer, variant_id, 2, fulfilment="pickup", address="")
    with in_app(app):
        order = db.session.get(Order, order_id)
        assert (order.goods_fen, order.adjustment_fen, order.total_fen) == (2560, -280, 2280)
        assert order.fulfilment_data["kind"] == "pickup"
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    with in_app(app):
        assert orders.allowed_actions(db.session.get(Order, order_id))[0] == "mark_ready"
    south = make_listing(app, chain, other_store, sku="S")
    with pytest.raises(orders.CheckoutError):
        place(app, other_store, customer, south, fulfilment="pickup", address="")
    other_id = place(app, other_store, customer, south)  # the refused line stayed in the cart
    with in_app(app):
        other = db.session.get(Order, other_id)
        assert (other.goods_fen, other.adjustment_fen, other.total_fen) == (2560, 0, 2560)


def test_validation_veto_stops_the_order(app, store, customer, variant_id):
    set_plugin_enabled(app, store, "shoptest")
    with pytest.raises(orders.CheckoutError) as caught:
        place(app, store, customer, variant_id, 6)
    assert caught.value.messages == ["At most 5 per order."]
    assert stock_of(app, store, variant_id) == (10, 0)


def test_failing_placed_hook_rolls_the_order_back_and_fires_nothing(app, store, customer,
                                                                    variant_id):
    set_plugin_enabled(app, store, "shoptest")
    Shop.fail_placed = True
    with pytest.raises(orders.PluginFailure):
        place(app, store, customer, variant_id, 2)
    with in_app(app):
        assert db.session.scalar(db.select(db.func.count(Order.id))) == 0
    assert stock_of(app, store, variant_id) == (10, 0)
    assert Shop.events == []


def test_order_events_fire_once_after_commit(app, store, customer, variant_id, act):
    set_plugin_enabled(app, store, "shoptest")
    order_id = place(app, store, customer, variant_id)
    act(order_id, lambda o: orders.cancel(o, "system"))
    act(order_id, lambda o: orders.cancel(o, "system"))
    assert [kind for kind, _ in Shop.events] == ["created", "cancelled"]
    assert load(app, order_id)[0] == "cancelled"
