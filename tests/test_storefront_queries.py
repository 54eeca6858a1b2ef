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
from shopbuilder.models import Category, Chain, Product, Publication, Store, StoreListing, Variant
from shopbuilder.plugins import PluginMeta, hookimpl
from shopbuilder.testing import detach, in_app, make_store, set_plugin_enabled

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


REAL_PLUGINS = ("groupbuy", "distribution", "pickup")


def demo_with_a_live_campaign(app):
    """The demo chain; west-lake runs a group-buy campaign on its first product."""
    from datetime import timedelta

    from shopbuilder_groupbuy import service as groupbuy

    from shopbuilder import clock, tenancy
    from shopbuilder.demo import load_demo

    with in_app(app) as session, tenancy.unscoped():
        load_demo(echo=lambda *args: None, orders=False, social=False)
        store = session.scalar(db.select(Store).where(Store.slug == "west-lake"))
        variant = session.scalar(db.select(Variant).order_by(Variant.id))
        now = clock.now()
        groupbuy.create_campaign(groupbuy.CampaignInput(
            title="Longjing for three", variant_id=variant.id, group_price_fen=9900,
            group_size=3, fill_hours=24, starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=7), unit_cap=20,
        ), store.chain, store)
        session.commit()
        plain = session.scalar(
            db.select(Product.id).where(Product.id != variant.product_id).order_by(Product.id))
        session.refresh(store.chain)
        return detach(store), variant.product_id, plain


def cold_statements(app, client, url):
    with app.app_context():
        cache.clear()
    with count_queries(app) as statements:
        response = client.get(url)
    assert response.status_code == 200, url
    return statements


def test_real_plugins_add_no_query_per_product_or_store(app, client):
    """Group-buy, distribution and pickup on, a live campaign: still a handful of queries."""
    store, on_sale, plain = demo_with_a_live_campaign(app)
    with in_app(app) as session:
        chain = detach(session.get(Chain, store.chain_id))
    urls = (f"/s/{store.slug}/products", f"/s/{store.slug}/c/green-tea?sort=price_desc",
            f"/s/{store.slug}/p/{on_sale}", f"/s/{store.slug}/p/{plain}")
    before = {url: page_queries(app, client, url) for url in urls}
    for name in REAL_PLUGINS:
        set_plugin_enabled(app, store, name)
    html = client.get(f"/s/{store.slug}/p/{on_sale}").get_data(as_text=True)
    assert "¥99.00" in html  # the group price, from the group-buy slot
    with_plugins = {url: cold_statements(app, client, url) for url in urls}

    add_products(app, chain, 20)
    for i in range(10):
        make_store(app, chain, f"branch-{i}")
    larger = {url: page_queries(app, client, url) for url in urls}
    for url in urls:
        assert len(with_plugins[url]) <= MAX_QUERIES, url
        assert larger[url] == len(with_plugins[url]), url
        # Two product-page slots, one campaign query: group-buy asks once per request.
        campaign_queries = [s for s in with_plugins[url] if "FROM groupbuy_campaign" in s]
        assert len(campaign_queries) == (1 if "/p/" in url else 0), url
    # Listings show no plugin output; a product without a campaign costs that one lookup.
    assert len(with_plugins[urls[0]]) == before[urls[0]]
    assert len(with_plugins[urls[3]]) == before[urls[3]] + 1


def open_groups(app, store, product_id, count, first=0):
    """``count`` customers each open (and pay for) a group of the product's live campaign."""
    from shopbuilder_groupbuy import service as groupbuy

    from shopbuilder import tenancy
    from shopbuilder.models import Customer
    from shopbuilder.services import orders

    checkout = orders.Checkout(fulfilment_code="delivery", payment_provider="offline",
                               contact_name="Lin", contact_phone="138", address="1 Lake Road")
    with app.test_request_context():
        row = db.session.get(Store, store.id)
        with tenancy.store_scope(row):
            campaign = groupbuy.live_campaigns(row, product_id)[0]
            for i in range(first, first + count):
                customer = Customer(chain_id=row.chain_id, email=f"leader{i}@example.com",
                                    name=f"Leader {i}", password_hash="-")
                db.session.add(customer)
                db.session.commit()
                order = groupbuy.start_group(row, customer, campaign, checkout)
                orders.mark_paid(order, "system")


def test_product_page_queries_do_not_grow_with_the_open_groups(app, client):
    """Members' initials of every group shown come in one query, not one per group."""
    store, on_sale, _plain = demo_with_a_live_campaign(app)
    for name in REAL_PLUGINS:
        set_plugin_enabled(app, store, name)
    url = f"/s/{store.slug}/p/{on_sale}"
    open_groups(app, store, on_sale, 1)
    one = cold_statements(app, client, url)
    open_groups(app, store, on_sale, 5, first=1)
    html = client.get(url).get_data(as_text=True)
    assert html.count('class="gb-member gb-leader"') == 6  # every group, with its leader
    six = cold_statements(app, client, url)
    assert len(six) == len(one) <= MAX_QUERIES
    assert len([s for s in six if "FROM groupbuy_member" in s]) == 1


def test_a_signed_in_distributors_page_costs_no_plugin_query_once_drawn(app):
    """Group-buy's groups, distribution's share bar, pickup's link: kept, not queried again."""
    from shopbuilder_distribution import service as distribution

    from shopbuilder import tenancy
    from shopbuilder.demo import DEMO_PASSWORD
    from shopbuilder.models import Customer

    store, on_sale, _plain = demo_with_a_live_campaign(app)
    url = f"/s/{store.slug}/p/{on_sale}"
    browser = app.test_client()
    signed_in = browser.post(f"/s/{store.slug}/login", data={
        "email": "customer@example.com", "password": DEMO_PASSWORD})
    assert signed_in.status_code == 302
    browser.get(url)
    with count_queries(app) as none_on:
        assert 'href="/s/west-lake/account"' in browser.get(url).text

    for name in REAL_PLUGINS:
        set_plugin_enabled(app, store, name)
    open_groups(app, store, on_sale, 2)
    with app.test_request_context(), tenancy.unscoped():
        customer = db.session.scalar(
            db.select(Customer).where(Customer.email == "customer@example.com"))
        row = distribution.apply(db.session.get(Chain, store.chain_id), customer, store=store)
        distribution.decide(row, True, "hq")
        db.session.commit()
    browser.get(url)
    with count_queries(app) as all_on:
        page = browser.get(url).text
    for markup in ('class="gb-actions"', 'class="gb-price"', 'class="distribution-share"',
                   'class="pickup-finder-link"'):
        assert markup in page, markup
    assert page.count('class="gb-member gb-leader"') == 2
    assert all_on == none_on
