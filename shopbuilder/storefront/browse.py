"""The pages a customer browses: home, categories, products, store information."""

from __future__ import annotations

from flask import abort, g, make_response, request
from flask_babel import to_user_timezone
from markupsafe import escape

from .. import clock
from ..services import storefront_catalogue as catalogue
from ..themes import render_store_template, store_theme_settings
from . import bp
from .pagecache import cached_page

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def home_context(store) -> dict:
    """Everything the home sections of any theme may show (cached reads, a few at most)."""
    return {
        "categories": [c for c in catalogue.categories(store) if c.parent_id is None],
        "featured": catalogue.featured(store, 8),
        "newest": catalogue.newest(store, 4),
        "today_hours": today_hours(store),
    }


def today_hours(store) -> list:
    """Today's opening spans in the shop's time zone (``[]`` when closed or unknown)."""
    day = DAYS[to_user_timezone(clock.now()).weekday()]
    return (store.opening_hours or {}).get(day) or []


def _page_arg() -> int:
    try:
        return max(1, min(int(request.args.get("page", 1)), 10_000))
    except ValueError:
        return 1


def _listing(category):
    sort = request.args.get("sort", "default")
    if sort not in catalogue.SORTS:
        sort = "default"
    page = catalogue.listing(g.store, category.id if category else None, sort, _page_arg())
    if page.page > page.pages:
        abort(404)
    return render_store_template(
        "storefront/category.html", category=category, page=page, sort=sort,
        sorts=catalogue.SORTS, categories=catalogue.categories(g.store),
    )


@bp.get("/")
@cached_page
def home():
    return render_store_template("storefront/home.html", **home_context(g.store))


@bp.get("/products")
@cached_page
def all_products():
    return _listing(None)


@bp.get("/c/<slug>")
@cached_page
def category(slug):
    found = catalogue.category_by_slug(g.store, slug)
    if found is None:
        abort(404)
    return _listing(found)


@bp.get("/p/<int:product_id>")
@cached_page
def product(product_id):
    found = catalogue.product(g.store, product_id)
    if found is None:
        abort(404)
    categories = {c.id: c for c in catalogue.categories(g.store)}
    return render_store_template(
        "storefront/product.html", product=found,
        category=categories.get(found.category_id),
    )


@bp.get("/info")
@cached_page
def info():
    store = g.store
    hours = [(day, store.opening_hours.get(day) or []) for day in DAYS]
    return render_store_template("storefront/info.html", hours=hours,
                                 has_hours=any(spans for _d, spans in hours))


@bp.get("/favicon.svg")
def favicon():
    """The store's initial on its accent colour: a favicon of the store, not of the platform."""
    settings = store_theme_settings(g.store)
    colour = settings.get("accent_colour") or "#333333"
    text = settings.get("accent_text") or "#ffffff"
    initial = escape((g.store.name or "?").strip()[:1])
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
        f'<rect width="64" height="64" rx="14" fill="{escape(colour)}"/>'
        f'<text x="32" y="44" font-size="36" text-anchor="middle" fill="{escape(text)}" '
        'font-family="sans-serif">'
        f"{initial}</text></svg>"
    )
    response = make_response(svg)
    response.mimetype = "image/svg+xml"
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response
