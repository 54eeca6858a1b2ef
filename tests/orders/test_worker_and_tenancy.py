"""The worker's CLI, the cart cookie, and tenant walls around order rows."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

from order_helpers import load, place

from shopbuilder import clock, tenancy
from shopbuilder.extensions import db
from shopbuilder.models import (
    AfterSaleRequest,
    Cart,
    Deadline,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    Refund,
    Store,
)
from shopbuilder.services import orders
from shopbuilder.testing import in_app


def test_tick_command_applies_what_is_due(app, store, customer, variant_id):
    with clock.frozen(clock.now() - timedelta(hours=1)):
        order_id = place(app, store, customer, variant_id)
    # ``flask`` pushes an app context for every command; the test runner does not.
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["shopbuilder", "tick"])
    assert result.exit_code == 0, result.output
    assert "pay=1" in result.output
    assert load(app, order_id)[0] == "cancelled"
    with app.app_context():
        again = app.test_cli_runner().invoke(args=["shopbuilder", "tick"])
    assert "pay=" not in again.output


def test_worker_ticks_in_a_loop_until_it_is_told_to_stop(app, store, customer, variant_id,
                                                         monkeypatch):
    from shopbuilder import worker

    with clock.frozen(clock.now() - timedelta(hours=1)):
        order_id = place(app, store, customer, variant_id)
    ticks = []
    real_run_once = worker.run_once

    def tick_then_stop():
        counts = real_run_once()
        ticks.append(counts)
        os.kill(os.getpid(), signal.SIGTERM)  # what systemd or Ctrl-C would send
        return counts

    monkeypatch.setattr(worker, "run_once", tick_then_stop)
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with app.app_context():
            result = app.test_cli_runner().invoke(
                args=["shopbuilder", "worker", "--interval", "0.2"])
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    assert result.exit_code == 0, result.output
    assert "Worker started; ticking every 0.2s." in result.output
    assert result.output.rstrip().endswith("Worker stopped.")
    assert [counts.get("pay") for counts in ticks] == [1]
    assert load(app, order_id)[0] == "cancelled"


def test_forged_cart_cookie_is_ignored(app, client, store, variant_id):
    client.set_cookie("cart", "not-a-signed-token")
    client.post(f"/s/{store.slug}/cart/add", data={"variant_id": variant_id})
    with in_app(app):
        carts = db.session.scalars(db.select(Cart)).all()
        assert len(carts) == 1 and carts[0].token not in (None, "not-a-signed-token")


def test_another_store_sees_none_of_the_order_rows(app, store, other_store, customer,
                                                  variant_id, act):
    order_id = place(app, store, customer, variant_id)
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    act(order_id, lambda o: orders.refund(o, "staff:1", 100))
    with app.app_context():
        other = db.session.get(Store, other_store.id)
        with tenancy.store_scope(other):
            for model in (Order, OrderLine, OrderEvent, Payment, Refund, Deadline,
                          AfterSaleRequest, Cart):
                assert db.session.scalars(db.select(model)).all() == [], model.__name__
        mine = db.session.get(Store, store.id)
        with tenancy.store_scope(mine):
            assert len(db.session.scalars(db.select(Order)).all()) == 1
        db.session.remove()
