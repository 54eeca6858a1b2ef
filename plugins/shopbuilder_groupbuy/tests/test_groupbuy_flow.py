"""The group-buy flow with a controlled clock: fill, expire, virtual completion, leaving."""

from __future__ import annotations

from datetime import timedelta

import pytest
from gb_helpers import (
    T0,
    group_of,
    group_state,
    join,
    make_campaign,
    make_customers,
    make_variant,
    member_states,
    order_state,
    pay,
    run_tick,
    start,
    stock,
)
from shopbuilder_groupbuy import service

from shopbuilder import tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Order, Refund, Store
from shopbuilder.services import orders
from shopbuilder.testing import in_app


def test_group_fills_and_every_order_goes_on_to_fulfilment(app, chain, store, shop):
    a, b, c = make_customers(app, chain, 3)
    leader_order = start(app, store, a, shop["campaign_id"])
    group_id = group_of(app, leader_order)
    assert group_state(app, group_id)[0] == "pending"
    pay(app, leader_order)
    assert group_state(app, group_id) == ("open", 1, 1)
    assert order_state(app, leader_order) == "awaiting_group"
    second = join(app, store, b, group_id)
    pay(app, second)
    assert order_state(app, second) == "awaiting_group"
    third = join(app, store, c, group_id)
    pay(app, third)
    assert group_state(app, group_id) == ("succeeded", 3, 3)
    assert [order_state(app, o) for o in (leader_order, second, third)] == ["paid"] * 3
    assert {s for s, _leader in member_states(app, group_id).values()} == {"succeeded"}
    with in_app(app):
        order = db.session.get(Order, second)
        assert order.total_fen == 1990 and order.adjustment_fen == 1990 - 3000


def test_group_short_at_deadline_refunds_everyone_and_releases_stock(app, chain, store, shop):
    a, b = make_customers(app, chain, 2)
    leader_order = start(app, store, a, shop["campaign_id"])
    pay(app, leader_order)
    group_id = group_of(app, leader_order)
    second = join(app, store, b, group_id)
    pay(app, second)
    assert stock(app, store, shop["variant_id"]) == (20, 2)
    run_tick(app, T0 + timedelta(hours=23))
    assert group_state(app, group_id)[0] == "open"
    run_tick(app, T0 + timedelta(hours=24, minutes=1))
    assert group_state(app, group_id)[0] == "failed"
    assert order_state(app, leader_order) == order_state(app, second) == "refunded"
    assert stock(app, store, shop["variant_id"]) == (20, 0)
    with in_app(app):
        assert db.session.scalar(db.select(db.func.sum(Refund.amount_fen))) == 2 * 1990
    assert {s for s, _leader in member_states(app, group_id).values()} == {"refunded"}
    # A second tick changes nothing (idempotent).
    run_tick(app, T0 + timedelta(hours=25))
    with in_app(app):
        assert db.session.scalar(db.select(db.func.count(Refund.id))) == 2


def test_virtual_completion_completes_a_group_that_nearly_filled(app, chain, store):
    from shopbuilder.testing import set_plugin_enabled

    set_plugin_enabled(app, store, "groupbuy")
    variant_id = make_variant(app, chain, [store])
    campaign_id = make_campaign(app, chain, store, variant_id, group_size=3, virtual_percent=60)
    a, b = make_customers(app, chain, 2)
    leader_order = start(app, store, a, campaign_id)
    pay(app, leader_order)
    group_id = group_of(app, leader_order)
    second = join(app, store, b, group_id)
    pay(app, second)
    run_tick(app, T0 + timedelta(hours=25))
    with in_app(app):
        group = db.session.get(service.Group, group_id)
        assert (group.state, group.outcome) == ("succeeded", "virtual")
    assert order_state(app, leader_order) == order_state(app, second) == "paid"


def test_leader_refund_passes_leadership_and_hides_the_leader(app, chain, store, shop):
    a, b, c = make_customers(app, chain, 3)
    leader_order = start(app, store, a, shop["campaign_id"])
    pay(app, leader_order)
    group_id = group_of(app, leader_order)
    second = join(app, store, b, group_id)
    pay(app, second)
    with app.test_request_context(), tenancy.unscoped():
        orders.refund(db.session.get(Order, leader_order), "system", reason="changed mind")
    states = member_states(app, group_id)
    assert states[a] == ("refunded", False)
    assert states[b] == ("paid", True)
    assert group_state(app, group_id) == ("open", 1, 1)
    with in_app(app):
        group = db.session.get(service.Group, group_id)
        assert group.leader_customer_id == b
        assert [m.customer_id for m in service.shown_members(group)] == [b]
    # The freed seat can be taken: the group still fills.
    third = join(app, store, c, group_id)
    pay(app, third)
    assert group_state(app, group_id)[:2] == ("open", 2)


