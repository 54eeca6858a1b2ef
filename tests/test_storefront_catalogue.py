"""What a store sells: visibility, price at this store, stock at this store, and the cache."""

from __future__ import annotations

import pytest

from shopbuilder import tenancy
from shopbuilder.extensions import cache, db
from shopbuilder.models import Category, Product, Publication, Store, StoreListing, Variant
from shopbuilder.services import cart as cart_service
from shopbuilder.services import storefront_catalogue as catalogue
from shopbuilder.testing import in_app, make_store

# The read service's SQL (grouped subqueries, window count) must hold on both databases.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


def product(session, chain, title, price=1000, store=None, status="active", publish=None,
            category=None):
    item = Product(chain_id=chain.id, title=title, status=status,
                   store_id=store.id if store else None,
                   category_id=category.id if category else None)
    session.add(item)
    session.flush()
    variant = Variant(chain_id=chain.id, product_id=item.id, sku=f"sku-{item.id}", price_fen=price)
    session.add(variant)
    for target, extra in publish or ():
        session.add(Publication(chain_id=chain.id, product_id=item.id, target=target, **extra))
    session.flush()
    return item, variant


@pytest.fixture
def shop(app, chain):
    """Two stores in Hangzhou and one in Suzhou, and products published in every way."""
    north = make_store(app, chain, "north", city="杭州")
    south = make_store(app, chain, "south", city="杭州")
    far = make_store(app, chain, "far", city="苏州")
    with in_app(app) as session:
        tea = Category(chain_id=chain.id, slug="tea", name="Tea")
        session.add(tea)
        session.flush()
        ids = {}
        ids["all"], v_all = product(session, chain, "For all", 1000, publish=[("all", {})],
                                    category=tea)
        ids["city"], _ = product(session, chain, "Hangzhou only", 2000,
                                 publish=[("city", {"city": "杭州"})])
        ids["north"], _ = product(session, chain, "North only", 3000,
                                  publish=[("store", {"store_id": north.id})])
        ids["unpublished"], _ = product(session, chain, "Not published", 4000)
        ids["draft"], _ = product(session, chain, "Draft", 5000, status="draft",
                                  publish=[("all", {})])
        ids["local"], _ = product(session, chain, "North's own cake", 600, store=north)
        ids["priced"], _ = product(session, chain, "Repriced", 1000, publish=[
            ("all", {"price_fen": 900}), ("city", {"city": "杭州", "price_fen": 800}),
            ("store", {"store_id": north.id, "price_fen": 700})])
        session.add(StoreListing(chain_id=chain.id, store_id=north.id, variant_id=v_all.id,
                                 stock_on_hand=10, reserved=3, price_fen=1200))
        session.commit()
        ids = {k: v.id for k, v in ids.items()}
    return {"north": north, "south": south, "far": far, "ids": ids}


def titles(app, store):
    with app.test_request_context(), tenancy.store_scope(store):
        db_store = db.session.get(Store, store.id)
        return {p.title for p in catalogue.listing(db_store, per_page=100).items}


def test_store_sees_products_published_to_all_its_city_itself_and_its_own(app, shop):
    assert titles(app, shop["north"]) == {
        "For all", "Hangzhou only", "North only", "North's own cake", "Repriced"}
    assert titles(app, shop["south"]) == {"For all", "Hangzhou only", "Repriced"}
    assert titles(app, shop["far"]) == {"For all", "Repriced"}


def view(app, store, product_id):
    with app.test_request_context(), tenancy.store_scope(store):
        return catalogue.product(db.session.get(Store, store.id), product_id)


def test_price_comes_from_listing_then_most_specific_publication_then_variant(app, shop):
    ids = shop["ids"]
    assert view(app, shop["north"], ids["all"]).price_fen == 1200  # the store's override
    assert view(app, shop["south"], ids["all"]).price_fen == 1000  # the variant's price
    assert view(app, shop["north"], ids["priced"]).price_fen == 700  # store publication
    assert view(app, shop["south"], ids["priced"]).price_fen == 800  # city publication
    assert view(app, shop["far"], ids["priced"]).price_fen == 900  # all-stores publication


