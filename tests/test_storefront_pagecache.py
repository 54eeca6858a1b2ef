"""The whole-page cache never shows a customer something stale or someone else's."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from shopbuilder.extensions import db
from shopbuilder.models import Product, Publication, Variant
from shopbuilder.plugins import PluginMeta, hookimpl
from shopbuilder.testing import in_app, login, set_plugin_enabled


class CounterPlugin:
    """Renders a number that changes on every call, like a live group-buy counter."""

    def __init__(self):
        self.meta = PluginMeta(name="counter", title="counter", version="1")
        self.calls = 0

    @hookimpl
    def shopbuilder_slot(self, slot, store, context):
        if slot == "product_below_price":
            self.calls += 1
            return Markup(f'<p class="live">joined {self.calls}</p>')
        return None


COUNTER = CounterPlugin()


@pytest.fixture
def app_config():
    return {"EXTRA_PLUGINS": [COUNTER]}


@pytest.fixture
def tea(app, chain, store):
    with in_app(app) as session:
        product = Product(chain_id=chain.id, title="Dragon Well")
        session.add(product)
        session.flush()
        session.add(Variant(chain_id=chain.id, product_id=product.id, sku="DW", price_fen=1280))
        session.add(Publication(chain_id=chain.id, product_id=product.id, target="all"))
        session.commit()
        return product.id


def test_price_change_shows_on_a_cached_product_page_at_once(app, client, store, tea):
    url = f"/s/{store.slug}/p/{tea}"
    assert "¥12.80" in client.get(url).get_data(as_text=True)
    assert "¥12.80" in client.get(url).get_data(as_text=True)  # now from the cache
    with in_app(app) as session:
        session.scalar(db.select(Variant).where(Variant.sku == "DW")).price_fen = 1500
        session.commit()
    assert "¥15.00" in client.get(url).get_data(as_text=True)


def test_signed_in_customer_never_gets_the_anonymous_page(app, client, store, customer, tea):
    url = f"/s/{store.slug}/p/{tea}"
    client.get(url)
    login(client, customer, store=store)
    html = client.get(url).get_data(as_text=True)
    assert f"/s/{store.slug}/account" in html


def test_plugin_output_stays_live_because_such_pages_are_not_cached(app, client, store, tea):
    set_plugin_enabled(app, store, "counter")
    url = f"/s/{store.slug}/p/{tea}"
    first = client.get(url).get_data(as_text=True)
    second = client.get(url).get_data(as_text=True)
    assert "joined" in first and first != second


def test_theme_change_shows_at_once_on_a_cached_home_page(app, client, store):
    assert "theme-classic" in client.get(f"/s/{store.slug}/").get_data(as_text=True)
    from shopbuilder import settings as settings_store
    from shopbuilder.models import Store

    with in_app(app) as session:
        settings_store.set_store_values(session.get(Store, store.id), "theme", {"name": "teahouse"})
        session.commit()
    assert "theme-teahouse" in client.get(f"/s/{store.slug}/").get_data(as_text=True)


def test_each_visitor_gets_their_own_csrf_token_in_a_cached_page(app, client, store, tea):
    from shopbuilder.storefront import pagecache

    @app.get("/s/<store>/csrf-demo")
    @pagecache.cached_page
    def csrf_demo():
        from shopbuilder.themes import render_store_template

        return render_store_template("storefront/info.html", hours=[], has_hours=False) + \
            str(pagecache.csrf_token_for_cache())

    other = app.test_client()
    a = client.get(f"/s/{store.slug}/csrf-demo").get_data(as_text=True)
    b = other.get(f"/s/{store.slug}/csrf-demo").get_data(as_text=True)
    assert pagecache.CSRF_PLACEHOLDER not in a and pagecache.CSRF_PLACEHOLDER not in b
    assert a.rsplit(">", 1)[1] != b.rsplit(">", 1)[1]


def test_a_flashed_message_shows_even_on_a_cached_page(app, client, store, tea):
    url = f"/s/{store.slug}/p/{tea}"
    client.get(url)  # now cached for anonymous visitors
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "Added to your cart")]
    assert "Added to your cart" in client.get(url).get_data(as_text=True)


def test_visitor_with_a_guest_cart_in_the_session_is_not_served_from_the_cache(app, store):
    from flask import session

    from shopbuilder.storefront import pagecache

    with app.test_request_context(f"/s/{store.slug}/"):
        assert pagecache._cacheable()
        session["guest_cart"] = {"lines": [1]}
        assert not pagecache._cacheable()


def count_sql(app, client, url):
    from sqlalchemy import event

    statements = []
    with app.app_context():
        engine = db.engine

    def record(*args):
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return response, len(statements)


def test_a_cached_page_is_served_without_any_sql(app, client, store, tea):
    url = f"/s/{store.slug}/p/{tea}"
    client.get(url)
    response, statements = count_sql(app, client, url)
    assert response.status_code == 200 and "Dragon Well" in response.get_data(as_text=True)
    assert statements == 0


def test_suspending_a_store_closes_its_cached_pages_at_once(app, client, store, tea):
    from shopbuilder.models import Store

    url = f"/s/{store.slug}/p/{tea}"
    assert client.get(url).status_code == 200
    with in_app(app) as session:
        session.get(Store, store.id).status = "suspended"
        session.commit()
    assert client.get(url).status_code == 503


def test_a_renamed_store_no_longer_answers_on_its_old_address(app, client, store, tea):
    from shopbuilder.models import Store

    url = f"/s/{store.slug}/p/{tea}"
    assert client.get(url).status_code == 200
    with in_app(app) as session:
        session.get(Store, store.id).slug = "renamed"
        session.commit()
    assert client.get(url).status_code == 404
    assert client.get(f"/s/renamed/p/{tea}").status_code == 200
