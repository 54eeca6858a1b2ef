"""Run in spawned processes by the concurrency test (a fresh app and engine each)."""

from __future__ import annotations

import os

from shopbuilder import clock, create_app, tenancy
from shopbuilder.extensions import db
from shopbuilder.testing import make_test_config

_app = None


def init(db_url: str, instance_path: str) -> None:
    global _app
    os.environ["SHOPBUILDER_INSTANCE_PATH"] = instance_path
    _app = create_app(make_test_config(db_url, instance_path))


def join_and_pay(args) -> str:
    """One customer joins the group and pays at once: ``joined``, ``refused`` or ``error``."""
    store_id, customer_id, group_id, at = args
    from shopbuilder_groupbuy import service

    from shopbuilder.models import Customer, Order, Store
    from shopbuilder.services import orders

    last = None
    with _app.test_request_context(), clock.frozen(at):
        for _attempt in range(30):
            try:
                with tenancy.unscoped():
                    store = db.session.get(Store, store_id)
                    customer = db.session.get(Customer, customer_id)
                with tenancy.store_scope(store):
                    group = service.get_group(store, group_id)
                    checkout = orders.Checkout("delivery", "offline", contact_name="x",
                                               contact_phone="1", address="street")
                    order = service.join_group(store, customer, group, checkout,
                                               idempotency_key=f"join-{customer_id}-{group_id}")
                    order_id = order.id
                with tenancy.unscoped():
                    orders.mark_paid(db.session.get(Order, order_id), "system")
                return "joined"
            except service.GroupError as exc:
                db.session.rollback()
                text = str(exc)
                if "busy" in text or "locked" in text or "failed" in text:
                    last = exc
                    continue
                return "refused"
            except Exception as exc:  # a busy SQLite file or a deadlock victim: retry
                db.session.rollback()
                last = exc
            finally:
                db.session.remove()
        return f"error: {last!r}"


def pay_or_tick(args) -> str:
    """Pay one order at ``at``, or run the worker's tick at ``at``; retried when busy."""
    action, order_id, at = args
    from shopbuilder.models import Order
    from shopbuilder.services import orders
    from shopbuilder.services.deadlines import tick

    last = None
    for _attempt in range(30):
        with _app.test_request_context(), clock.frozen(at):
            try:
                if action == "tick":
                    tick(at)
                    return "ticked"
                with tenancy.unscoped():
                    # The provider's callback (a clerk may not mark a closed order paid):
                    # money arriving after the deadline closed the order goes back.
                    payment = orders.pending_payment(db.session.get(Order, order_id))
                    if payment is not None:
                        orders.confirm_payment(payment, payment.amount_fen, f"race-{order_id}")
                return "paid"
            except Exception as exc:  # busy SQLite file, deadlock victim: retry
                db.session.rollback()
                last = exc
            finally:
                db.session.remove()
    return f"error: {last!r}"
