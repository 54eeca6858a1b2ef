"""Search what a store sells, in Chinese and English, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from catalogue_helpers import make_product, set_listing

from shopbuilder import tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Category, Product, Publication, Store
from shopbuilder.services.search import search_products, tokens
from shopbuilder.testing import in_app, make_store

both = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def shelf(app, chain, store):
    """Three published teas and one unpublished product."""
    with in_app(app) as session:
        cat = Category(chain_id=chain.id, slug="green", name="绿茶")
        session.add(cat)
        session.commit()
        green = cat.id
    ids = {
        "longjing": make_product(app, chain, "西湖龙井 明前特级", skus=[("LJ-50", "128")],
                                 description="Dragon Well green tea, chestnut aroma",
                                 publish="all", category_id=green),
        "biluo": make_product(app, chain, "碧螺春 Biluochun", skus=[("BLC-50", "88")],
                              description="卷曲成螺，花果香浓 green tea", publish="all",
                              category_id=green),
        "oolong": make_product(app, chain, "铁观音 Tieguanyin oolong", skus=[("TGY-100", "68")],
                               description="兰花香馥郁", publish="all"),
        "hidden": make_product(app, chain, "龙井 unpublished", skus=[("H-1", "1")]),
    }
    return ids, green


def titles(store, q="", **kwargs):
    return [h.product.title for h in search_products(store, q, **kwargs).hits]


def run(app, store, q="", **kwargs):
    with app.test_request_context(), tenancy.store_scope(store):
        return titles(db.session.get(Store, store.id), q, **kwargs)


def test_chinese_text_becomes_characters_and_bigrams():
    assert tokens("龙井茶") == ["龙", "井", "茶", "龙井", "井茶"]
    assert tokens("龙井茶", query=True) == ["龙井", "井茶"]
    assert tokens("Dragon-Well 500g") == ["dragon", "well", "500g"]


@both
def test_search_finds_chinese_words_inside_titles(app, store, shelf):
    assert run(app, store, "龙井") == ["西湖龙井 明前特级"]
    assert run(app, store, "观音") == ["铁观音 Tieguanyin oolong"]
    assert run(app, store, "花果香") == ["碧螺春 Biluochun"]


@both
def test_search_finds_english_words_prefixes_and_skus(app, store, shelf):
    assert run(app, store, "Dragon") == ["西湖龙井 明前特级"]
    assert run(app, store, "oolo") == ["铁观音 Tieguanyin oolong"]
    assert run(app, store, "tgy-100") == ["铁观音 Tieguanyin oolong"]
    assert run(app, store, "BLC50") == ["碧螺春 Biluochun"]
    assert sorted(run(app, store, "green tea")) == ["碧螺春 Biluochun", "西湖龙井 明前特级"]


@both
def test_title_matches_rank_above_description_matches(app, chain, store, shelf):
    make_product(app, chain, "Green tea sampler", skus=[("GS-1", "50")], publish="all")
    assert run(app, store, "green")[0] == "Green tea sampler"


@both
def test_search_shows_only_what_this_store_sells(app, chain, store, other_store, shelf):
    make_product(app, chain, "南店 龙井 special", skus=[("S-1", "5")], store=other_store)
    assert run(app, store, "龙井") == ["西湖龙井 明前特级"]
    set_listing(app, store, "LJ-50", listed=False)
    assert run(app, store, "龙井") == []
    assert sorted(run(app, other_store, "龙井")) == ["南店 龙井 special", "西湖龙井 明前特级"]


@both
def test_filters_by_category_and_the_stores_own_price(app, store, other_store, shelf):
    _ids, green = shelf
    assert sorted(run(app, store, category_id=green)) == ["碧螺春 Biluochun", "西湖龙井 明前特级"]
    set_listing(app, store, "LJ-50", price_fen=5000)
    assert run(app, store, min_fen=4000, max_fen=6000) == ["西湖龙井 明前特级"]
    assert run(app, other_store, min_fen=4000, max_fen=6000) == []


@both
def test_sorts_by_price_and_newest_and_paginates(app, store, shelf):
    assert run(app, store, sort="price_asc") == [
        "铁观音 Tieguanyin oolong", "碧螺春 Biluochun", "西湖龙井 明前特级"]
    assert run(app, store, sort="price_desc")[0] == "西湖龙井 明前特级"
    assert run(app, store, sort="newest")[0] == "铁观音 Tieguanyin oolong"
    with app.test_request_context(), tenancy.store_scope(store):
        page = search_products(db.session.get(Store, store.id), "", page=2, per_page=2)
        assert (page.total, page.pages, len(page.hits)) == (3, 2, 1)


@both
def test_renaming_a_product_updates_the_index(app, store, shelf):
    ids, _ = shelf
    with in_app(app) as session:
        session.get(Product, ids["oolong"]).title = "大红袍 Da Hong Pao"
        session.commit()
    assert run(app, store, "观音") == []
    assert run(app, store, "红袍") == ["大红袍 Da Hong Pao"]


@both
def test_odd_queries_find_nothing_without_error(app, store, shelf):
    assert run(app, store, "!!! \'\'\' AND OR") == []
    assert run(app, store, 'NEAR("x" ) :* & |') == []
    assert run(app, store, "“”？") == []


def test_search_page_shows_city_price_and_store_override(app, client, chain, shelf):
    """HQ publishes to one city with a price; one store sets its own; both storefronts agree."""
    hz1 = make_store(app, chain, "hz-one", city="杭州")
    hz2 = make_store(app, chain, "hz-two", city="杭州")
    pid = make_product(app, chain, "安吉白茶 Anji white", skus=[("AJ-50", "98")])
    with in_app(app) as session:
        session.add(Publication(chain_id=chain.id, product_id=pid, target="city", city="杭州",
                                price_fen=9000))
        session.commit()
    set_listing(app, hz2, "AJ-50", price_fen=8500)
    one = client.get(f"/s/{hz1.slug}/search?q=白茶&lang=en").get_data(as_text=True)
    two = client.get(f"/s/{hz2.slug}/search?q=白茶&lang=en").get_data(as_text=True)
    assert "安吉白茶" in one and "90.00" in one
    assert "安吉白茶" in two and "85.00" in two


def test_search_page_handles_bad_filters_gracefully(client, store, shelf):
    response = client.get(f"/s/{store.slug}/search?q=tea&min=abc&max=&sort=evil&page=x"
                          "&category=zz")
    assert response.status_code == 200
    assert "ShopBuilder" not in response.get_data(as_text=True)


@both
def test_new_and_removed_variants_update_the_index(app, chain, store, shelf):
    ids, _ = shelf
    with app.test_request_context(), tenancy.chain_scope(chain):
        from shopbuilder.services import catalogue as service

        product = db.session.get(Product, ids["oolong"])
        service.save_product(
            chain.id, title=product.title, description=product.description, category_id=None,
            status="active", product=product,
            variants=[service.VariantInput(sku="TGY-250", price="150")],
        )
        db.session.commit()
    assert run(app, store, "TGY-250") == ["铁观音 Tieguanyin oolong"]
    assert run(app, store, "TGY-100") == []


def hits(app, store, q="", **kwargs):
    with app.test_request_context(), tenancy.store_scope(store):
        page = search_products(db.session.get(Store, store.id), q, **kwargs)
        return [(h.product.title, h.min_price_fen) for h in page.hits], page.total


@both
def test_product_published_store_by_store_is_found_only_in_those_stores_at_their_price(
        app, chain, store, other_store, shelf):
    from shopbuilder.services import catalogue as service

    chosen = [store] + [make_store(app, chain, f"chosen-{i}") for i in range(5)]
    pid = make_product(app, chain, "白毫银针 Silver Needle",
                       skus=[("SN-1", "300"), ("SN-2", "500")])
    with app.test_request_context(), tenancy.chain_scope(chain):
        service.publish(db.session.get(Product, pid), "store",
                        store_ids=[s.id for s in chosen], price_fen=25000)
        db.session.commit()
    assert hits(app, store, "银针") == ([("白毫银针 Silver Needle", 25000)], 1)
    assert hits(app, chosen[3], "needle", sort="price_asc") == (
        [("白毫银针 Silver Needle", 25000)], 1)
    assert hits(app, other_store, "银针") == ([], 0)
    set_listing(app, store, "SN-2", price_fen=100)
    assert hits(app, store, "needle", max_fen=200) == ([("白毫银针 Silver Needle", 100)], 1)


@both
def test_the_most_specific_publication_sets_the_price_even_when_it_has_none(
        app, chain, store, other_store):
    """A store's own publication without a price means the variant's price there, as in the
    cart; the chain-wide default price applies in the other stores."""
    from shopbuilder.services import storefront_catalogue as sf

    pid = make_product(app, chain, "凤凰单丛 Phoenix", skus=[("FH-1", "128")])
    with in_app(app) as session:
        session.add(Publication(chain_id=chain.id, product_id=pid, target="all", price_fen=10000))
        session.add(Publication(chain_id=chain.id, product_id=pid, target="store",
                                store_id=store.id))
        session.commit()
    for shop, expected in ((store, 12800), (other_store, 10000)):
        assert hits(app, shop, "phoenix") == ([("凤凰单丛 Phoenix", expected)], 1)
        with app.test_request_context(), tenancy.store_scope(shop):
            row = db.session.get(Store, shop.id)
            assert sf._query_product(row, pid).price_fen == expected
            assert sf._query_listing(row, None, "default", 1, 24).items[0].price_fen == expected


@both
def test_pages_past_the_last_still_know_the_total(app, store, shelf):
    assert hits(app, store, "green", page=5) == ([], 2)
    assert hits(app, store, "green", sort="newest")[1] == 2
