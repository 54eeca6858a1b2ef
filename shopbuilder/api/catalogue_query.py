"""What a store sells, at which price, and how many are available — for the API.

The storefront's read service will own this rule; until it lands on main this
module answers the same questions with the catalogue models (see
``shopbuilder/models/catalogue.py``): a master product reaches a store through
a publication (all stores, the store's city, or the store itself), its price is
the store's listing override, else the most specific publication price, else
the variant's price; what can be bought is ``stock_on_hand - reserved``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, exists, or_

from ..extensions import db
from ..models import Category, Product, Publication, StoreListing, Variant

_TARGET_RANK = {"store": 3, "city": 2, "all": 1}


@dataclass(frozen=True)
class PricedVariant:
    variant: Variant
    price_fen: int
    compare_at_fen: int | None
    available: int


def _publication_reaches(store):
    return or_(
        Publication.target == "all",
        and_(Publication.target == "city", Publication.city == store.city),
        and_(Publication.target == "store", Publication.store_id == store.id),
    )


def visible_products(store, category_ids=None, text: str | None = None):
    """A ``select(Product)`` of the active products ``store`` sells."""
    published = exists().where(Publication.product_id == Product.id, _publication_reaches(store))
    stmt = db.select(Product).where(
        Product.status == "active",
        or_(Product.store_id == store.id, and_(Product.store_id.is_(None), published)),
    )
    if category_ids is not None:
        stmt = stmt.where(Product.category_id.in_(category_ids))
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(Product.title.ilike(pattern, escape="\\"),
                              Product.description.ilike(pattern, escape="\\")))
    return stmt


def category_with_children(category_id: int) -> list[int] | None:
    """The category and everything below it, or None when it does not exist."""
    rows = db.session.execute(db.select(Category.id, Category.parent_id)).all()
    known = {row.id for row in rows}
    if category_id not in known:
        return None
    wanted, frontier = {category_id}, {category_id}
    while frontier:
        frontier = {row.id for row in rows if row.parent_id in frontier} - wanted
        wanted |= frontier
    return sorted(wanted)


def priced_variants(store, products) -> dict[int, list[PricedVariant]]:
    """Each product's variants as ``store`` sells them (hidden ones left out)."""
    products = list(products)
    if not products:
        return {}
    product_ids = [p.id for p in products]
    variant_ids = [v.id for p in products for v in p.variants]
    listings = {
        row.variant_id: row
        for row in db.session.scalars(
            db.select(StoreListing).where(StoreListing.variant_id.in_(variant_ids)))
    } if variant_ids else {}
    publication_price: dict[int, tuple[int, int | None]] = {}
    for pub in db.session.scalars(db.select(Publication).where(
            Publication.product_id.in_(product_ids), _publication_reaches(store))):
        rank = _TARGET_RANK.get(pub.target, 0)
        if pub.price_fen is not None and rank > publication_price.get(pub.product_id, (0,))[0]:
            publication_price[pub.product_id] = (rank, pub.price_fen)
    result: dict[int, list[PricedVariant]] = {}
    for product in products:
        default_price = publication_price.get(product.id, (0, None))[1]
        found = []
        for variant in product.variants:
            listing = listings.get(variant.id)
            if listing is not None and listing.listed is False:
                continue
            price = variant.price_fen if default_price is None else default_price
            compare_at = variant.compare_at_fen
            available = 0
            if listing is not None:
                price = listing.price_fen if listing.price_fen is not None else price
                if listing.compare_at_fen is not None:
                    compare_at = listing.compare_at_fen
                available = max(listing.available, 0)
            found.append(PricedVariant(variant, price, compare_at, available))
        result[product.id] = found
    return result


def find_product(store, product_id: int) -> Product | None:
    return db.session.scalar(visible_products(store).where(Product.id == product_id))


def priced_variant(store, variant_id: int) -> PricedVariant | None:
    """One variant as ``store`` sells it, or None when the store does not sell it."""
    variant = db.session.get(Variant, variant_id)
    if variant is None or find_product(store, variant.product_id) is None:
        return None
    for priced in priced_variants(store, [variant.product]).get(variant.product_id, []):
        if priced.variant.id == variant_id:
            return priced
    return None
