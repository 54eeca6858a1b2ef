# ruff: noqa: F811 - fixtures come from distkit
"""Commission arithmetic, the order life cycle, refunds, levels, payouts and the ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from distkit import (  # noqa: F401  (fixtures)
    AFTER_SALE,
    T0,
    _frozen_clock,
    act,
    add_grade,
    balance,
    bind,
    buy,
    chain,
    commissions,
    configure,
    deliver,
    distributor,
    ledger_balance,
    make_listing,
    person,
    product_of,
    run_tick,
    settle_all,
    shop,
    verify,
)
from shopbuilder_distribution import service
from shopbuilder_distribution.models import Distributor, ProductCommission, Withdrawal
from shopbuilder_distribution.service import Line, commission_fen, mask_name, paid_goods_fen

from shopbuilder import tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Store
from shopbuilder.services import orders
from shopbuilder.testing import in_app, set_plugin_enabled

# -- arithmetic -----------------------------------------------------------------------------------


def test_rate_commission_rounds_down_to_the_fen():
    lines = [Line(1, 1, 12345)]
    # 12345 × 5.5 % = 678.975 fen: the distributor gets 678, the fraction stays with the store.
    assert commission_fen(lines, 12345, 12345, 550, {}) == 678


def test_commission_is_on_what_was_paid_after_discounts_without_delivery():
    goods, delivery, discount = 10000, 800, -2000
    total = goods + delivery + discount
    paid = paid_goods_fen(goods, delivery, total)
    assert paid == 8000
    assert commission_fen([Line(1, 2, 10000)], goods, paid, 1000, {}) == 800


def test_a_surcharge_is_not_goods_and_earns_nothing():
    assert paid_goods_fen(10000, 0, 10500) == 10000


def test_fixed_commission_per_unit_is_capped_by_the_lines_paid_share():
    lines = [Line(1, 3, 3000), Line(2, 1, 7000)]
    # product 1: 3 × 5 yuan fixed; product 2: 10 % of its share of the paid goods.
    assert commission_fen(lines, 10000, 10000, 1000, {1: 500}) == 1500 + 700
    # Half the order was discounted away: product 1's share is 1500 fen, so fixed 1500 fits,
    # product 2 earns 10 % of 3500.
    assert commission_fen(lines, 10000, 5000, 1000, {1: 500}) == 1500 + 350
    assert commission_fen(lines, 10000, 5000, 1000, {1: 900}) == 1500 + 350


def test_nothing_paid_earns_nothing():
    assert commission_fen([Line(1, 1, 1000)], 1000, 0, 1000, {}) == 0


@pytest.mark.parametrize("name, masked", [
    ("王小明", "王*明"), ("欧阳小明", "欧**明"), ("王明", "王*"), ("王", "*"), ("Alice", "A***e"),
])
def test_bound_customers_are_shown_with_masked_names(name, masked):
    assert mask_name(name) == masked


BOTH = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


# -- the life cycle -------------------------------------------------------------------------------


@BOTH
def test_commission_is_frozen_when_paid_and_withdrawable_after_the_after_sale_window(
        app, chain, store, shop):
    d_id, code, _c = distributor(app, chain, store)
    buyer = person(app, chain)
    assert bind(app, chain, buyer, code) == d_id
    order_id = buy(app, store, buyer, shop["variant_id"])
    assert commissions(app, order_id) == {1: (d_id, "frozen", 1000, 0)}
    assert balance(app, d_id) == 0
    deliver(app, order_id)
    run_tick(app, T0 + timedelta(days=6))
    assert commissions(app, order_id)[1][1] == "frozen"
    settle_all(app, order_id)
    assert commissions(app, order_id) == {1: (d_id, "available", 1000, 1000)}
    assert balance(app, d_id) == 1000
    assert ledger_balance(app, chain, f"commission:{d_id}") == 1000
    assert verify(app, chain).ok


def test_extra_freeze_days_keep_settled_commission_frozen(app, chain, store, shop):
    configure(app, chain, freeze_days=3)
    d_id, code, _c = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, code)
    order_id = buy(app, store, buyer, shop["variant_id"])
    at = settle_all(app, order_id)
    assert commissions(app, order_id)[1][1] == "settled"
    assert balance(app, d_id) == 0
    run_tick(app, at + timedelta(days=3))
    assert commissions(app, order_id)[1][1] == "available"
    assert balance(app, d_id) == 1000


def test_refund_before_settlement_cancels_the_commission(app, chain, store, shop):
    d_id, code, _c = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, code)
    order_id = buy(app, store, buyer, shop["variant_id"])
    act(app, order_id, lambda o: orders.refund(o, "system", reason="changed mind"))
    assert commissions(app, order_id)[1][1] == "cancelled"
    run_tick(app, T0 + AFTER_SALE)
    assert balance(app, d_id) == 0
    assert ledger_balance(app, chain, f"commission:{d_id}") == 0


def test_partial_refund_before_settlement_shrinks_the_commission(app, chain, store, shop):
    d_id, code, _c = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, code)
    order_id = buy(app, store, buyer, shop["variant_id"], quantity=2)  # 200 yuan, 20 earned
    act(app, order_id, lambda o: orders.refund(o, "system", amount_fen=5000))
    assert commissions(app, order_id)[1][2] == 1500
    settle_all(app, order_id)
    assert commissions(app, order_id)[1][1:] == ("available", 1500, 1500)
    assert balance(app, d_id) == 1500


@BOTH
def test_refund_after_settlement_claws_back_below_zero_and_later_commission_repays(
        app, chain, store, shop):
    configure(app, chain, withdraw_min_fen=100)
    d_id, code, _c = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, code)
    order_id = buy(app, store, buyer, shop["variant_id"])
    at = settle_all(app, order_id)
    assert balance(app, d_id) == 1000
    with in_app(app):
        w = service.request_withdrawal(db.session.get(Distributor, d_id), 1000)
        assert service.decide_withdrawal(w, True, "staff:1", "BANK-1")
    act(app, order_id, lambda o: orders.refund(o, "system", reason="after-sale"))
    assert balance(app, d_id) == -1000
    assert ledger_balance(app, chain, f"commission:{d_id}") == -1000
    second = buy(app, store, buyer, shop["variant_id"], quantity=3)
    with tenancy_clock(at):
        settle_all(app, second, at + AFTER_SALE)
    assert balance(app, d_id) == 2000  # 3000 earned, 1000 of it repaid the clawback
    assert verify(app, chain).ok


class tenancy_clock:  # noqa: N801 - reads like a with-statement helper
    def __init__(self, at):
        from shopbuilder import clock

        self._cm = clock.frozen(at)

    def __enter__(self):
        return self._cm.__enter__()

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def test_delivery_fee_is_not_part_of_the_commission_base(app, chain, store, shop):
    with in_app(app):
        row = db.session.get(Store, store.id)
        row.settings = {**(row.settings or {}), "orders": {"delivery_fee_fen": 800}}
        db.session.commit()
    d_id, code, _c = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, code)
    order_id = buy(app, store, buyer, shop["variant_id"])
    with in_app(app):
        order = db.session.get(orders.Order, order_id)
        assert order.total_fen == 10800
    assert commissions(app, order_id)[1][2] == 1000


def test_fixed_product_commission_replaces_the_rate(app, chain, store, shop):
    with in_app(app):
        db.session.add(ProductCommission(chain_id=chain.id,
                                         product_id=product_of(app, shop["variant_id"]),
                                         fixed_fen=300, second_fixed_fen=50))
        db.session.commit()
    parent_id, parent_code, _ = distributor(app, chain, store)
    d_id, code, _c = distributor(app, chain, store, bound_to=parent_code)
    buyer = person(app, chain)
    bind(app, chain, buyer, code)
    order_id = buy(app, store, buyer, shop["variant_id"], quantity=2)
    assert commissions(app, order_id) == {1: (d_id, "frozen", 600, 0),
                                          2: (parent_id, "frozen", 100, 0)}


# -- levels ---------------------------------------------------------------------------------------


def test_commission_reaches_the_recruiter_and_never_a_third_level(app, chain, store, shop):
    a_id, a_code, _ = distributor(app, chain, store)
    b_id, b_code, _ = distributor(app, chain, store, bound_to=a_code)
    c_id, c_code, _ = distributor(app, chain, store, bound_to=b_code)
    with in_app(app):
        assert db.session.get(Distributor, c_id).parent_id == b_id
        assert db.session.get(Distributor, b_id).parent_id == a_id
    buyer = person(app, chain)
    bind(app, chain, buyer, c_code)
    order_id = buy(app, store, buyer, shop["variant_id"])
    found = commissions(app, order_id)
    assert found == {1: (c_id, "frozen", 1000, 0), 2: (b_id, "frozen", 200, 0)}
    assert a_id not in {d for d, *_ in found.values()}
    settle_all(app, order_id)
    assert (balance(app, c_id), balance(app, b_id), balance(app, a_id)) == (1000, 200, 0)
    assert verify(app, chain).ok


def test_the_database_refuses_a_third_level(app, chain, store, shop):
    from shopbuilder_distribution.models import Commission
    from sqlalchemy.exc import IntegrityError

    d_id, code, _c = distributor(app, chain, store)
    buyer = person(app, chain)
    order_id = buy(app, store, buyer, shop["variant_id"])
    with in_app(app), pytest.raises(IntegrityError):
        db.session.add(Commission(chain_id=chain.id, store_id=store.id, order_id=order_id,
                                  order_number="x", distributor_id=d_id, level=3, base_fen=1,
                                  full_fen=1, amount_fen=1))
        db.session.flush()


# -- own purchases --------------------------------------------------------------------------------


def test_own_purchases_earn_only_when_the_chain_allows(app, chain, store, shop):
    d_id, code, me = distributor(app, chain, store)
    first = buy(app, store, me, shop["variant_id"])
    assert commissions(app, first) == {}
    configure(app, chain, self_purchase=True)
    second = buy(app, store, me, shop["variant_id"])
    assert commissions(app, second)[1][:3] == (d_id, "frozen", 1000)


def test_a_distributor_cannot_bind_themselves(app, chain, store, shop):
    _d, code, me = distributor(app, chain, store)
    assert bind(app, chain, me, code) is None


# -- plugin off, group-buy ------------------------------------------------------------------------


def test_orders_in_a_store_without_the_plugin_earn_nothing(app, chain, store, other_store, shop):
    variant_id = make_listing(app, chain, [other_store])
    _d, code, _c = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, code)
    order_id = buy(app, other_store, buyer, variant_id)
    assert commissions(app, order_id) == {}
    settle_all(app, order_id)
    assert verify(app, chain).ok


def test_an_order_a_plugin_excludes_earns_no_commission(app, chain, store, shop, monkeypatch):
    """Through the hook group-buy answers (``shopbuilder_order_commission_allowed``)."""
    _d, code, _c = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, code)
    monkeypatch.setattr(service, "commission_allowed", lambda order: False)
    order_id = buy(app, store, buyer, shop["variant_id"])
    assert commissions(app, order_id) == {}


# -- payouts --------------------------------------------------------------------------------------


def _earn(app, chain, store, shop, quantity=1):
    d_id, code, _c = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, code)
    order_id = buy(app, store, buyer, shop["variant_id"], quantity=quantity)
    settle_all(app, order_id)
    return d_id


def test_withdrawal_below_minimum_or_above_balance_is_refused(app, chain, store, shop):
    configure(app, chain, withdraw_min_fen=500)
    d_id = _earn(app, chain, store, shop)
    with in_app(app):
        row = db.session.get(Distributor, d_id)
        with pytest.raises(service.DistributionError, match="minimum|最低"):
            service.request_withdrawal(row, 499)
        with pytest.raises(service.DistributionError, match="more than|超过"):
            service.request_withdrawal(row, 1001)
    assert balance(app, d_id) == 1000


def test_paid_withdrawal_posts_to_the_ledger_with_its_fee(app, chain, store, shop):
    configure(app, chain, withdraw_min_fen=100, withdraw_fee_bp=60)
    d_id = _earn(app, chain, store, shop)
    with in_app(app):
        w = service.request_withdrawal(db.session.get(Distributor, d_id), 1000)
        assert (w.fee_fen, w.net_fen) == (6, 994)
        with pytest.raises(service.DistributionError):
            service.decide_withdrawal(w, True, "staff:1", "")
        assert service.decide_withdrawal(w, True, "staff:1", "ALIPAY-778")
        assert not service.decide_withdrawal(w, False, "staff:1")
    assert balance(app, d_id) == 0
    assert ledger_balance(app, chain, f"commission:{d_id}") == 0
    assert ledger_balance(app, chain, "payouts") == 994
    assert ledger_balance(app, chain, "payout_fees") == 6
    with in_app(app):
        assert db.session.get(Distributor, d_id).withdrawn_fen == 1000
    assert verify(app, chain).ok


def test_rejected_withdrawal_returns_the_money_to_the_balance(app, chain, store, shop):
    configure(app, chain, withdraw_min_fen=100)
    d_id = _earn(app, chain, store, shop)
    with in_app(app):
        w = service.request_withdrawal(db.session.get(Distributor, d_id), 800)
        assert balance(app, d_id) == 200
        assert service.decide_withdrawal(db.session.get(Withdrawal, w.id), False, "staff:1")
    assert balance(app, d_id) == 1000
    assert ledger_balance(app, chain, "payouts") == 0


def test_disabled_store_leaves_frozen_commission_cancelled_at_settlement(
        app, chain, store, shop):
    _d, code, _c = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, code)
    order_id = buy(app, store, buyer, shop["variant_id"])
    set_plugin_enabled(app, store, "distribution", False)
    settle_all(app, order_id)
    assert commissions(app, order_id)[1][1] == "cancelled"
    with app.test_request_context(), tenancy.unscoped():
        assert verify(app, chain).ok


@BOTH
def test_refund_after_the_store_turned_the_plugin_off_still_reaches_the_balance(
        app, chain, store, shop):
    configure(app, chain, withdraw_min_fen=100)
    d_id, code, _c = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, code)
    order_id = buy(app, store, buyer, shop["variant_id"], quantity=2)  # 20 yuan earned
    at = settle_all(app, order_id)
    act(app, order_id, lambda o: orders.refund(o, "system", amount_fen=5000))  # plugin on
    assert balance(app, d_id) == ledger_balance(app, chain, f"commission:{d_id}") == 1500
    with in_app(app):
        w = service.request_withdrawal(db.session.get(Distributor, d_id), 1500)
        assert service.decide_withdrawal(w, True, "staff:1", "BANK-7")
    set_plugin_enabled(app, store, "distribution", False)
    act(app, order_id, lambda o: orders.refund(o, "system", reason="the rest"))
    assert ledger_balance(app, chain, f"commission:{d_id}") == -1500  # no hook ran for us
    run_tick(app, at)
    assert balance(app, d_id) == -1500  # the tick followed the ledger: nothing to withdraw
    state, net = commissions(app, order_id)[1][1::2]
    assert (state, net) == ("available", 0)
    run_tick(app, at)
    assert balance(app, d_id) == -1500  # and only once
    assert verify(app, chain).ok


def test_refund_before_settlement_in_a_store_without_the_plugin_shrinks_the_commission(
        app, chain, store, shop):
    d_id, code, _c = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, code)
    order_id = buy(app, store, buyer, shop["variant_id"], quantity=2)
    set_plugin_enabled(app, store, "distribution", False)
    act(app, order_id, lambda o: orders.refund(o, "system", amount_fen=5000))
    run_tick(app, T0)
    assert commissions(app, order_id)[1][1:3] == ("frozen", 1500)
    act(app, order_id, lambda o: orders.refund(o, "system", reason="the rest"))
    run_tick(app, T0)
    assert commissions(app, order_id)[1][1:3] == ("cancelled", 0)
    assert balance(app, d_id) == 0
