"""Shared arrangements for the pickup tests: a store with hours, goods, orders at each step."""

from __future__ import annotations

from datetime import UTC, datetime

from shopbuilder import clock, tenancy
from shopbuilder.extensions import db
from shopbuilder.models import (
    Order,
    Product,
    Publication,
    Store,
    StoreListing,
    User,
    Variant,
)
from shopbuilder.plugins import PluginMeta, hookimpl
from shopbuilder.services import cart as cart_service
from shopbuilder.services import orders
from shopbuilder.testing import in_app
from shopbuilder_pickup import service, slots

#: Friday 2026-11-27 09:00 in Shanghai.
NOW = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
#: Tests read English; one test checks the Chinese interface.
ENGLISH = {"Accept-Language": "en"}
HOURS = {day: [["09:00", "21:00"]] for day in slots.DAY_KEYS}


def first_key(hours_after_now: int = 2) -> str:
    """The key of the slot starting ``hours_after_now`` hours after NOW (09:00 local)."""
    start = NOW.replace(hour=NOW.hour + hours_after_now)
    return start.strftime(slots.KEY_FORMAT)


def prepare_store(app, store, lat=30.25, lng=120.16, city="Hangzhou", address="1 Lake Road",
                  hours=None):
    with in_app(app):
        row = db.session.get(Store, store.id)
        row.opening_hours = HOURS if hours is None else hours
        row.lat, row.lng, row.city, row.address = lat, lng, city, address
        db.session.commit()


def make_goods(app, chain, stores, stock=10, price_fen=1500, sku="LJ-50", title="Longjing"):
    """A chain product published to all stores, ``stock`` units in each of ``stores``."""
    with in_app(app):
        product = Product(chain_id=chain.id, title=title, status="active")
        db.session.add(product)
        db.session.flush()
        variant = Variant(chain_id=chain.id, product_id=product.id, sku=sku,
                          options={"size": "50g"}, price_fen=price_fen)
        db.session.add(variant)
        db.session.add(Publication(chain_id=chain.id, product_id=product.id, target="all"))
        db.session.flush()
        for s in stores:
            db.session.add(StoreListing(chain_id=chain.id, store_id=s.id, variant_id=variant.id,
                                        stock_on_hand=stock))
        db.session.commit()
        return product.id, variant.id


def place_pickup(app, store, customer, lines, key=None, provider="offline"):
    """Place a pickup order for ``lines`` ({variant_id: qty}); returns the order id."""
    key = key or first_key()
    with app.test_request_context(headers=ENGLISH), clock.frozen(NOW):
        row = db.session.get(Store, store.id)
        with tenancy.store_scope(row):
            cart = cart_service.get_or_create_cart(row, customer_id=customer.id)
            for variant_id, quantity in lines.items():
                cart_service.add(row, cart, variant_id, quantity)
            db.session.commit()
            order = orders.place_order(
                row, customer, cart,
                orders.Checkout(fulfilment_code="pickup", payment_provider=provider,
                                fulfilment_data={"pickup_slot": key},
                                contact_name="Lin", contact_phone="138"),
            )
            order_id = order.id
        db.session.remove()
    return order_id


def in_store(app, store):
    """Context: app + the store's tenant scope + NOW."""
    import contextlib

    @contextlib.contextmanager
    def block():
        with app.test_request_context(headers=ENGLISH), clock.frozen(NOW):
            row = db.session.get(Store, store.id)
            with tenancy.store_scope(row):
                yield row
            db.session.remove()

    return block()


def pay(app, store, order_id):
    with in_store(app, store):
        orders.mark_paid(db.session.get(Order, order_id), "staff:0")


def prepare(app, store, order_id, user):
    with in_store(app, store):
        service.mark_prepared(db.session.get(Order, order_id), db.session.get(User, user.id))


def ready_order(app, store, customer, lines, user, **kw):
    order_id = place_pickup(app, store, customer, lines, **kw)
    pay(app, store, order_id)
    prepare(app, store, order_id, user)
    return order_id


def code_for(app, order_id) -> str:
    from shopbuilder_pickup import codes

    with in_app(app):
        return codes.code_of(service.pickup_of(order_id))


def order_state(app, order_id) -> str:
    with in_app(app):
        return db.session.get(Order, order_id).state


class NotifySpy:
    """A plugin that records notifications instead of sending them."""

    meta = PluginMeta(name="notify_spy", title="Notify spy", version="1.0")

    def __init__(self):
        self.sent = []

    @hookimpl
    def shopbuilder_notify(self, store, customer, event, context):
        self.sent.append((store.slug, customer.email, event, dict(context)))