def test_group_left_empty_is_cancelled(app, chain, store, shop):
    (a,) = make_customers(app, chain, 1)
    leader_order = start(app, store, a, shop["campaign_id"])
    pay(app, leader_order)
    group_id = group_of(app, leader_order)
    with app.test_request_context(), tenancy.unscoped():
        orders.refund(db.session.get(Order, leader_order), "system")
    assert group_state(app, group_id)[0] == "cancelled"


def test_unpaid_leader_order_cancels_the_hidden_group(app, chain, store, shop):
    (a,) = make_customers(app, chain, 1)
    leader_order = start(app, store, a, shop["campaign_id"])
    group_id = group_of(app, leader_order)
    run_tick(app, T0 + timedelta(minutes=16))  # the seat hold (15 min) lapsed
    assert order_state(app, leader_order) == "cancelled"
    assert group_state(app, group_id)[0] == "cancelled"
    assert stock(app, store, shop["variant_id"]) == (20, 0)


def test_unpaid_seat_lapses_and_goes_back_to_the_group(app, chain, store, shop):
    a, b, c = make_customers(app, chain, 3)
    leader_order = start(app, store, a, shop["campaign_id"])
    pay(app, leader_order)
    group_id = group_of(app, leader_order)
    unpaid = join(app, store, b, group_id)
    assert group_state(app, group_id) == ("open", 1, 2)
    run_tick(app, T0 + timedelta(minutes=16))
    assert order_state(app, unpaid) == "cancelled"
    assert group_state(app, group_id) == ("open", 1, 1)
    join(app, store, c, group_id)


def test_payment_after_the_group_expired_is_refunded(app, chain, store, shop):
    from shopbuilder import clock

    a, b = make_customers(app, chain, 2)
    leader_order = start(app, store, a, shop["campaign_id"])
    pay(app, leader_order)
    group_id = group_of(app, leader_order)
    with clock.frozen(T0 + timedelta(hours=23, minutes=55)):
        late = join(app, store, b, group_id)
    # The group closes at 24 h; the payment lands a minute later, before any tick ran.
    with clock.frozen(T0 + timedelta(hours=24, minutes=1)):
        pay(app, late)
    assert order_state(app, late) == "refunded"
    assert member_states(app, group_id)[b][0] == "refunded"


def test_customer_cannot_join_the_same_group_twice(app, chain, store, shop):
    a, b = make_customers(app, chain, 2)
    leader_order = start(app, store, a, shop["campaign_id"])
    pay(app, leader_order)
    group_id = group_of(app, leader_order)
    join(app, store, b, group_id)
    with pytest.raises(service.GroupError, match="already"):
        join(app, store, b, group_id)
    with pytest.raises(service.GroupError, match="already"):
        join(app, store, a, group_id)


def test_limits_per_order_and_per_customer(app, chain, store, shop):
    a, b = make_customers(app, chain, 2)
    with pytest.raises(service.GroupError, match="per order"):
        start(app, store, a, shop["campaign_id"], quantity=3)
    first = start(app, store, a, shop["campaign_id"], quantity=2)
    pay(app, first)
    with pytest.raises(service.GroupError, match="at most 2"):
        start(app, store, a, shop["campaign_id"], quantity=1)


def test_per_customer_limit_counts_every_group_and_comes_back_when_an_order_ends(
        app, chain, store, shop):
    from gb_helpers import customer_units

    a, b, c = make_customers(app, chain, 3)
    groups = []
    for leader in (a, b):
        order_id = start(app, store, leader, shop["campaign_id"])
        pay(app, order_id)
        groups.append(group_of(app, order_id))
    first = join(app, store, c, groups[0])
    pay(app, first)
    unpaid = join(app, store, c, groups[1])
    assert customer_units(app, shop["campaign_id"], c) == 2
    with pytest.raises(service.GroupError, match="at most 2"):
        start(app, store, c, shop["campaign_id"])
    # The unpaid seat lapses and the paid one is refunded: both units come back.
    run_tick(app, T0 + timedelta(minutes=16))
    assert order_state(app, unpaid) == "cancelled"
    with app.test_request_context(), tenancy.unscoped():
        orders.refund(db.session.get(Order, first), "system", reason="changed mind")
    assert customer_units(app, shop["campaign_id"], c) == 0
    start(app, store, c, shop["campaign_id"], quantity=2)
    assert customer_units(app, shop["campaign_id"], c) == 2


def test_stopped_campaign_opens_no_group_but_open_groups_fill_or_refund(app, chain, store,
                                                                        shop):
    a, b, c, d = make_customers(app, chain, 4)
    filling = start(app, store, a, shop["campaign_id"])
    pay(app, filling)
    short = start(app, store, b, shop["campaign_id"])
    pay(app, short)
    filling_group, short_group = group_of(app, filling), group_of(app, short)
    with in_app(app):
        assert service.stop_campaign(db.session.get(service.Campaign, shop["campaign_id"]))
        db.session.commit()
    with pytest.raises(service.GroupError, match="not running"):
        start(app, store, d, shop["campaign_id"])
    # Friends can still join an open group through its shared link until its deadline.
    for friend in (c, d):
        pay(app, join(app, store, friend, filling_group))
    assert group_state(app, filling_group)[0] == "succeeded"
    assert order_state(app, filling) == "paid"
    run_tick(app, T0 + timedelta(hours=24, minutes=1))
    assert group_state(app, short_group)[0] == "failed"
    assert order_state(app, short) == "refunded"


