"""The pages a customer browses: home, listings, product, store information, errors."""

from __future__ import annotations

import re

import pytest

from shopbuilder.demo import load_demo
from shopbuilder.extensions import db
from shopbuilder.models import Product, Store
from shopbuilder.testing import in_app


@pytest.fixture
def app_config():
    return {"PROPAGATE_EXCEPTIONS": False}


@pytest.fixture
def demo(app):
    with in_app(app) as session:
        load_demo(echo=lambda *args: None)
        ids = {p.title: p.id for p in session.scalars(db.select(Product))}
    return ids


def meta(html, prop):
    match = re.search(rf'<meta (?:property|name)="{re.escape(prop)}" content="([^"]*)"', html)
    return match.group(1) if match else None


def test_product_page_shows_price_and_stock_at_this_store_with_share_tags(app, client, demo):
    html = client.get(f"/s/old-town/p/{demo['西湖龙井 明前特级']}").get_data(as_text=True)
    assert "<title>西湖龙井 明前特级 · 茗茶 老城店</title>" in html
    assert "¥128.00" in html and "¥238.00" in html
    assert "剩 8 件" in html or "8 left" in html  # old-town has 8 of each in the demo
    assert meta(html, "og:title") == "西湖龙井 明前特级 · 茗茶 老城店"
    assert meta(html, "og:type") == "product"
    assert meta(html, "og:site_name") == "茗茶 老城店"
    assert meta(html, "description") == "明前采摘，豆香清幽，回甘绵长。"
    assert 'rel="icon"' in html


def test_every_browse_page_has_title_description_and_open_graph_tags(app, client, demo):
    for url in ("/s/west-lake/", "/s/west-lake/products", "/s/west-lake/c/oolong",
                "/s/west-lake/info", "/s/riverside/", "/s/riverside/c/teaware"):
        html = client.get(url).get_data(as_text=True)
        assert re.search(r"<title>[^<]+</title>", html), url
        for tag in ("description", "og:title", "og:description", "og:url", "og:site_name"):
            assert meta(html, tag), f"{tag} missing on {url}"


def test_category_listing_sorts_and_paginates(app, client, demo):
    html = client.get("/s/west-lake/c/green-tea?sort=price_asc").get_data(as_text=True)
    prices = re.findall(r'<span class="price">(¥[\d,.]+)(?: 起)?</span>', html)
    assert prices == ["¥88.00", "¥98.00", "¥128.00"]
    assert client.get("/s/west-lake/c/green-tea?page=7").status_code == 404
    assert client.get("/s/west-lake/c/no-such-category").status_code == 404


def test_store_information_has_address_hours_phone_and_map_link(app, client, demo):
    html = client.get("/s/west-lake/info?lang=en").get_data(as_text=True)
    assert "杭州市西湖区北山街 12 号" in html and "0571-8700 1001" in html
    assert "09:00–21:00" in html and "Monday" in html
    assert "uri.amap.com/marker?position=120.1487,30.2592" in html


def test_customer_switches_language_and_the_choice_sticks(app, client, demo):
    assert 'lang="zh-CN"' in client.get("/s/west-lake/").get_data(as_text=True)
    client.get("/s/west-lake/?lang=en")
    html = client.get("/s/west-lake/info").get_data(as_text=True)
    assert 'lang="en"' in html and "Opening hours" in html


def test_store_language_setting_picks_the_default_language(app, client, demo):
    with in_app(app) as session:
        session.scalar(db.select(Store).where(Store.slug == "old-town")).locale = "en"
        session.commit()
    assert 'lang="en"' in client.get("/s/old-town/").get_data(as_text=True)
    assert 'lang="zh-CN"' in client.get("/s/west-lake/").get_data(as_text=True)


def test_missing_page_in_a_store_is_branded_with_the_stores_look(app, client, demo):
    for url in ("/s/riverside/no/such/page", "/s/riverside/p/424242"):
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 404
        assert "茗茶 滨江店" in html and "/theme-static/teahouse/theme.css" in html


def test_server_error_in_a_store_is_branded_and_hides_the_error(app, client, demo):
    @app.get("/s/<store>/explode")
    def explode():
        raise RuntimeError("secret stack detail")

    response = client.get("/s/west-lake/explode")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "茗茶 西湖店" in html and "secret stack detail" not in html
    assert "/theme-static/classic/theme.css" in html


def test_missing_page_outside_any_store_stays_plain(app, client, demo):
    response = client.get("/nowhere")
    assert response.status_code == 404 and "theme-static" not in response.get_data(as_text=True)


def test_product_of_another_chain_is_not_found(app, client, demo, other_chain_store):
    with in_app(app) as session:
        rival = Product(chain_id=other_chain_store.chain_id, title="Rival tea")
        session.add(rival)
        session.commit()
        rival_id = rival.id
    assert client.get(f"/s/west-lake/p/{rival_id}").status_code == 404


def test_product_with_an_image_shows_it_on_its_page_and_in_listings(app, client, demo):
    with in_app(app) as session:
        product = session.get(Product, demo["西湖龙井 明前特级"])
        product.image = "products/longjing.jpg"
        session.commit()
    page = client.get(f"/s/west-lake/p/{demo['西湖龙井 明前特级']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<img class="product-image product-image-large" src="/media/products/longjing.jpg" ' \
           'alt="西湖龙井 明前特级"' in html
    listing = client.get("/s/west-lake/c/green-tea").get_data(as_text=True)
    assert 'src="/media/products/longjing.jpg"' in listing


def test_share_tags_name_the_locale_as_social_sites_expect(app, client, demo):
    # Babel calls zh_CN "zh_Hans_CN"; Open Graph wants language_TERRITORY.
    assert meta(client.get("/s/west-lake/").get_data(as_text=True), "og:locale") == "zh_CN"
    html = client.get("/s/riverside/?lang=en").get_data(as_text=True)
    assert meta(html, "og:locale") == "en_US"


@pytest.mark.parametrize("slug", ["west-lake", "riverside"])
def test_every_page_header_searches_this_store_in_both_themes(app, client, demo, slug):
    html = client.get(f"/s/{slug}/c/green-tea").get_data(as_text=True)
    form = re.search(r'<form class="search-form site-search" method="get" '
                     r'action="([^"]+)" role="search">', html)
    assert form and form.group(1) == f"/s/{slug}/search"
    assert 'name="q"' in html and 'for="site-search"' in html
    results = client.get(form.group(1), query_string={"q": "龙井"}).get_data(as_text=True)
    assert "西湖龙井 明前特级" in results and 'class="search-results"' in results


def test_private_pages_are_kept_out_of_search_engines_and_say_what_they_are(
    app, client, demo
):
    from shopbuilder.demo import DEMO_PASSWORD

    client.post("/s/west-lake/login",
                data={"email": "customer@example.com", "password": DEMO_PASSWORD})
    for path, description in (("cart", "购物车"), ("account", "账户"), ("orders", "订单")):
        html = client.get(f"/s/west-lake/{path}").get_data(as_text=True)
        assert meta(html, "robots") == "noindex", path
        assert description in meta(html, "description") and "茗茶 西湖店" in meta(
            html, "description"), path
    # Browse pages stay indexable.
    assert meta(client.get("/s/west-lake/").get_data(as_text=True), "robots") is None