def cart_price(app, store, product_id):
    """What the cart charges for the product's variant in ``store``: (price, sellable)."""
    with app.test_request_context(), tenancy.store_scope(store):
        variant = db.session.scalar(db.select(Variant).where(Variant.product_id == product_id))
        line = cart_service.price_variant(db.session.get(Store, store.id), variant)
        return line.unit_price_fen, line.sellable


def test_the_cart_charges_the_most_specific_publications_price(app, shop):
    ids = shop["ids"]
    assert cart_price(app, shop["north"], ids["priced"])[0] == 700  # store publication
    assert cart_price(app, shop["south"], ids["priced"])[0] == 800  # city publication
    assert cart_price(app, shop["far"], ids["priced"])[0] == 900  # all-stores publication
    assert cart_price(app, shop["north"], ids["all"])[0] == 1200  # the store's override
    assert cart_price(app, shop["south"], ids["city"])[0] == 2000  # the variant's price
    with app.test_request_context(), tenancy.store_scope(shop["far"]):
        far = db.session.get(Store, shop["far"].id)
        assert cart_service.publication_price(far, ids["priced"]) == (True, 900)
        assert cart_service.publication_price(far, ids["city"]) == (False, None)


def test_buying_now_charges_what_the_cart_charges_in_every_store(app, shop):
    """Buy now prices the variant in the statement that loads it: same answers as the cart."""
    for name in ("north", "south", "far"):
        with app.test_request_context(), tenancy.store_scope(shop[name]):
            store = db.session.get(Store, shop[name].id)
            for product_id in shop["ids"].values():
                variant = db.session.scalar(
                    db.select(Variant).where(Variant.product_id == product_id))
                if variant.product is None:  # another store's own product: not even seen
                    with pytest.raises(cart_service.CartError, match="unknown"):
                        cart_service.buy_now(store, None, variant.id, 1)
                    with pytest.raises(cart_service.CartError, match="unknown"):
                        cart_service.add(store, None, variant.id, 1)
                    continue
                cart = cart_service.price_variant(store, variant)
                now = cart_service.buy_now(store, None, variant.id, 2).lines[0]
                assert (now.variant.id, now.quantity) == (variant.id, 2)
                assert (now.priced.unit_price_fen, now.priced.available,
                        now.priced.sellable) == (cart.unit_price_fen, cart.available,
                                                 cart.sellable), (name, variant.product.title)
            with pytest.raises(cart_service.CartError, match="unknown"):
                cart_service.buy_now(store, None, 10**9, 1)
    with app.test_request_context(), tenancy.store_scope(shop["north"]):
        north = db.session.get(Store, shop["north"].id)
        priced = {db.session.get(Product, pid).title: cart_service.price_variant_id(
            north, db.session.scalar(db.select(Variant.id).where(Variant.product_id == pid)))
            for pid in shop["ids"].values()}
    assert {title: (line.unit_price_fen, line.available, line.sellable)
            for title, line in priced.items()} == {
        "For all": (1200, 7, True), "Hangzhou only": (2000, 0, False),
        "North only": (3000, 0, False), "Not published": (4000, 0, False),
        "Draft": (5000, 0, False), "North's own cake": (600, 0, False),
        "Repriced": (700, 0, False)}


def test_a_product_published_store_by_store_costs_each_store_its_own_price(app, chain, shop):
    """Published to many chosen stores, each with its price: the cart finds this store's row."""
    stores = [shop["north"], shop["south"]] + [
        make_store(app, chain, f"branch-{n}", city="杭州") for n in range(20)]
    with in_app(app) as session:
        item, _variant = product(session, chain, "Chosen stores", 1000, publish=[
            ("store", {"store_id": row.id, "price_fen": 500 + n}) for n, row in enumerate(stores)])
        session.commit()
        item_id = item.id
    assert cart_price(app, stores[0], item_id) == (500, False)  # priced, but no stock row
    assert cart_price(app, stores[-1], item_id) == (500 + len(stores) - 1, False)
    assert cart_price(app, shop["far"], item_id) == (1000, False)  # not published to it


