"""``/s/<store>/search``: find what this store sells, in Chinese or English."""

from __future__ import annotations

from flask import current_app, g, render_template, request, url_for
from werkzeug.routing import BuildError

from ..money import parse_yuan
from ..services import catalogue as catalogue_service
from ..services.search import SORTS, search_products
from . import bp


def _yuan_arg(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return parse_yuan(raw)
    except ValueError:
        return None


def _render(name: str, **context):
    """In the store's theme when the theme system is installed, else the core template."""
    try:
        from ..themes import render_store_template
    except ImportError:
        return render_template(name, **context)
    return render_store_template(name, **context)


def product_url(product) -> str:
    """The product page, whichever argument name the storefront's product route uses."""
    if "storefront.product" in current_app.view_functions:
        for argument in ("product_id", "id"):
            try:
                return url_for("storefront.product", **{argument: product.id})
            except BuildError:
                continue
    return url_for("storefront.search", q=product.title)


@bp.get("/search")
def search():
    q = request.args.get("q", "")
    raw_category = request.args.get("category", "")
    category_id = int(raw_category) if raw_category.isdigit() else None
    sort = request.args.get("sort", "relevance")
    raw_page = request.args.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() and len(raw_page) < 6 else 1
    tree = catalogue_service.category_tree(g.chain.id)
    subtree = (catalogue_service.category_subtree_ids(g.chain.id, category_id)
               if category_id else None)
    results = search_products(
        g.store, q, category_id=category_id, min_fen=_yuan_arg("min"), max_fen=_yuan_arg("max"),
        sort=sort if sort in SORTS else "relevance", page=page, category_ids=subtree,
    )
    return _render(
        "storefront/search.html", results=results, tree=tree, category_id=category_id,
        sort=sort, min_price=request.args.get("min", ""), max_price=request.args.get("max", ""),
        product_url=product_url,
    )
