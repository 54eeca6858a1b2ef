"""Shortcuts for the distribution tests: a shop with the plugin on, distributors, orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from shopbuilder_distribution import service
from shopbuilder_distribution.models import Commission, Distributor, Grade

from shopbuilder import clock, tenancy
from shopbuilder.extensions import db
from shopbuilder.models import (
    Chain,
    Customer,
    Order,
    Product,
    Publication,
    Store,
    StoreListing,
    Variant,
)
from shopbuilder.services import cart as cart_service
from shopbuilder.services import ledger, orders
from shopbuilder.services.deadlines import tick
from shopbuilder.testing import in_app, make_chain, make_customer, set_plugin_enabled

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
AFTER_SALE = timedelta(days=7, minutes=1)


@pytest.fixture
def chain(app):
    return make_chain(app, locale="en")


@pytest.fixture(autouse=True)
def _frozen_clock():
    with clock.frozen(T0):
        yield


@pytest.fixture
def shop(app, chain, store):
    """Distribution on for ``store``, open joining, one grade: 10 % direct, 2 % team."""
    set_plugin_enabled(app, store, "distribution")
    configure(app, chain, join_policy="open")
    grade_id = add_grade(app, chain, "Bronze", 1000, 200)
    variant_id = make_listing(app, chain, [store], price_fen=10000)
    return {"variant_id": variant_id, "grade_id": grade_id}


def configure(app, chain, **values):
    with in_app(app):
        row = db.session.get(Chain, chain.id)
        service.save_chain_settings(row, values)
        db.session.commit()


def add_grade(app, chain, name, rate_bp, second_rate_bp, position=0):
    with in_app(app):
        grade = Grade(chain_id=chain.id, name=name, rate_bp=rate_bp,
                      second_rate_bp=second_rate_bp, position=position)
        db.session.add(grade)
        db.session.commit()
        return grade.id


def make_listing(app, chain, stores, stock=100, price_fen=10000, title="Longjing"):
    with in_app(app):
        product = Product(chain_id=chain.id, title=title, status="active")
        db.session.add(product)
        db.session.flush()
        variant = Variant(chain_id=chain.id, product_id=product.id, sku=f"SKU-{product.id}",
                          options={}, price_fen=price_fen)
        db.session.add(variant)
        db.session.add(Publication(chain_id=chain.id, product_id=product.id, target="all"))
        db.session.flush()
        for store in stores:
            db.session.add(StoreListing(chain_id=chain.id, store_id=store.id,
                                        variant_id=variant.id, stock_on_hand=stock))
        db.session.commit()
        return variant.id


def product_of(app, variant_id):
    with in_app(app):
        return db.session.get(Variant, variant_id).product_id


_counter = iter(range(1, 10_000))


def person(app, chain, name="王小明"):
    n = next(_counter)
    return make_customer(app, chain, email=f"p{n}@example.com", name=name)


def distributor(app, chain, store, customer=None, bound_to=None):
    """Make ``customer`` (a new one by default) a distributor, recruited by ``bound_to``."""
    customer = customer or person(app, chain)
    if bound_to is not None:
        bind(app, chain, customer, bound_to)
    with app.test_request_context(), tenancy.unscoped():
        row = service.apply(db.session.get(Chain, chain.id),
                            db.session.get(Customer, customer.id),
                            db.session.get(Store, store.id))
        db.session.commit()
        return row.id, row.code, customer


def bind(app, chain, customer, code, at=None):
    with app.test_request_context(), tenancy.unscoped():
        row = service.bind(db.session.get(Chain, chain.id), customer.id, code, now=at)
        db.session.commit()
        return None if row is None else row.distributor_id


def buy(app, store, customer, variant_id, quantity=1, pay=True):
    """Place and pay an order (offline provider, delivery); returns its id."""
    with app.test_request_context():
        row = db.session.get(Store, store.id)
        with tenancy.store_scope(row):
            cart = cart_service.get_or_create_cart(row, customer_id=customer.id)
            cart_service.add(row, cart, variant_id, quantity)
            db.session.commit()
            order = orders.place_order(
                row, db.session.get(Customer, customer.id), cart,
                orders.Checkout(fulfilment_code="delivery", payment_provider="offline",
                                contact_name="Lin", contact_phone="138", address="1 Lake Rd"))
            order_id = order.id
        db.session.remove()
    if pay:
        act(app, order_id, lambda o: orders.mark_paid(o, "system"))
    return order_id


def act(app, order_id, fn):
    with app.test_request_context(), tenancy.unscoped():
        order = db.session.get(Order, order_id)
        return fn(order)


def deliver(app, order_id):
    act(app, order_id, lambda o: orders.ship(o, "system", "SF123"))
    act(app, order_id, lambda o: orders.complete(o, "system"))


def run_tick(app, at):
    with app.test_request_context(), clock.frozen(at):
        return tick(at)


def commissions(app, order_id):
    """``{level: (distributor_id, state, amount_fen, net_fen)}`` of an order."""
    with in_app(app):
        rows = db.session.scalars(db.select(Commission).where(Commission.order_id == order_id))
        return {r.level: (r.distributor_id, r.state, r.amount_fen, r.net_fen) for r in rows}


def balance(app, distributor_id):
    with in_app(app):
        return db.session.get(Distributor, distributor_id).balance_fen


def ledger_balance(app, chain, account):
    with in_app(app):
        return ledger.balances(chain.id).get(account, 0)


def verify(app, chain):
    with in_app(app):
        return ledger.verify(chain.id)


def settle_all(app, order_id, at=None):
    """Deliver the order and let the after-sale window pass (ticks settle it)."""
    if act(app, order_id, lambda o: o.state) != "completed":
        deliver(app, order_id)
    at = at or T0 + AFTER_SALE
    run_tick(app, at)
    run_tick(app, at)
    return at
