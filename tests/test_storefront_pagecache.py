"""The whole-page cache never shows a customer something stale or someone else's."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from shopbuilder.extensions import db
from shopbuilder.models import Product, Publication, Variant
from shopbuilder.plugins import PluginMeta, hookimpl
from shopbuilder.testing import in_app, login, page_cache_lifetimes, set_plugin_enabled


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


class CountdownPlugin:
    """Cacheable HTML that changes by itself at a known moment (``changes_in`` seconds)."""

    def __init__(self):
        self.meta = PluginMeta(name="countdown", title="countdown", version="1")
        self.changes_in = 60
        self.calls = 0

    @hookimpl
    def shopbuilder_slot(self, slot, store, context):
        from datetime import timedelta

        from shopbuilder import clock
        from shopbuilder.plugins import SlotHTML, page_valid_until

        if slot != "product_below_price":
            return None
        self.calls += 1
        page_valid_until(clock.now() + timedelta(seconds=self.changes_in))
        html = SlotHTML('<p class="starts-soon">Starts soon</p>')
        html.cacheable = True
        return html


COUNTDOWN = CountdownPlugin()


@pytest.fixture
def app_config():
    return {"EXTRA_PLUGINS": [COUNTER, COUNTDOWN]}


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


# -- bulk writers (till sync, CSV import, publishing to chosen stores) ---------------------------


def staff_client(app, account, **where):
    """A separate browser for staff, so the customer's client stays anonymous and cached."""
    browser = app.test_client()
    browser.set_cookie("lang", "en")
    login(browser, account, **where)
    return browser


def till_key(app, store):
    from shopbuilder.services import catalogue as service

    with in_app(app) as session:
        _row, plain = service.create_api_key(session.get(type(store), store.id), "till")
        session.commit()
        return plain


def sync(app, store, key, request_id, mode, stock):
    return app.test_client().put(
        f"/api/v1/stores/{store.slug}/stock",
        json={"request_id": request_id, "mode": mode, "items": [{"sku": "DW", "stock": stock}]},
        headers={"Authorization": f"Bearer {key}"},
    )


def product_page(client, store, product_id):
    client.set_cookie("lang", "en")
    return client.get(f"/s/{store.slug}/p/{product_id}").get_data(as_text=True)


def test_till_sync_shows_the_new_stock_on_a_cached_product_page(app, client, store, tea):
    key = till_key(app, store)
    assert "Sold out at this store" in product_page(client, store, tea)  # cached now
    assert sync(app, store, key, "r1", "absolute", 20).status_code == 200  # creates the listing
    assert "20 left" in product_page(client, store, tea)
    assert sync(app, store, key, "r2", "absolute", 15).status_code == 200  # updates it
    assert "15 left" in product_page(client, store, tea)
    assert sync(app, store, key, "r3", "delta", -5).status_code == 200
    assert "10 left" in product_page(client, store, tea)


def csv_import(browser, store, body):
    import io

    return browser.post(
        f"/s/{store.slug}/manage/listings/import",
        data={"file": (io.BytesIO(body.encode()), "listings.csv")},
        content_type="multipart/form-data",
    )


def test_csv_import_shows_new_prices_and_stock_on_a_cached_product_page(
        app, client, store, manager, tea):
    browser = staff_client(app, manager, store=store)
    assert "¥12.80" in product_page(client, store, tea)  # cached now
    assert csv_import(browser, store, "sku,price,stock,listed\nDW,9.9,4,1\n").status_code == 200
    page = product_page(client, store, tea)
    assert "¥9.90" in page and "4 left" in page  # the import created the listing
    assert csv_import(browser, store, "sku,price,stock,listed\nDW,8.8,3,1\n").status_code == 200
    page = product_page(client, store, tea)
    assert "¥8.80" in page and "3 left" in page  # and then updated it


def test_publishing_to_a_chosen_store_opens_its_cached_pages_at_once(
        app, client, chain, store, other_store, hq_user):
    with in_app(app) as session:
        product = Product(chain_id=chain.id, title="Silver Needle")
        session.add(product)
        session.flush()
        session.add(Variant(chain_id=chain.id, product_id=product.id, sku="SN", price_fen=3000))
        session.commit()
        product_id = product.id
    client.set_cookie("lang", "en")
    assert client.get(f"/s/{store.slug}/p/{product_id}").status_code == 404
    assert "Silver Needle" not in client.get(f"/s/{store.slug}/").get_data(as_text=True)
    hq = staff_client(app, hq_user, chain=chain)
    hq.post(f"/hq/{chain.slug}/products/{product_id}/publish", data={
        "target": "store", "store_ids": [str(store.id)], "price": "25", "confirm": "1"})
    assert "¥25.00" in product_page(client, store, product_id)
    assert "Silver Needle" in client.get(f"/s/{store.slug}/").get_data(as_text=True)
    assert client.get(f"/s/{other_store.slug}/p/{product_id}").status_code == 404
    hq.post(f"/hq/{chain.slug}/products/{product_id}/publish", data={
        "target": "store", "store_ids": [str(store.id)], "price": "22", "confirm": "1"})
    assert "¥22.00" in product_page(client, store, product_id)


def test_a_core_statement_on_the_listing_table_renews_the_store_pages(app, client, store, tea):
    """Any writer in the store's scope is noticed, not only the ones that say so."""
    from shopbuilder import tenancy
    from shopbuilder.models import StoreListing

    assert "Sold out at this store" in product_page(client, store, tea)
    with app.test_request_context(), tenancy.store_scope(store):
        variant = db.session.scalar(db.select(Variant.id).where(Variant.sku == "DW"))
        db.session.execute(db.insert(StoreListing.__table__).values(
            chain_id=store.chain_id, store_id=store.id, variant_id=variant,
            stock_on_hand=7, reserved=0))
        db.session.commit()
    assert "7 left" in product_page(client, store, tea)


# -- pages that change by themselves at a known moment (page_valid_until) ------------------------


def test_a_page_is_kept_no_longer_than_a_plugin_says_it_stays_true(
        app, client, store, tea, monkeypatch):
    set_plugin_enabled(app, store, "countdown")
    kept = page_cache_lifetimes(app, monkeypatch)
    COUNTDOWN.changes_in, COUNTDOWN.calls = 12.7, 0
    url = f"/s/{store.slug}/p/{tea}"
    client.get(url)
    client.get(url)
    assert kept == [12] and COUNTDOWN.calls == 1  # rounded down: gone by then; a hit


def test_a_page_whose_moment_has_come_is_not_kept(app, client, store, tea, monkeypatch):
    set_plugin_enabled(app, store, "countdown")
    kept = page_cache_lifetimes(app, monkeypatch)
    COUNTDOWN.changes_in, COUNTDOWN.calls = 0.5, 0
    url = f"/s/{store.slug}/p/{tea}"
    client.get(url)
    client.get(url)
    assert kept == [] and COUNTDOWN.calls == 2
