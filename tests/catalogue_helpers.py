"""Arrange catalogue data for the catalogue tests."""

from __future__ import annotations

from shopbuilder import tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Chain, Product, Publication, StoreListing, Variant
from shopbuilder.services import catalogue as service
from shopbuilder.testing import in_app


def make_product(app, chain, title="西湖龙井 Dragon Well", skus=(("LJ-50", "128"),),
                 publish=None, store=None, description="", category_id=None):
    """A product (master, or ``store``'s own) with variants; ``publish`` = "all" publishes it."""
    with app.test_request_context(), tenancy.chain_scope(db.session.get(Chain, chain.id)):
        product = service.save_product(
            chain.id, title=title, description=description, category_id=category_id,
            status="active", store_id=store.id if store is not None else None,
            variants=[service.VariantInput(sku=sku, price=price) for sku, price in skus],
        )
        if publish == "all":
            db.session.add(Publication(chain_id=chain.id, product_id=product.id, target="all"))
        db.session.commit()
        return product.id


def variant_id(app, sku):
    with in_app(app) as session:
        return session.scalar(db.select(Variant.id).where(Variant.sku == sku))


def listing(app, store, sku):
    with in_app(app) as session:
        row = session.scalar(
            db.select(StoreListing).join(Variant, Variant.id == StoreListing.variant_id)
            .where(StoreListing.store_id == store.id, Variant.sku == sku)
        )
        return None if row is None else (row.stock_on_hand, row.reserved, row.price_fen,
                                         row.listed)


def set_listing(app, store, sku, **values):
    with in_app(app) as session:
        vid = session.scalar(db.select(Variant.id).where(Variant.sku == sku))
        row = session.scalar(db.select(StoreListing).where(
            StoreListing.store_id == store.id, StoreListing.variant_id == vid))
        if row is None:
            row = StoreListing(chain_id=store.chain_id, store_id=store.id, variant_id=vid)
            session.add(row)
        for name, value in values.items():
            setattr(row, name, value)
        session.commit()


def product_title(app, product_id):
    with in_app(app) as session:
        return session.get(Product, product_id).title