def test_unit_cap_refuses_before_paying(app, chain, store):
    from shopbuilder.testing import set_plugin_enabled

    set_plugin_enabled(app, store, "groupbuy")
    variant_id = make_variant(app, chain, [store], stock=5)
    campaign_id = make_campaign(app, chain, store, variant_id, unit_cap=2)
    a, b, c = make_customers(app, chain, 3)
    start(app, store, a, campaign_id)
    start(app, store, b, campaign_id)
    with pytest.raises(service.GroupError, match="sold out"):
        start(app, store, c, campaign_id)


def test_campaign_cap_above_stock_is_refused_at_creation(app, chain, store):
    variant_id = make_variant(app, chain, [store], stock=5)
    with pytest.raises(service.GroupError, match="above the stock|可用库存"):
        make_campaign(app, chain, store, variant_id, unit_cap=6)
    with pytest.raises(service.GroupError, match="2 to 50|2 到 50"):
        make_campaign(app, chain, store, variant_id, unit_cap=5, group_size=51)


def test_leader_price_applies_to_the_leader_only(app, chain, store):
    from shopbuilder.testing import set_plugin_enabled

    set_plugin_enabled(app, store, "groupbuy")
    variant_id = make_variant(app, chain, [store])
    campaign_id = make_campaign(app, chain, store, variant_id, leader_price_fen=990)
    a, b = make_customers(app, chain, 2)
    leader_order = start(app, store, a, campaign_id)
    pay(app, leader_order)
    second = join(app, store, b, group_of(app, leader_order))
    with in_app(app):
        assert db.session.get(Order, leader_order).total_fen == 990
        assert db.session.get(Order, second).total_fen == 1990


def test_group_of_one_store_cannot_be_joined_through_another(app, chain, store, other_store,
                                                               shop, other_chain_store):
    from shopbuilder.testing import set_plugin_enabled

    set_plugin_enabled(app, other_store, "groupbuy")
    a, b = make_customers(app, chain, 2)
    leader_order = start(app, store, a, shop["campaign_id"])
    pay(app, leader_order)
    group_id = group_of(app, leader_order)
    with pytest.raises(LookupError):
        join(app, other_store, b, group_id)
    with app.test_request_context():
        row = db.session.get(Store, other_store.id)
        with tenancy.store_scope(row):
            assert service.get_campaign(row, shop["campaign_id"]) is None


def test_hq_campaign_runs_in_chosen_stores_only(app, chain, store, other_store):
    variant_id = make_variant(app, chain, [store, other_store])
    campaign_id = make_campaign(app, chain, None, variant_id, store_ids=(store.id,))
    with app.test_request_context(), tenancy.unscoped():
        campaign = db.session.get(service.Campaign, campaign_id)
        assert service.campaign_runs_in(campaign, db.session.get(Store, store.id))
        assert not service.campaign_runs_in(campaign, db.session.get(Store, other_store.id))


def test_group_orders_of_a_campaign_without_commission_say_so(app, chain, store):
    from shopbuilder.plugins import store_hook
    from shopbuilder.testing import set_plugin_enabled

    set_plugin_enabled(app, store, "groupbuy")
    variant_id = make_variant(app, chain, [store])
    campaign_id = make_campaign(app, chain, store, variant_id, commission_allowed=False)
    (a,) = make_customers(app, chain, 1)
    order_id = start(app, store, a, campaign_id)
    with app.test_request_context(), tenancy.unscoped():
        order = db.session.get(Order, order_id)
        hook = store_hook("shopbuilder_order_commission_allowed", order.store)
        assert hook(order=order) is False


def test_worker_counts_a_payment_whose_hold_hook_failed(app, chain, store, shop, monkeypatch):
    a, b = make_customers(app, chain, 2)
    leader_order = start(app, store, a, shop["campaign_id"])
    pay(app, leader_order)
    group_id = group_of(app, leader_order)
    second = join(app, store, b, group_id)

    def broken(order):
        raise RuntimeError("lost")

    monkeypatch.setattr(service, "on_payment", broken)
    pay(app, second)
    assert order_state(app, second) == "paid"  # the core logged the failure, nothing held
    monkeypatch.undo()
    run_tick(app, T0 + timedelta(minutes=1))
    assert order_state(app, second) == "awaiting_group"
    assert member_states(app, group_id)[b] == ("paid", False)
    assert group_state(app, group_id)[:2] == ("open", 2)
