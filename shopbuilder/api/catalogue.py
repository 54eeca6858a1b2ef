"""Categories, product listing, search and product detail, as the store sells them."""

from __future__ import annotations

from flask import g

from ..extensions import db
from ..models import Category, Product
from . import bp
from . import catalogue_query as cq
from .core import operation
from .pagination import decode_cursor, offset_page, page
from .problems import problem
from .schemas import CategoryList, ProductDetail, ProductPage, ProductQuery, SearchQuery


def _image_url(product: Product) -> str | None:
    return f"/media/{product.image}" if product.image else None


def product_summary(product: Product, variants: list[cq.PricedVariant]) -> dict:
    cheapest = min(variants, key=lambda v: v.price_fen) if variants else None
    return {
        "id": product.id,
        "title": product.title,
        "category_id": product.category_id,
        "image_url": _image_url(product),
        "price_fen": cheapest.price_fen if cheapest else None,
        "compare_at_fen": cheapest.compare_at_fen if cheapest else None,
        "currency": g.chain.currency,
        "in_stock": any(v.available > 0 for v in variants),
    }


def variant_view(priced: cq.PricedVariant) -> dict:
    variant = priced.variant
    return {
        "id": variant.id, "sku": variant.sku, "label": variant.label,
        "options": {str(k): str(v) for k, v in (variant.options or {}).items()},
        "price_fen": priced.price_fen, "compare_at_fen": priced.compare_at_fen,
        "available": priced.available, "in_stock": priced.available > 0,
    }


@bp.get("/stores/<store>/categories")
@operation("The chain's categories", tags=["catalogue"], response=CategoryList, etag=True)
def categories():
    rows = db.session.scalars(db.select(Category).order_by(Category.position, Category.id))
    return {"items": [
        {"id": c.id, "slug": c.slug, "name": c.name, "parent_id": c.parent_id,
         "position": c.position} for c in rows]}


def _product_page(query: dict, text: str | None = None) -> dict:
    store = g.store
    category_ids = None
    if query.get("category"):
        category_ids = cq.category_with_children(query["category"])
        if category_ids is None:
            raise problem("validation_failed", errors=[
                {"field": "category", "in": "query", "message": "No such category."}])
    stmt = cq.visible_products(store, category_ids, text)
    sort, limit, kind = query.get("sort", "newest"), query["limit"], f"products:{store.id}"
    if sort in ("price_asc", "price_desc"):
        # Effective prices are computed per store, so this order is computed too.
        products = list(db.session.scalars(stmt))
        priced = cq.priced_variants(store, products)
        rows = [product_summary(p, priced[p.id]) for p in products]
        sign = -1 if sort == "price_desc" else 1
        # Products with no price go last either way.
        rows.sort(key=lambda r: (r["price_fen"] is None, sign * (r["price_fen"] or 0), r["id"]))
        return offset_page(rows, query, f"{kind}:{sort}")
    position = decode_cursor(f"{kind}:{sort}", query.get("cursor"))
    if sort == "title":
        stmt = stmt.order_by(Product.title, Product.id)
        if position:
            stmt = stmt.where((Product.title > position.get("t", "")) | (
                (Product.title == position.get("t", "")) & (Product.id > position.get("i", 0))))
    else:
        stmt = stmt.order_by(Product.id.desc())
        if position:
            stmt = stmt.where(Product.id < position.get("i", 0))
    products = list(db.session.scalars(stmt.limit(limit + 1)))
    more = len(products) > limit
    products = products[:limit]
    priced = cq.priced_variants(store, products)
    items = [product_summary(p, priced[p.id]) for p in products]
    last = products[-1] if products and more else None
    next_position = {"t": last.title, "i": last.id} if last is not None else None
    return page(items, next_position, f"{kind}:{sort}")


@bp.get("/stores/<store>/products")
@operation(
    "List the products this store sells", tags=["catalogue"], query=ProductQuery,
    response=ProductPage, etag=True,
    description="Filter by `category`, order by `sort`; pages follow `next_cursor`.",
)
def products(query):
    return _product_page(query, query.get("q"))


@bp.get("/stores/<store>/search")
@operation("Search this store's products", tags=["catalogue"], query=SearchQuery,
           response=ProductPage, etag=True)
def search(query):
    return _product_page({**query, "sort": "title"}, query["q"])


@bp.get("/stores/<store>/products/<int:product_id>")
@operation("A product with its variants, price here and availability", tags=["catalogue"],
           response=ProductDetail, etag=True)
def product_detail(product_id):
    product = cq.find_product(g.store, product_id)
    if product is None:
        raise problem("not_found")
    variants = cq.priced_variants(g.store, [product])[product.id]
    return {
        **product_summary(product, variants),
        "description": product.description,
        "variants": [variant_view(v) for v in variants],
    }
