# ruff: noqa: F811 - fixtures come from distkit
"""Binding: protection period, the three modes, chains never mix, joining and recruiting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from distkit import (  # noqa: F401  (fixtures)
    T0,
    _frozen_clock,
    bind,
    buy,
    chain,
    commissions,
    configure,
    distributor,
    make_listing,
    person,
    shop,
)
from shopbuilder_distribution import service
from shopbuilder_distribution.models import Binding, Distributor

from shopbuilder import clock
from shopbuilder.extensions import db
from shopbuilder.models import Chain, Customer
from shopbuilder.testing import in_app, make_customer, set_plugin_enabled


def bound_to(app, chain, customer, at=None):
    with in_app(app):
        row = service.active_binding(chain.id, customer.id, at or T0)
        return None if row is None else row.distributor_id


def test_first_touch_keeps_the_first_distributor_during_protection(app, chain, store, shop):
    a, a_code, _ = distributor(app, chain, store)
    b, b_code, _ = distributor(app, chain, store)
    buyer = person(app, chain)
    assert bind(app, chain, buyer, a_code) == a
    assert bind(app, chain, buyer, b_code, at=T0 + timedelta(days=29)) == a
    assert bound_to(app, chain, buyer, T0 + timedelta(days=29, hours=23)) == a


def test_protection_expires_and_the_next_link_binds(app, chain, store, shop):
    a, a_code, _ = distributor(app, chain, store)
    b, b_code, _ = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, a_code)
    later = T0 + timedelta(days=30, minutes=1)
    assert bound_to(app, chain, buyer, later) is None
    assert bind(app, chain, buyer, b_code, at=later) == b


def test_an_expired_binding_earns_nothing(app, chain, store, shop):
    _a, a_code, _ = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, a_code)
    with clock.frozen(T0 + timedelta(days=31)):
        order_id = buy(app, store, buyer, shop["variant_id"])
    assert commissions(app, order_id) == {}


def test_last_touch_gives_the_customer_to_the_latest_link(app, chain, store, shop):
    configure(app, chain, binding_mode="last_touch", protection_days=10)
    a, a_code, _ = distributor(app, chain, store)
    b, b_code, _ = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, a_code)
    assert bind(app, chain, buyer, b_code, at=T0 + timedelta(days=2)) == b
    with in_app(app):
        row = db.session.scalar(db.select(Binding).where(Binding.customer_id == buyer.id))
        assert row.expires_at == T0 + timedelta(days=12)


def test_permanent_binding_never_expires_nor_moves(app, chain, store, shop):
    configure(app, chain, binding_mode="permanent")
    a, a_code, _ = distributor(app, chain, store)
    _b, b_code, _ = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, a_code)
    far = T0 + timedelta(days=3650)
    assert bind(app, chain, buyer, b_code, at=far) == a
    assert bound_to(app, chain, buyer, far) == a


def test_a_code_of_another_chain_binds_nobody(app, chain, store, other_chain,
                                              other_chain_store, shop):
    set_plugin_enabled(app, other_chain_store, "distribution")
    configure(app, other_chain, join_policy="open")
    _x, foreign_code, _ = distributor(app, other_chain, other_chain_store)
    buyer = person(app, chain)
    assert bind(app, chain, buyer, foreign_code) is None
    with in_app(app):
        assert db.session.scalar(db.select(db.func.count(Binding.id))) == 0


def test_commission_never_crosses_chains(app, chain, store, other_chain, other_chain_store,
                                         shop):
    """A customer bound in one chain buys in another: the other chain pays nobody."""
    set_plugin_enabled(app, other_chain_store, "distribution")
    _a, a_code, _ = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, a_code)
    foreign_buyer = make_customer(app, other_chain, email=buyer.email, name="Lin")
    variant_id = make_listing(app, other_chain, [other_chain_store])
    order_id = buy(app, other_chain_store, foreign_buyer, variant_id)
    assert commissions(app, order_id) == {}


# -- joining ---------------------------------------------------------------------------------


def _apply(app, chain, store, customer):
    with app.test_request_context(), in_app(app):
        row = service.apply(db.session.get(Chain, chain.id), db.session.get(Customer, customer.id),
                            store)
        db.session.commit()
        return row.status


def test_approval_policy_waits_for_a_decision(app, chain, store, shop):
    configure(app, chain, join_policy="approval")
    customer = person(app, chain)
    assert _apply(app, chain, store, customer) == "pending"
    with in_app(app):
        row = db.session.scalar(db.select(Distributor).where(
            Distributor.customer_id == customer.id))
        assert service.decide(row, True, "staff:1")
        assert not service.decide(row, False, "staff:1")
        db.session.commit()
        assert db.session.get(Distributor, row.id).status == "active"


def test_spend_policy_admits_customers_who_spent_enough(app, chain, store, shop):
    configure(app, chain, join_policy="spend", join_min_spend_fen=15000)
    customer = person(app, chain)
    with pytest.raises(service.DistributionError):
        _apply(app, chain, store, customer)
    buy(app, store, customer, shop["variant_id"], quantity=2)
    assert _apply(app, chain, store, customer) == "active"
