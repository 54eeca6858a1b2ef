"""Members who chose pickup: their orders wait for the group, then a clerk prepares them."""

from __future__ import annotations

import pytest
from gb_helpers import (
    checkout,
    group_of,
    group_state,
    join,
    make_customers,
    order_state,
    pay,
    start,
)
from shopbuilder_pickup import codes, slots
from shopbuilder_pickup import service as pickup

from shopbuilder import tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Order, Store
from shopbuilder.services import orders
from shopbuilder.testing import in_app, make_staff, set_plugin_enabled

HOURS = {day: [["09:00", "21:00"]] for day in slots.DAY_KEYS}


@pytest.fixture
def pickup_shop(app, store, shop):
    """``shop`` with opening hours and the pickup plugin on."""
    with in_app(app):
        db.session.get(Store, store.id).opening_hours = HOURS
        db.session.commit()
    set_plugin_enabled(app, store, "pickup")
    return shop


def pickup_checkout(app, store):
    with in_app(app):
        slot = slots.available_slots(db.session.get(Store, store.id))[0]
    return orders.Checkout(fulfilment_code="pickup", payment_provider="offline",
                           fulfilment_data={"pickup_slot": slot.key}, contact_name="Lin",
                           contact_phone="138")


def prepare(app, store, order_id, clerk):
    """The clerk sets the goods aside (``pickup.mark_prepared``), as the console does."""
    from shopbuilder.models import User

    with app.test_request_context(), tenancy.store_scope(store):
        pickup.mark_prepared(db.session.get(Order, order_id), db.session.get(User, clerk.id))


def test_pickup_orders_wait_for_the_group_then_the_clerk_prepares_them(app, chain, store,
                                                                      pickup_shop):
    clerk = make_staff(app, "c@north.example.com", chain, store, "clerk")
    a, b, c = make_customers(app, chain, 3)
    how = pickup_checkout(app, store)
    leader_order = start(app, store, a, pickup_shop["campaign_id"], how=how)
    pay(app, leader_order)
    group_id = group_of(app, leader_order)
    second = join(app, store, b, group_id, how=how)
    pay(app, second)
    assert [order_state(app, o) for o in (leader_order, second)] == ["awaiting_group"] * 2
    # Nothing to prepare while the group may still fail.
    with pytest.raises(orders.OrderError):
        prepare(app, store, second, clerk)
    assert order_state(app, second) == "awaiting_group"
    third = join(app, store, c, group_id, how=checkout("delivery"))
    pay(app, third)
    assert group_state(app, group_id)[0] == "succeeded"
    assert [order_state(app, o) for o in (leader_order, second, third)] == ["paid"] * 3
    for order_id in (leader_order, second):
        prepare(app, store, order_id, clerk)
        assert order_state(app, order_id) == "ready_for_pickup"
        with in_app(app):
            assert codes.code_of(pickup.pickup_of(order_id))  # a code to show at the counter
    with in_app(app):
        assert pickup.pickup_of(third) is None  # the member who chose delivery ships

