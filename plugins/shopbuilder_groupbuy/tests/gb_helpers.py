"""Shortcuts for the group-buy tests: a product on sale, a campaign, customers, actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shopbuilder_groupbuy import service
from shopbuilder_groupbuy.models import Group, GroupMember

from shopbuilder import clock, tenancy
from shopbuilder.extensions import db
from shopbuilder.models import (
    Customer,
    Order,
    Product,
    Publication,
    Store,
    StoreListing,
    Variant,
)
from shopbuilder.services import orders
from shopbuilder.testing import CHEAP_PASSWORD_METHOD, in_app

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def make_variant(app, chain, stores, stock=20, price_fen=3000):
    with in_app(app):
        product = Product(chain_id=chain.id, title="Mooncake box", status="active")
        db.session.add(product)
        db.session.flush()
        variant = Variant(chain_id=chain.id, product_id=product.id, sku=f"MC-{product.id}",
                          options={}, price_fen=price_fen)
        db.session.add(variant)
        db.session.add(Publication(chain_id=chain.id, product_id=product.id, target="all"))
        db.session.flush()
        for store in stores:
            db.session.add(StoreListing(chain_id=chain.id, store_id=store.id,
                                        variant_id=variant.id, stock_on_hand=stock))
        db.session.commit()
        return variant.id


def make_campaign(app, chain, store, variant_id, **fields):
    values = dict(title="Mooncakes for three", variant_id=variant_id, group_price_fen=1990,
                  group_size=3, fill_hours=24, starts_at=T0 - timedelta(hours=1),
                  ends_at=T0 + timedelta(days=7), unit_cap=20, per_customer_limit=2,
                  per_order_limit=2)
    values.update(fields)
    with in_app(app):
        row = db.session.get(Store, store.id) if store is not None else None
        chain_row = db.session.get(type(chain), chain.id)
        campaign = service.create_campaign(service.CampaignInput(**values), chain_row, row)
        db.session.commit()
        return campaign.id


def make_customers(app, chain, count, prefix="c"):
    from werkzeug.security import generate_password_hash

    password = generate_password_hash("x", method=CHEAP_PASSWORD_METHOD)
    with in_app(app):
        rows = [Customer(chain_id=chain.id, email=f"{prefix}{i}@example.com",
                         name=f"{chr(65 + i % 26)}{prefix}{i}", password_hash=password)
                for i in range(count)]
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def checkout(fulfilment="delivery"):
    return orders.Checkout(fulfilment_code=fulfilment, payment_provider="offline",
                           contact_name="Lin", contact_phone="138", address="1 Lake Road")


def start(app, store, customer_id, campaign_id, quantity=1, how=None):
    """The leader places an order (``how``: a Checkout, delivery by default); its id."""
    with app.test_request_context():
        row = db.session.get(Store, store.id)
        with tenancy.store_scope(row):
            customer = db.session.get(Customer, customer_id)
            campaign = service.get_campaign(row, campaign_id)
            order = service.start_group(row, customer, campaign, how or checkout(), quantity)
            return order.id


def join(app, store, customer_id, group_id, quantity=1, how=None):
    with app.test_request_context():
        row = db.session.get(Store, store.id)
        with tenancy.store_scope(row):
            customer = db.session.get(Customer, customer_id)
            group = service.get_group(row, group_id)
            if group is None:
                raise LookupError("no such group here")
            order = service.join_group(row, customer, group, how or checkout(), quantity)
            return order.id


def pay(app, order_id):
    """A clerk takes the money at the counter (offline provider)."""
    with app.test_request_context(), tenancy.unscoped():
        order = db.session.get(Order, order_id)
        orders.mark_paid(order, "system")


def group_of(app, order_id):
    with in_app(app):
        member = db.session.scalar(db.select(GroupMember).where(GroupMember.order_id == order_id))
        return member.group_id


def group_state(app, group_id):
    with in_app(app):
        group = db.session.get(Group, group_id)
        return group.state, group.paid_count, group.seats_taken


def order_state(app, order_id):
    with in_app(app):
        order = db.session.get(Order, order_id)
        return order.state


def member_states(app, group_id):
    with in_app(app):
        return {m.customer_id: (m.state, m.is_leader) for m in db.session.scalars(
            db.select(GroupMember).where(GroupMember.group_id == group_id))}


def stock(app, store, variant_id):
    with in_app(app):
        listing = db.session.scalar(db.select(StoreListing).where(
            StoreListing.store_id == store.id, StoreListing.variant_id == variant_id))
        return listing.stock_on_hand, listing.reserved


def customer_units(app, campaign_id, customer_id):
    """What the per-customer counter says the customer holds in the campaign."""
    from shopbuilder_groupbuy.models import CampaignCustomer

    with in_app(app):
        return db.session.scalar(db.select(CampaignCustomer.units).where(
            CampaignCustomer.campaign_id == campaign_id,
            CampaignCustomer.customer_id == customer_id)) or 0


def run_tick(app, at):
    from shopbuilder.services.deadlines import tick

    with app.test_request_context(), clock.frozen(at):
        return tick(at)

