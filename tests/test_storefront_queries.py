"""The listing and product pages run a fixed, small number of SQL statements (no N+1).

Counted on a cold cache (the worst case) and a warm one, while the number of
products, stores and enabled plugins grows.
"""

from __future__ import annotations

import contextlib

import pytest
from markupsafe import Markup
from sqlalchemy import event

from shopbuilder.extensions import cache, db
from shopbuilder.models import Category, Product, Publication, Store, StoreListing, Variant
from shopbuilder.plugins import PluginMeta, hookimpl
from shopbuilder.testing import in_app, make_store, set_plugin_enabled

MAX_QUERIES = 8

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


class SlotPlugin:
    """A plugin that fills the product page's slots (pluggy needs hashable plugin objects)."""

    def __init__(self, name):
        self.meta = PluginMeta(name=name, title=name, version="1")

    @hookimpl
    def shopbuilder_slot(self, slot, store, context):
        if slot in ("product_below_price", "product_actions"):
            name = self.meta.name
            return Markup(f'<p class="{name}">{name}</p>')
        return None


def slot_plugin(name):
    return SlotPlugin(name)


@pytest.fixture
def app_config():
    return {"EXTRA_PLUGINS": [slot_plugin("alpha"), slot_plugin("beta")]}


def add_products(app, chain, count, start=0):
    with in_app(app) as session:
        category = session.scalar(db.select(Category).where(Category.chain_id == chain.id))
        if category is None:
            category = Category(chain_id=chain.id, slug="tea", name="Tea")
            session.add(category)
            session.flush()
        for i in range(start, start + count):
            product = Product(chain_id=chain.id, category_id=category.id, title=f"Tea {i}")
            session.add(product)
            session.flush()
            session.add(Publication(chain_id=chain.id, product_id=product.id, target="all"))
            for v in range(3):
                variant = Variant(chain_id=chain.id, product_id=product.id, sku=f"T{i}-{v}",
                                  price_fen=1000 + i * 10 + v)
                session.add(variant)
                session.flush()
                for store_id in session.scalars(db.select(Store.id)):
                    session.add(StoreListing(chain_id=chain.id, store_id=store_id,
                                             variant_id=variant.id, stock_on_hand=5))
        session.commit()
        return session.scalar(db.select(Product.id).order_by(Product.id))


@contextlib.contextmanager
def count_queries(app):
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def page_queries(app, client, url, cold=True):
    if cold:
        with app.app_context():
            cache.clear()
    with count_queries(app) as statements:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(statements)


def measure(app, client, store, product_id):
    urls = [f"/s/{store.slug}/products", f"/s/{store.slug}/c/tea?sort=price_desc",
            f"/s/{store.slug}/p/{product_id}"]
    return {url: (page_queries(app, client, url), page_queries(app, client, url, cold=False))
            for url in urls}


def test_listing_and_product_pages_query_count_does_not_grow(app, client, chain, store):
    first = add_products(app, chain, 3)
    small = measure(app, client, store, first)

    add_products(app, chain, 40, start=3)
    for i in range(20):
        make_store(app, chain, f"branch-{i}")
    set_plugin_enabled(app, store, "alpha")
    set_plugin_enabled(app, store, "beta")
    large = measure(app, client, store, first)
    # Both plugins' slots show, and cost no query.
    html = client.get(f"/s/{store.slug}/p/{first}").get_data(as_text=True)
    assert 'class="alpha"' in html and 'class="beta"' in html

    for url in small:
        cold_small, warm_small = small[url]
        cold_large, warm_large = large[url]
        assert cold_large == cold_small, url
        assert cold_large <= MAX_QUERIES, url
        # Warm: a cached page costs no SQL at all; a page showing plugin output is drawn
        # again (it must stay live) and only loads the store and its plugin choices.
        assert warm_small <= 2 and warm_large <= 2, url
