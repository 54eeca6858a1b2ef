"""What a slot shows every visitor is kept across requests, signed-in visitors included.

``cached_slot`` / ``store_cached`` keep a plugin's HTML per store under the same renewal
as the storefront's cached pages: a change to the store shows on the next request, each
store and each language has its own entry, and a moment said with ``page_valid_until``
while drawing caps the entry's life (and that of a cached page served around it).
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from catalogue_helpers import make_product
from flask_babel import get_locale
from markupsafe import Markup, escape

from shopbuilder import clock, create_app, hookimpl
from shopbuilder.extensions import db
from shopbuilder.models import Store
from shopbuilder.plugins import STORE_CACHED_PREFIX, PluginMeta, cached_slot, page_valid_until
from shopbuilder.testing import (
    cache_lifetimes,
    in_app,
    login,
    make_chain,
    make_customer,
    make_store,
    make_test_config,
    page_cache_lifetimes,
    reset_database,
    set_plugin_enabled,
)

#: CI sets it; on a laptop without Redis the Redis test skips.
REDIS_URL = os.environ.get("SHOPBUILDER_TEST_REDIS_URL")


class KeptHint:
    """A product-page hint naming the store and the language, kept for every visitor."""

    def __init__(self):
        self.meta = PluginMeta(name="kepthint", title="Kept hint", version="1", api_min="1.5")
        self.drawn: list[tuple[str, str]] = []
        self.changes_at = None

    @hookimpl
    def shopbuilder_slot(self, slot, store, context):
        if slot != "product_below_price":
            return None
        product = context["product"]

        def render():
            self.drawn.append((store.slug, str(get_locale())))
            page_valid_until(self.changes_at)
            return Markup('<p class="kept-hint">{} · {}</p>').format(
                escape(store.name), str(get_locale()))

        return cached_slot(f"kepthint:{product.id}", render, store)


HINT = KeptHint()


@pytest.fixture
def app_config():
    return {"EXTRA_PLUGINS": [HINT]}


@pytest.fixture(autouse=True)
def _fresh_hint():
    HINT.drawn.clear()
    HINT.changes_at = None


@pytest.fixture
def product_path(app, chain, store, other_store):
    product_id = make_product(app, chain, publish="all")
    for shop in (store, other_store):
        set_plugin_enabled(app, shop, "kepthint")
    return f"p/{product_id}"


def test_signed_in_visitors_share_what_the_slot_kept(app, chain, store, product_path):
    pages = []
    for email in ("lin@example.com", "wu@example.com"):
        client = app.test_client()
        login(client, make_customer(app, chain, email), store)
        for _ in range(2):
            pages.append(client.get(f"/s/{store.slug}/{product_path}?lang=en").text)
    assert all('<p class="kept-hint">North Street · en</p>' in page for page in pages)
    assert HINT.drawn == [("north", "en")]  # drawn once for four signed-in page views


def test_a_change_to_the_store_shows_on_the_next_request(app, chain, store, product_path):
    client = app.test_client()
    login(client, make_customer(app, chain), store)
    url = f"/s/{store.slug}/{product_path}?lang=en"
    assert "North Street · en" in client.get(url).text
    with in_app(app) as session:
        session.get(Store, store.id).name = "North Street Flagship"
        session.commit()
    assert "North Street Flagship · en" in client.get(url).text
    assert len(HINT.drawn) == 2


def test_each_store_and_each_language_has_its_own_entry(
        app, client, store, other_store, product_path):
    north_en = client.get(f"/s/{store.slug}/{product_path}?lang=en").text
    north_zh = client.get(f"/s/{store.slug}/{product_path}?lang=zh_CN").text
    south = client.get(f"/s/{other_store.slug}/{product_path}?lang=en").text
    assert "North Street · en" in north_en and "North Street · zh_Hans_CN" in north_zh
    assert "South Street · en" in south and "North Street" not in south
    assert sorted(HINT.drawn) == [("north", "en"), ("north", "zh_Hans_CN"), ("south", "en")]


def test_the_entry_lives_no_longer_than_the_moment_said_while_drawing(
        app, client, store, product_path, monkeypatch):
    HINT.changes_at = clock.now() + timedelta(seconds=20)
    kept = cache_lifetimes(app, monkeypatch, STORE_CACHED_PREFIX)
    pages = page_cache_lifetimes(app, monkeypatch)
    client.get(f"/s/{store.slug}/{product_path}")
    # Another URL of the same product: a new page, drawn around the kept hint.
    client.get(f"/s/{store.slug}/{product_path}?utm=poster")
    assert len(HINT.drawn) == 1
    assert len(kept) == 1 and 0 < kept[0] <= 20
    assert len(pages) == 2 and all(0 < seconds <= 20 for seconds in pages)


def test_a_moment_already_past_is_not_kept(app, chain, store, product_path):
    HINT.changes_at = clock.now() - timedelta(seconds=1)
    client = app.test_client()
    login(client, make_customer(app, chain), store)
    for _ in range(2):
        assert 'class="kept-hint"' in client.get(f"/s/{store.slug}/{product_path}").text
    assert len(HINT.drawn) == 2


def test_outside_a_request_the_slot_is_drawn_each_time(app, store, product_path):
    from shopbuilder.plugins import store_cached

    with in_app(app):
        shop = db.session.get(Store, store.id)
        assert [store_cached("kepthint:x", lambda: shop.name, shop) for _ in range(2)] == [
            "North Street", "North Street"]


def redis_or_skip() -> str:
    """The test Redis; a skip only when none is configured and none answers locally."""
    import redis

    url = REDIS_URL or "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as exc:
        if REDIS_URL:
            raise AssertionError(f"SHOPBUILDER_TEST_REDIS_URL={REDIS_URL} does not answer") from exc
        pytest.skip(f"no Redis at {url}")
    return url


@pytest.fixture
def two_workers(db_url, tmp_path):
    """Two apps on one database and one Redis: what two gunicorn workers are."""
    config = {"EXTRA_PLUGINS": [HINT], "REDIS_URL": redis_or_skip(),
              "CACHE_KEY_PREFIX": f"test-{uuid.uuid4().hex}:"}
    first = create_app(make_test_config(db_url, str(tmp_path / "one"), **config))
    reset_database(first)
    second = create_app(make_test_config(db_url, str(tmp_path / "two"), **config))
    yield first, second
    for app in (first, second):
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_with_redis_every_worker_shares_the_entry_and_its_renewal(two_workers):
    first, second = two_workers
    chain = make_chain(first)
    store = make_store(first, chain, "north", "North Street")
    path = f"/s/{store.slug}/p/{make_product(first, chain, publish='all')}?lang=en"
    set_plugin_enabled(first, store, "kepthint")
    customer = make_customer(first, chain)
    browsers = []
    for app in (first, second):
        browser = app.test_client()
        login(browser, customer, store)
        browsers.append(browser)
    assert "North Street · en" in browsers[0].get(path).text
    assert "North Street · en" in browsers[1].get(path).text
    assert len(HINT.drawn) == 1  # the second worker read what the first drew
    with in_app(first) as session:
        session.get(Store, store.id).name = "North Street Flagship"
        session.commit()
    assert "North Street Flagship · en" in browsers[1].get(path).text  # at once
    assert len(HINT.drawn) == 2
