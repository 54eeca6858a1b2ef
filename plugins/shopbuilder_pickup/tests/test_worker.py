"""Pickups not collected in time: a reminder a day before, then cancel, refund and restock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shopbuilder import settings
from shopbuilder.extensions import db
from shopbuilder.models import Chain, Deadline, Order, StoreListing
from shopbuilder.services import deadlines, orders
from shopbuilder.testing import in_app, login
from shopbuilder_pickup import service

from .helpers import NOW, code_for, make_goods, order_state, ready_order


def tick(app, at):
    with app.test_request_context():
        deadlines.tick(at)
        db.session.remove()


def stock(app):
    with in_app(app):
        listing = db.session.query(StoreListing).one()
        return listing.stock_on_hand, listing.reserved


def collected(app, chain, pickup_store, customer, clerk, units=3, handed=1) -> int:
    """``units`` at ¥10 ready for pickup (10 in stock), ``handed`` given over at the counter."""
    _p, tea = make_goods(app, chain, [pickup_store], stock=10, price_fen=1000)
    order_id = ready_order(app, pickup_store, customer, {tea: units}, clerk)
    counter = app.test_client()
    login(counter, clerk, store=pickup_store)
    with in_app(app):
        line_id = service.pickup_of(order_id).lines[0].id
    counter.post(f"/s/{pickup_store.slug}/manage/pickup/verify",
                 data={"code": code_for(app, order_id), "action": "collect",
                       f"qty_{line_id}": handed})
    return order_id


def test_reminder_a_day_before_then_refund_and_restock(app, chain, pickup_store, customer,
                                                       clerk, spy):
    _p, tea = make_goods(app, chain, [pickup_store], stock=10)
    order_id = ready_order(app, pickup_store, customer, {tea: 2}, clerk)
    assert stock(app) == (10, 2)

    tick(app, NOW + timedelta(days=5))
    assert [e[2] for e in spy.sent] == ["order_paid", "order_ready"]
    tick(app, NOW + timedelta(days=6, hours=1))
    tick(app, NOW + timedelta(days=6, hours=2))
    assert [e[2] for e in spy.sent] == ["order_paid", "order_ready", "pickup_reminder"]

    tick(app, NOW + timedelta(days=7, seconds=1))
    tick(app, NOW + timedelta(days=7, seconds=2))
    with in_app(app):
        order = db.session.get(Order, order_id)
        assert (order.state, order.refunded_fen) == ("refunded", order.paid_fen)
        assert service.pickup_of(order_id).state == "expired"
    assert stock(app) == (10, 0)


def test_hq_pickup_deadline_sets_when_an_uncollected_order_is_refunded(
        app, chain, pickup_store, customer, clerk):
    """One number: the core's ``deadlines.pickup_days`` is the plugin's expiry too."""
    with in_app(app):
        row = db.session.get(Chain, chain.id)
        settings.set_chain_values(row, "deadlines", {"pickup_days": 2})
        db.session.commit()
    _p, tea = make_goods(app, chain, [pickup_store])
    order_id = ready_order(app, pickup_store, customer, {tea: 1}, clerk)
    with in_app(app):
        assert service.pickup_of(order_id).expires_at == NOW + timedelta(days=2)
        core = db.session.query(Deadline).filter_by(order_id=order_id, kind="pickup").one()
        assert core.due_at == NOW + timedelta(days=2) + service.SAFETY_NET
    tick(app, NOW + timedelta(days=1, hours=23))
    assert order_state(app, order_id) == "ready_for_pickup"
    tick(app, NOW + timedelta(days=2, seconds=1))
    assert order_state(app, order_id) == "refunded"


def test_partly_collected_order_refunds_the_rest_and_shelves_it(app, chain, pickup_store,
                                                                customer, clerk):
    order_id = collected(app, chain, pickup_store, customer, clerk)
    tick(app, NOW + timedelta(days=8))
    with in_app(app):
        order = db.session.get(Order, order_id)
        assert order.state == "completed"
        assert order.refunded_fen == 2000
    assert stock(app) == (9, 0)  # one unit left the store; two are back on sale


def test_a_return_after_a_partial_no_show_puts_back_only_what_was_collected(
        app, chain, pickup_store, customer, clerk):
    order_id = collected(app, chain, pickup_store, customer, clerk)
    tick(app, NOW + timedelta(days=8))
    with in_app(app):
        order = db.session.get(Order, order_id)
        order_line = order.lines[0]
        assert order_line.restocked == 2  # the two units that stayed are counted as back
        with pytest.raises(orders.OrderError):  # "at most 1 of Longjing can come back"
            orders.refund(order, "staff:1", amount_fen=1000, restock={order_line.id: 2})
        db.session.rollback()
    assert stock(app) == (9, 0)
    with in_app(app):
        order = db.session.get(Order, order_id)
        order_line = order.lines[0]
        orders.refund(order, "staff:1", amount_fen=1000, restock={order_line.id: 1})
    assert stock(app) == (10, 0)  # the returned unit is back, and nothing twice
def test_full_refund_of_a_partly_collected_order_shelves_only_what_stayed(
        app, chain, pickup_store, customer, clerk):
    """One of three units left with the customer: a full refund puts two back on sale."""
    order_id = collected(app, chain, pickup_store, customer, clerk)
    assert stock(app) == (10, 3)
    with in_app(app):
        orders.refund(db.session.get(Order, order_id), "staff:1", reason="goodwill")
    with in_app(app):
        order = db.session.get(Order, order_id)
        assert (order.state, order.refunded_fen) == ("refunded", 3000)
        assert service.pickup_of(order_id).state == "cancelled"
    assert stock(app) == (9, 0)  # the collected unit is gone, the other two are on sale


def test_full_refund_before_any_pickup_puts_everything_back(app, chain, pickup_store,
                                                            customer, clerk):
    _p, tea = make_goods(app, chain, [pickup_store], stock=10)
    order_id = ready_order(app, pickup_store, customer, {tea: 2}, clerk)
    with in_app(app):
        orders.refund(db.session.get(Order, order_id), "staff:1")
    assert stock(app) == (10, 0)


def test_collected_order_is_left_alone_by_the_worker(app, chain, pickup_store, customer, clerk):
    order_id = collected(app, chain, pickup_store, customer, clerk, units=1, handed=1)
    tick(app, NOW + timedelta(days=30))
    with in_app(app):
        order = db.session.get(Order, order_id)
        assert (order.state, order.refunded_fen) == ("completed", 0)
