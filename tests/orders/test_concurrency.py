"""Many processes at once, on SQLite (a file) and PostgreSQL: no oversell, no double apply."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import UTC, datetime, timedelta

import concurrency_workers as workers
import pytest
from order_helpers import make_listing, place

from shopbuilder import clock
from shopbuilder.extensions import db
from shopbuilder.models import Customer, Order, OrderEvent, Payment, Refund, StoreListing
from shopbuilder.services import ledger
from shopbuilder.testing import CHEAP_PASSWORD_METHOD, in_app

BOTH = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def pool(app, tmp_path, processes):
    context = multiprocessing.get_context("spawn")
    return context.Pool(processes, initializer=workers.init,
                        initargs=(app.config["SQLALCHEMY_DATABASE_URI"],
                                  str(tmp_path / "instance")))


def make_customers(app, chain, count):
    from werkzeug.security import generate_password_hash

    password = generate_password_hash("x", method=CHEAP_PASSWORD_METHOD)
    with in_app(app):
        rows = [Customer(chain_id=chain.id, email=f"c{i}@example.com", name=f"c{i}",
                         password_hash=password) for i in range(count)]
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


@BOTH
def test_200_buyers_for_100_units_make_exactly_100_orders(app, chain, store, tmp_path):
    variant_id = make_listing(app, chain, store, stock=100)
    customers = make_customers(app, chain, 200)
    with pool(app, tmp_path, 12) as workers_pool:
        results = workers_pool.map(workers.buy, [(store.id, c, variant_id) for c in customers],
                                   chunksize=1)
    outcomes = Counter(r if r in ("placed", "sold_out") else "other" for r in results)
    assert outcomes == {"placed": 100, "sold_out": 100}, Counter(results).most_common(3)
    with in_app(app):
        assert db.session.scalar(db.select(db.func.count(Order.id))) == 100
        listing = db.session.scalar(db.select(StoreListing))
        assert (listing.stock_on_hand, listing.reserved) == (100, 100)
        numbers = db.session.scalars(db.select(Order.number)).all()
        assert len(set(numbers)) == 100


@BOTH
def test_two_concurrent_ticks_never_apply_a_deadline_twice(app, chain, store, customer,
                                                            tmp_path):
    variant_id = make_listing(app, chain, store, stock=100)
    with clock.frozen(T0):
        order_ids = [place(app, store, customer, variant_id) for _ in range(30)]
    with pool(app, tmp_path, 4) as workers_pool:
        runs = workers_pool.map(workers.run_tick, [T0 + timedelta(hours=1)] * 4, chunksize=1)
    assert sum(run.get("pay", 0) for run in runs) == 30
    with in_app(app):
        cancels = Counter(db.session.scalars(
            db.select(OrderEvent.order_id).where(OrderEvent.kind == "cancel")))
        assert cancels == {order_id: 1 for order_id in order_ids}
        listing = db.session.scalar(db.select(StoreListing))
        assert (listing.stock_on_hand, listing.reserved) == (100, 0)


@BOTH
def test_payment_racing_a_cancellation_ends_consistent(app, chain, store, customer, tmp_path):
    variant_id = make_listing(app, chain, store, stock=100)
    order_ids = [place(app, store, customer, variant_id, provider="sandbox") for _ in range(20)]
    jobs = [(action, oid) for oid in order_ids for action in ("cancel", "pay")]
    with pool(app, tmp_path, 8) as workers_pool:
        results = workers_pool.map(workers.cancel_or_pay, jobs, chunksize=1)
    assert not [r for r in results if r.startswith("error")], results
    with in_app(app):
        paid_total = 0
        for order_id in order_ids:
            order = db.session.get(Order, order_id)
            payment = db.session.scalar(db.select(Payment).where(Payment.order_id == order_id))
            refunded = sum(db.session.scalars(
                db.select(Refund.amount_fen).where(Refund.order_id == order_id)))
            assert payment.state == "succeeded"
            if order.state == "paid":
                assert (order.stock_state, refunded) == ("reserved", 0)
                paid_total += order.total_fen
            else:
                assert order.state == "cancelled"
                assert (order.stock_state, refunded) == ("released", payment.amount_fen)
        listing = db.session.scalar(db.select(StoreListing))
        paid_units = sum(1 for oid in order_ids if db.session.get(Order, oid).state == "paid")
        assert listing.reserved == paid_units
        assert ledger.balances(chain.id, store.id).get(ledger.ESCROW, 0) == paid_total