@pytest.mark.parametrize("app_config", [{"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": 50}])
def test_a_full_cache_drops_old_pages_before_a_stores_version_token(app, shop):
    """Over its threshold the in-process cache makes room; the store's pages stay keyed."""
    north = shop["north"]
    with app.test_request_context():
        tokens = catalogue.version_tokens(north)
        page_seconds = app.config.get("CATALOGUE_CACHE_SECONDS", 60)
        for n in range(200):  # other pages of other stores, as a busy worker caches them
            cache.set(f"sf:page:{n}", "<html>", timeout=page_seconds)
        assert cache.get("sf:page:0") is None  # the cache did make room
        assert catalogue.version_tokens(north) == tokens
    assert catalogue.VERSION_TOKEN_SECONDS > page_seconds


def test_stock_is_on_hand_minus_reserved_at_this_store_only(app, shop):
    ids = shop["ids"]
    assert view(app, shop["north"], ids["all"]).available == 7
    assert view(app, shop["south"], ids["all"]).available == 0


def test_other_stores_local_and_unpublished_and_draft_products_are_not_found(app, shop):
    ids = shop["ids"]
    assert view(app, shop["south"], ids["local"]) is None
    assert view(app, shop["north"], ids["unpublished"]) is None
    assert view(app, shop["north"], ids["draft"]) is None


def test_unlisting_a_variant_hides_the_product_at_that_store_only(app, shop):
    ids = shop["ids"]
    assert view(app, shop["south"], ids["city"]) is not None  # warm the cache first
    with in_app(app) as session:
        variant = session.scalar(db.select(Variant).where(Variant.product_id == ids["city"]))
        session.add(StoreListing(chain_id=variant.chain_id, store_id=shop["south"].id,
                                 variant_id=variant.id, listed=False))
        session.commit()
    assert view(app, shop["south"], ids["city"]) is None
    assert view(app, shop["north"], ids["city"]) is not None


def test_a_price_change_by_hq_shows_at_once_despite_the_cache(app, shop):
    ids = shop["ids"]
    assert view(app, shop["south"], ids["all"]).price_fen == 1000
    with in_app(app) as session:
        variant = session.scalar(db.select(Variant).where(Variant.product_id == ids["all"]))
        variant.price_fen = 1500
        session.commit()
    assert view(app, shop["south"], ids["all"]).price_fen == 1500


def test_a_stock_change_through_a_bulk_update_shows_at_once(app, shop):
    ids = shop["ids"]
    assert view(app, shop["north"], ids["all"]).available == 7
    with app.app_context(), tenancy.store_scope(shop["north"]):
        db.session.execute(db.update(StoreListing).values(reserved=StoreListing.stock_on_hand))
        db.session.commit()
    assert view(app, shop["north"], ids["all"]).available == 0


def test_listing_sorts_by_price_and_paginates(app, chain, store):
    with in_app(app) as session:
        for i, price in enumerate([500, 300, 900, 100, 700]):
            product(session, chain, f"P{i}", price, publish=[("all", {})])
        session.commit()
    with app.test_request_context(), tenancy.store_scope(store):
        row = db.session.get(Store, store.id)
        cheap_first = catalogue.listing(row, sort="price_asc", per_page=2)
        assert [p.price_fen for p in cheap_first.items] == [100, 300]
        assert (cheap_first.total, cheap_first.pages, cheap_first.has_next) == (5, 3, True)
        last = catalogue.listing(row, sort="price_asc", page=3, per_page=2)
        assert [p.price_fen for p in last.items] == [900]
        dear_first = catalogue.listing(row, sort="price_desc", per_page=2)
        assert [p.price_fen for p in dear_first.items] == [900, 700]
