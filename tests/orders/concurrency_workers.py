"""Functions run in separate processes by the concurrency tests (a fresh engine each).

Processes are spawned, never forked, so no connection or engine is shared.
"""

from __future__ import annotations

import os

from shopbuilder import create_app, tenancy
from shopbuilder.extensions import db
from shopbuilder.testing import make_test_config

_app = None


def init(db_url: str, instance_path: str) -> None:
    global _app
    os.environ["SHOPBUILDER_INSTANCE_PATH"] = instance_path
    _app = create_app(make_test_config(db_url, instance_path))


def buy(args) -> str:
    """One customer buys one unit: ``placed``, ``sold_out`` or ``error: ...``."""
    store_id, customer_id, variant_id = args
    from shopbuilder.models import Customer, Store
    from shopbuilder.services import cart as cart_service
    from shopbuilder.services import orders

    with _app.app_context():
        try:
            with tenancy.unscoped():
                store = db.session.get(Store, store_id)
                customer = db.session.get(Customer, customer_id)
            with tenancy.store_scope(store):
                cart = cart_service.get_or_create_cart(store, customer_id=customer.id)
                cart_service.add(store, cart, variant_id, 1)
                db.session.commit()
                checkout = orders.Checkout("delivery", "offline", contact_name="x",
                                           contact_phone="1", address="street")
                for _attempt in range(20):
                    try:
                        orders.place_order(store, customer, cart, checkout,
                                           idempotency_key=f"buy-{customer_id}")
                        return "placed"
                    except orders.SoldOut:
                        return "sold_out"
                    except orders.CheckoutError:
                        return "refused"
                    except Exception as exc:  # a deadlock victim or busy database: retry
                        db.session.rollback()
                        last = exc
                return f"error: {last!r}"
        finally:
            db.session.remove()


def run_tick(at) -> dict:
    from shopbuilder.services.deadlines import tick

    with _app.app_context():
        try:
            return dict(tick(at, batch=7))
        finally:
            db.session.remove()


def cancel_or_pay(args) -> str:
    """``cancel`` an order, or deliver a genuine sandbox ``pay`` notification for it."""
    action, order_id = args
    from shopbuilder.models import Order, Payment
    from shopbuilder.payments import sandbox
    from shopbuilder.services import orders

    for _attempt in range(20):
        with _app.test_request_context():
            try:
                with tenancy.unscoped():
                    order = db.session.get(Order, order_id)
                    if action == "cancel":
                        orders.cancel(order, "system", "race")
                        return "cancelled"
                    payment = db.session.scalar(
                        db.select(Payment).where(Payment.order_id == order_id))
                    body, headers = sandbox.build_notification(payment, "SUCCESS")
                    sandbox.handle_notification(order.store, body, headers)
                    return "paid"
            except orders.InvalidTransition:
                return "refused"
            except Exception as exc:
                db.session.rollback()
                last = exc
            finally:
                db.session.remove()
    return f"error: {last!r}"
