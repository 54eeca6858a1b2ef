"""With the real group-buy plugin: a pickup group order waits for its group, then is prepared."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shopbuilder import clock, tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Chain, Customer, Order, Store
from shopbuilder.services import orders
from shopbuilder.testing import in_app, login, make_customer, set_plugin_enabled

from .helpers import NOW, code_for, first_key, make_goods, order_state, pay

gb = pytest.importorskip("shopbuilder_groupbuy.service")


def pickup_checkout():
    return orders.Checkout(fulfilment_code="pickup", payment_provider="offline",
                           fulfilment_data={"pickup_slot": first_key()},
                           contact_name="Lin", contact_phone="138")


def campaign_for(app, chain, store, variant_id):
    with in_app(app):
        campaign = gb.create_campaign(gb.CampaignInput(
            title="Longjing for three", variant_id=variant_id, group_price_fen=990,
            group_size=3, fill_hours=24, starts_at=NOW - timedelta(hours=1),
            ends_at=NOW + timedelta(days=7), unit_cap=6),
            db.session.get(Chain, chain.id), db.session.get(Store, store.id))
        db.session.commit()
        return campaign.id


def group_order(app, store, customer_id, campaign_id=None, group_id=None):
    """The leader's order (``campaign_id``) or a member's (``group_id``), for pickup."""
    with app.test_request_context(), clock.frozen(NOW):
        row = db.session.get(Store, store.id)
        with tenancy.store_scope(row):
            customer = db.session.get(Customer, customer_id)
            if group_id is None:
                order = gb.start_group(row, customer, gb.get_campaign(row, campaign_id),
                                       pickup_checkout())
            else:
                order = gb.join_group(row, customer, gb.get_group(row, group_id),
                                      pickup_checkout())
            return order.id


def group_of(app, order_id):
    with in_app(app):
        return gb.member_for_order(order_id).group_id


def test_pickup_group_order_is_prepared_only_once_the_group_succeeds(
        app, chain, pickup_store, clerk):
    set_plugin_enabled(app, pickup_store, "groupbuy")
    _p, tea = make_goods(app, chain, [pickup_store])
    campaign_id = campaign_for(app, chain, pickup_store, tea)
    leader, second, third = (make_customer(app, chain, email=f"c{i}@example.com",
                                           home_store=pickup_store).id for i in range(3))
    leader_order = group_order(app, pickup_store, leader, campaign_id=campaign_id)
    pay(app, pickup_store, leader_order)
    assert order_state(app, leader_order) == "awaiting_group"

    counter = app.test_client()
    login(counter, clerk, store=pickup_store)
    with in_app(app):
        from shopbuilder_pickup import service

        pickup_id = service.pickup_of(leader_order).id
    with clock.frozen(NOW):
        refused = counter.post(f"/s/{pickup_store.slug}/manage/pickup/{pickup_id}/prepare",
                               follow_redirects=True)
    assert "cannot be made ready for pickup" in refused.get_data(as_text=True)
    assert order_state(app, leader_order) == "awaiting_group"
    assert code_for(app, leader_order) is None

    group_id = group_of(app, leader_order)
    for member in (second, third):
        pay(app, pickup_store, group_order(app, pickup_store, member, group_id=group_id))
    assert order_state(app, leader_order) == "paid"  # the group succeeded: released

    with clock.frozen(NOW):
        counter.post(f"/s/{pickup_store.slug}/manage/pickup/{pickup_id}/prepare")
    assert order_state(app, leader_order) == "ready_for_pickup"
    assert code_for(app, leader_order) is not None
    with in_app(app):
        assert db.session.get(Order, leader_order).total_fen == 990
