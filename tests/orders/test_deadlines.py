"""The clock moves past each deadline; ``tick()`` puts each order where the rules say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from order_helpers import load, place, stock_of

from shopbuilder import clock, settings
from shopbuilder.extensions import db
from shopbuilder.models import Chain, Deadline, Order
from shopbuilder.services import aftersale, ledger, orders
from shopbuilder.services.deadlines import tick
from shopbuilder.testing import in_app

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)

#: These run on both databases (the PostgreSQL half needs a reachable server).
pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


def run_tick(app, at):
    with app.app_context():
        counts = tick(at)
        db.session.remove()
    return counts


@pytest.fixture
def frozen():
    with clock.frozen(T0):
        yield


def test_unpaid_order_is_cancelled_after_30_minutes_and_stock_returns(
        app, store, customer, variant_id, frozen):
    order_id = place(app, store, customer, variant_id, 3)
    run_tick(app, T0 + timedelta(minutes=29))
    assert load(app, order_id)[0] == "pending_payment"
    counts = run_tick(app, T0 + timedelta(minutes=30))
    assert counts["pay"] == 1
    assert load(app, order_id)[0] == "cancelled"
    assert stock_of(app, store, variant_id) == (10, 0)
    assert run_tick(app, T0 + timedelta(hours=1)).get("pay", 0) == 0


def test_hq_can_change_the_payment_window_for_the_chain(app, chain, store, customer, variant_id,
                                                        frozen):
    with in_app(app):
        row = db.session.get(Chain, chain.id)
        settings.set_chain_values(row, "deadlines", {"pay_minutes": 10})
        db.session.commit()
    order_id = place(app, store, customer, variant_id)
    run_tick(app, T0 + timedelta(minutes=10))
    assert load(app, order_id)[0] == "cancelled"


def test_paid_order_not_fulfilled_in_7_days_is_refunded(app, store, customer, variant_id, act,
                                                         frozen):
    order_id = place(app, store, customer, variant_id)
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    run_tick(app, T0 + timedelta(days=6, hours=23))
    assert load(app, order_id)[0] == "paid"
    run_tick(app, T0 + timedelta(days=7))
    assert load(app, order_id) == ("refunded", 1280, 1280, "released")
    assert stock_of(app, store, variant_id) == (10, 0)


def test_shipped_order_is_confirmed_after_20_days_then_settled_after_7(
        app, store, customer, variant_id, act, frozen):
    order_id = place(app, store, customer, variant_id)
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    act(order_id, lambda o: orders.ship(o, "staff:1", "SF9"))
    run_tick(app, T0 + timedelta(days=19))
    assert load(app, order_id)[0] == "shipped"
    run_tick(app, T0 + timedelta(days=20))
    assert load(app, order_id)[0] == "completed"
    run_tick(app, T0 + timedelta(days=26, hours=23))
    with in_app(app):
        assert db.session.get(Order, order_id).settled_at is None
    run_tick(app, T0 + timedelta(days=27))
    with in_app(app):
        assert db.session.get(Order, order_id).settled_at is not None
        balances = ledger.balances(store.chain_id, store.id)
    assert balances.get(ledger.ESCROW, 0) == 0
    assert balances[ledger.STORE_PAYABLE] == 1280


def test_open_after_sale_request_pauses_auto_confirm(app, store, customer, variant_id, act,
                                                     frozen):
    order_id = place(app, store, customer, variant_id)
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    act(order_id, lambda o: orders.ship(o, "staff:1", "SF9"))
    act(order_id, lambda o: aftersale.request(o, customer, "return", "wrong tea"))
    counts = run_tick(app, T0 + timedelta(days=25))
    assert counts["paused"] == 1
    assert load(app, order_id)[0] == "shipped"
    with in_app(app):
        row = db.session.scalar(db.select(orders.AfterSaleRequest))
        aftersale.reject(row, "staff:1", "the seal is broken by the customer")
    run_tick(app, T0 + timedelta(days=25, minutes=1))
    assert load(app, order_id)[0] == "completed"


def test_ready_order_not_picked_up_in_7_days_is_refunded(app, store, customer, variant_id, act,
                                                         frozen):
    order_id = place(app, store, customer, variant_id)
    with in_app(app):
        order = db.session.get(Order, order_id)
        order.fulfilment_data = {"kind": "pickup"}
        db.session.commit()
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    act(order_id, lambda o: orders.mark_ready(o, "staff:1"))
    run_tick(app, T0 + timedelta(days=7))
    assert load(app, order_id)[0] == "refunded"


def test_deadlines_of_a_state_left_behind_are_void(app, store, customer, variant_id, act,
                                                   frozen):
    order_id = place(app, store, customer, variant_id)
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    with in_app(app):
        rows = {d.kind: d.state for d in db.session.scalars(
            db.select(Deadline).where(Deadline.order_id == order_id))}
    assert rows == {"pay": "void", "fulfil": "open"}


def set_deadline(app, chain, key, value):
    with in_app(app):
        settings.set_chain_values(db.session.get(Chain, chain.id), "deadlines", {key: value})
        db.session.commit()


@pytest.mark.parametrize(("key", "days", "step", "ends"), [
    ("fulfil_days", 2, "paid", "refunded"),
    ("confirm_days", 3, "shipped", "completed"),
    ("pickup_days", 1, "ready_for_pickup", "refunded"),
])
def test_hq_sets_each_fulfilment_deadline_for_its_chain(app, chain, store, customer, variant_id,
                                                        act, frozen, key, days, step, ends):
    set_deadline(app, chain, key, days)
    order_id = place(app, store, customer, variant_id)
    if step == "ready_for_pickup":
        with in_app(app):
            db.session.get(Order, order_id).fulfilment_data = {"kind": "pickup"}
            db.session.commit()
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    if step == "shipped":
        act(order_id, lambda o: orders.ship(o, "staff:1", "SF9"))
    if step == "ready_for_pickup":
        act(order_id, lambda o: orders.mark_ready(o, "staff:1"))
    run_tick(app, T0 + timedelta(days=days) - timedelta(minutes=1))
    assert load(app, order_id)[0] == step
    run_tick(app, T0 + timedelta(days=days))
    assert load(app, order_id)[0] == ends


def test_hq_sets_the_after_sale_window_for_its_chain(app, chain, store, customer, variant_id,
                                                    act, frozen):
    set_deadline(app, chain, "after_sale_days", 2)
    order_id = place(app, store, customer, variant_id)
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    act(order_id, lambda o: orders.ship(o, "staff:1", "SF9"))
    act(order_id, lambda o: orders.complete(o, "system"))
    run_tick(app, T0 + timedelta(days=2) - timedelta(minutes=1))
    with in_app(app):
        assert db.session.get(Order, order_id).settled_at is None
    run_tick(app, T0 + timedelta(days=2))
    with in_app(app):
        assert db.session.get(Order, order_id).settled_at is not None
