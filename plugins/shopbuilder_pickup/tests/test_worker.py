"""Pickups not collected in time: a reminder a day before, then cancel, refund and restock."""

from __future__ import annotations

from datetime import timedelta

from shopbuilder.extensions import db
from shopbuilder.models import Order, StoreListing
from shopbuilder.services import deadlines
from shopbuilder.testing import in_app, login, set_plugin_settings
from shopbuilder_pickup import service

from .helpers import NOW, code_for, make_goods, ready_order


def tick(app, at):
    with app.test_request_context():
        deadlines.tick(at)
        db.session.remove()


def stock(app):
    with in_app(app):
        listing = db.session.query(StoreListing).one()
        return listing.stock_on_hand, listing.reserved


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


def test_expiry_days_are_a_setting(app, chain, pickup_store, customer, clerk):
    set_plugin_settings(app, "pickup", {"pickup_days": 2}, chain=chain)
    _p, tea = make_goods(app, chain, [pickup_store])
    order_id = ready_order(app, pickup_store, customer, {tea: 1}, clerk)
    tick(app, NOW + timedelta(days=2, seconds=1))
    with in_app(app):
        assert db.session.get(Order, order_id).state == "refunded"


def test_partly_collected_order_refunds_the_rest_and_shelves_it(app, chain, pickup_store,
                                                                customer, clerk):
    _p, tea = make_goods(app, chain, [pickup_store], stock=10, price_fen=1000)
    order_id = ready_order(app, pickup_store, customer, {tea: 3}, clerk)
    counter = app.test_client()
    login(counter, clerk, store=pickup_store)
    with in_app(app):
        line_id = service.pickup_of(order_id).lines[0].id
    counter.post(f"/s/{pickup_store.slug}/manage/pickup/verify",
                 data={"code": code_for(app, order_id), "action": "collect",
                       f"qty_{line_id}": 1})
    tick(app, NOW + timedelta(days=8))
    with in_app(app):
        order = db.session.get(Order, order_id)
        assert order.state == "completed"
        assert order.refunded_fen == 2000
    assert stock(app) == (9, 0)  # one unit left the store; two are back on sale


def test_collected_order_is_left_alone_by_the_worker(app, chain, pickup_store, customer, clerk):
    _p, tea = make_goods(app, chain, [pickup_store])
    order_id = ready_order(app, pickup_store, customer, {tea: 1}, clerk)
    counter = app.test_client()
    login(counter, clerk, store=pickup_store)
    with in_app(app):
        line_id = service.pickup_of(order_id).lines[0].id
    counter.post(f"/s/{pickup_store.slug}/manage/pickup/verify",
                 data={"code": code_for(app, order_id), "action": "collect", f"qty_{line_id}": 1})
    tick(app, NOW + timedelta(days=30))
    with in_app(app):
        order = db.session.get(Order, order_id)
        assert (order.state, order.refunded_fen) == ("completed", 0)
