"""Code run in separate processes by the concurrency tests (spawned: importable by name)."""

from __future__ import annotations


def _app(database_url, instance):
    from shopbuilder import create_app
    from shopbuilder.testing import make_test_config

    return create_app(make_test_config(database_url, instance))


def book_last_place(database_url, instance, store_id, customer_id, variant_id, key, start, out):
    """Check out a pickup order for the slot ``key``; report ``placed`` or ``refused``."""
    from shopbuilder import clock, tenancy
    from shopbuilder.extensions import db
    from shopbuilder.models import Customer, Store
    from shopbuilder.services import cart as cart_service
    from shopbuilder.services import orders

    from .helpers import NOW

    app = _app(database_url, instance)
    with app.test_request_context(), clock.frozen(NOW):
        store = db.session.get(Store, store_id)
        with tenancy.store_scope(store):
            customer = db.session.get(Customer, customer_id)
            cart = cart_service.get_or_create_cart(store, customer_id=customer_id)
            cart_service.add(store, cart, variant_id, 1)
            db.session.commit()
            start.wait(120)
            try:
                orders.place_order(store, customer, cart, orders.Checkout(
                    fulfilment_code="pickup", payment_provider="offline",
                    fulfilment_data={"pickup_slot": key}, contact_name="x", contact_phone="1"))
                out.put("placed")
            except orders.OrderError:
                db.session.rollback()
                out.put("refused")
        db.session.remove()
        db.engine.dispose()


def collect_everything(database_url, instance, store_id, user_id, code, start, out):
    """A clerk confirms the whole pickup for ``code``; report ``ok`` or ``refused``."""
    from shopbuilder import clock, tenancy
    from shopbuilder.extensions import db
    from shopbuilder.models import Store, User
    from shopbuilder.services import orders
    from shopbuilder_pickup import service

    from .helpers import NOW

    app = _app(database_url, instance)
    with app.test_request_context(), clock.frozen(NOW):
        store = db.session.get(Store, store_id)
        user = db.session.get(User, user_id)
        with tenancy.store_scope(store):
            found = service.lookup(store, code)
            assert found.outcome == "ok", found.outcome
            quantities = {line.id: line.remaining for line in found.pickup.lines}
            pickup_id = found.pickup.id
            db.session.rollback()
            start.wait(120)
            try:
                service.collect(store, pickup_id, quantities, user)
                out.put("ok")
            except orders.OrderError:
                db.session.rollback()
                out.put("refused")
        db.session.remove()
        db.engine.dispose()


def run_tick(database_url, instance, now, start, out):
    from shopbuilder.services import deadlines

    app = _app(database_url, instance)
    with app.test_request_context():
        start.wait(120)
        deadlines.tick(now)
        out.put("done")
        from shopbuilder.extensions import db

        db.session.remove()
        db.engine.dispose()
