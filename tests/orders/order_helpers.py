"""Shortcuts for the order tests: a product on sale with stock, placing and reading orders."""

from __future__ import annotations

from shopbuilder import tenancy
from shopbuilder.extensions import db
from shopbuilder.models import (
    Order,
    Payment,
    Product,
    Publication,
    Store,
    StoreListing,
    Variant,
)
from shopbuilder.services import cart as cart_service
from shopbuilder.services import orders
from shopbuilder.testing import in_app


def make_listing(app, chain, store, stock=10, price_fen=1280, sku="LJ-50", title="Longjing"):
    """A chain product published to every store, with ``stock`` units in ``store``."""
    with in_app(app):
        product = Product(chain_id=chain.id, title=title, status="active")
        db.session.add(product)
        db.session.flush()
        variant = Variant(chain_id=chain.id, product_id=product.id, sku=sku,
                          options={"size": "50g"}, price_fen=price_fen)
        db.session.add(variant)
        db.session.add(Publication(chain_id=chain.id, product_id=product.id, target="all"))
        db.session.flush()
        db.session.add(StoreListing(chain_id=chain.id, store_id=store.id,
                                    variant_id=variant.id, stock_on_hand=stock))
        db.session.commit()
        return variant.id


def place(app, store, customer, variant_id, quantity=1, provider="offline", key=None,
          fulfilment="delivery", address="1 Lake Road"):
    """Place an order through the service (as the checkout page does); returns its id."""
    with app.app_context():
        row = db.session.get(Store, store.id)
        with tenancy.store_scope(row):
            cart = cart_service.get_or_create_cart(row, customer_id=customer.id)
            cart_service.add(row, cart, variant_id, quantity)
            db.session.commit()
            order = orders.place_order(
                row, customer, cart,
                orders.Checkout(fulfilment_code=fulfilment, payment_provider=provider,
                                contact_name="Lin", contact_phone="138", address=address),
                idempotency_key=key,
            )
            order_id = order.id
        db.session.remove()
    return order_id


def load(app, order_id):
    """Read an order back: (state, paid_fen, refunded_fen, stock_state)."""
    with in_app(app):
        order = db.session.get(Order, order_id)
        return order.state, order.paid_fen, order.refunded_fen, order.stock_state


def stock_of(app, store, variant_id):
    with in_app(app):
        listing = db.session.scalar(db.select(StoreListing).where(
            StoreListing.store_id == store.id, StoreListing.variant_id == variant_id))
        return listing.stock_on_hand, listing.reserved


def payment_of(app, order_id) -> Payment:
    with in_app(app):
        payment = db.session.scalar(db.select(Payment).where(Payment.order_id == order_id))
        db.session.expunge(payment)
        return payment
