"""Categories, product listing, search and product detail, as the store sells them.

Reads go through the storefront's read service (visibility, effective price,
availability, cached per store) and the catalogue's search service, so the API
and the HTML shop always agree.
"""

from __future__ import annotations

import hashlib

from flask import g
from flask_babel import gettext as _

from ..services import search as search_service
from ..services import storefront_catalogue as sf
from . import bp
from .core import json_dumps_stable, operation
from .pagination import decode_cursor, encode_cursor
from .problems import problem
from .schemas import CategoryList, ProductDetail, ProductPage, ProductQuery, SearchQuery


def image_url(image: str | None) -> str | None:
    return f"/media/{image}" if image else None


def card_view(card: sf.ProductCard) -> dict:
    return {
        "id": card.id, "title": card.title, "category_id": card.category_id,
        "image_url": image_url(card.image), "price_fen": card.price_fen,
        "max_price_fen": card.max_price_fen, "compare_at_fen": card.compare_at_fen,
        "currency": g.chain.currency, "in_stock": card.in_stock,
    }


def variant_view(variant: sf.VariantView) -> dict:
    return {
        "id": variant.id, "sku": variant.sku, "label": variant.label,
        "options": {str(k): str(v) for k, v in (variant.options or {}).items()},
        "price_fen": variant.price_fen, "compare_at_fen": variant.compare_at_fen,
        "available": max(variant.available, 0), "in_stock": variant.in_stock,
    }


def product_view(product: sf.ProductView) -> dict:
    compare = [v.compare_at_fen for v in product.variants if v.compare_at_fen]
    return {
        "id": product.id, "title": product.title, "category_id": product.category_id,
        "image_url": image_url(product.image), "price_fen": product.price_fen,
        "max_price_fen": product.max_price_fen, "compare_at_fen": min(compare) if compare else None,
        "currency": g.chain.currency, "in_stock": product.available > 0,
        "description": product.description,
        "variants": [variant_view(v) for v in product.variants],
    }


def _page_position(kind: str, query: dict) -> tuple[int, int]:
    """(page, per_page) from the signed cursor, or the first page of ``limit``."""
    position = decode_cursor(kind, query.get("cursor"))
    if position is None:
        return 1, query["limit"]
    page, per_page = position.get("p"), position.get("n")
    if not (isinstance(page, int) and isinstance(per_page, int) and page >= 1 and per_page >= 1):
        return 1, query["limit"]
    return page, per_page


def _category_ids(query: dict) -> list[int] | None:
    wanted = query.get("category")
    if wanted is None:
        return None
    if not any(c.id == wanted for c in sf.categories(g.store)):
        raise problem("validation_failed", errors=[
            {"field": "category", "in": "query", "message": _("No such category.")}])
    return sf.descendant_ids(g.store, wanted)


@bp.get("/stores/<store>/categories")
@operation("The chain's categories", tags=["catalogue"], response=CategoryList, etag=True)
def categories():
    return {"items": [
        {"id": c.id, "slug": c.slug, "name": c.name, "parent_id": c.parent_id,
         "position": c.position} for c in sf.categories(g.store)]}


@bp.get("/stores/<store>/products")
@operation(
    "List the products this store sells", tags=["catalogue"], query=ProductQuery,
    response=ProductPage, etag=True,
    description="Filter by `category` (with its subcategories), order by `sort`; follow "
                "`next_cursor` for the next page (the cursor is opaque and signed).",
)
def products(query):
    category_ids = _category_ids(query)
    kind = f"products:{g.store.id}:{query.get('category')}:{query['sort']}"
    page_number, per_page = _page_position(kind, query)
    category = category_ids[0] if category_ids else None
    result = sf.listing(g.store, category, query["sort"], page_number, per_page)
    next_cursor = (encode_cursor(kind, {"p": page_number + 1, "n": per_page})
                   if result.has_next else None)
    return {"items": [card_view(c) for c in result.items], "next_cursor": next_cursor}


@bp.get("/stores/<store>/search")
@operation("Search this store's products", tags=["catalogue"], query=SearchQuery,
           response=ProductPage, etag=True,
           description="Chinese is matched by characters and pairs, English by words "
                       "(the last one as a prefix). Prices filter what this store charges.")
def search(query):
    category_ids = _category_ids(query)
    # The cursor belongs to this query: another query's cursor would page through other hits.
    asked = json_dumps_stable({k: query.get(k) for k in
                               ("q", "category", "min_price_fen", "max_price_fen", "sort")})
    kind = f"search:{g.store.id}:{hashlib.sha256(asked.encode()).hexdigest()[:16]}"
    page_number, per_page = _page_position(kind, query)
    result = search_service.search_products(
        g.store, q=query["q"], category_ids=category_ids,
        min_fen=query.get("min_price_fen"), max_fen=query.get("max_price_fen"),
        sort=query["sort"], page=page_number, per_page=per_page,
    )
    items = []
    for hit in result.hits:
        product = sf.product(g.store, hit.product.id)
        if product is None:  # a product with no listed variant left
            continue
        view = product_view(product)
        items.append({k: view[k] for k in card_keys()})
    next_cursor = (encode_cursor(kind, {"p": page_number + 1, "n": per_page})
                   if result.has_next else None)
    return {"items": items, "next_cursor": next_cursor}


def card_keys() -> tuple[str, ...]:
    return ("id", "title", "category_id", "image_url", "price_fen", "max_price_fen",
            "compare_at_fen", "currency", "in_stock")


@bp.get("/stores/<store>/products/<int:product_id>")
@operation("A product with its variants, price here and availability", tags=["catalogue"],
           response=ProductDetail, etag=True)
def product_detail(product_id):
    product = sf.product(g.store, product_id)
    if product is None:
        raise problem("not_found")
    return product_view(product)
