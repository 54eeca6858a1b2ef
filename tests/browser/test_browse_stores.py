"""A customer on a phone browses a demo store in each theme: home, category, product."""

from __future__ import annotations

import re

import pytest

STORES = [("west-lake", "茗茶 西湖店", "classic"), ("riverside", "茗茶 滨江店", "teahouse")]


@pytest.mark.parametrize(("slug", "name", "theme"), STORES)
def test_customer_browses_home_category_and_product_on_a_phone(
    live_shop, phone, screenshot, slug, name, theme
):
    phone.goto(f"{live_shop}/s/{slug}/")
    assert name in phone.title()
    assert phone.locator("body").get_attribute("class").startswith(f"theme-{theme}")
    assert "ShopBuilder" not in phone.content()
    screenshot(phone, f"{theme}-home")

    # Home -> a category (the first link to one).
    phone.locator("a[href*='/c/']").first.click()
    phone.wait_for_load_state()
    assert re.search(rf"/s/{slug}/c/[a-z-]+$", phone.url)
    heading = phone.locator("h1").inner_text()
    assert heading and name in phone.title()
    cards = phone.locator("a[href*='/p/']")
    assert cards.count() > 0
    screenshot(phone, f"{theme}-category")

    # Category -> sorted by price, highest first: the first price is the largest.
    phone.select_option("#sort", "price_desc")
    phone.get_by_role("button", name=re.compile("确定|Apply")).click()
    phone.wait_for_load_state()
    prices = [
        float(re.sub(r"[^\d.]", "", text))
        for text in phone.locator(".price").all_inner_texts()
    ]
    assert prices == sorted(prices, reverse=True)

    # -> a product: its price and stock at this store, variants to choose from.
    phone.locator("a[href*='/p/']").first.click()
    phone.wait_for_load_state()
    assert re.search(rf"/s/{slug}/p/\d+$", phone.url)
    assert phone.locator("meta[property='og:title']").get_attribute("content").endswith(name)
    assert "¥" in phone.locator(".product-price").inner_text()
    assert phone.locator("input[name=variant_id]").count() >= 1
    screenshot(phone, f"{theme}-product")


@pytest.mark.parametrize(("slug", "name", "theme"), STORES)
def test_customer_searches_from_the_header_on_a_phone(
    live_shop, phone, screenshot, slug, name, theme
):
    phone.goto(f"{live_shop}/s/{slug}/c/oolong")
    box = phone.locator("header input[name=q]")
    assert box.is_visible()
    assert box.bounding_box()["height"] >= 44
    box.fill("龙井")
    box.press("Enter")
    phone.wait_for_load_state()
    assert re.search(rf"/s/{slug}/search\?q=", phone.url)
    hits = phone.locator(".search-results .search-hit")
    assert hits.count() >= 1 and "龙井" in hits.first.inner_text()
    assert phone.locator(".search-results").evaluate(
        "(el) => getComputedStyle(el).listStyleType") == "none"
    assert name in phone.title() and "ShopBuilder" not in phone.content()
    phone.evaluate("document.activeElement && document.activeElement.blur()")
    screenshot(phone, f"{theme}-search")


def test_customer_switches_the_shop_to_english_and_it_stays(live_shop, phone, screenshot):
    phone.goto(f"{live_shop}/s/riverside/")
    phone.get_by_role("link", name="English").click()
    phone.wait_for_load_state()
    assert phone.locator("html").get_attribute("lang") == "en"
    phone.goto(f"{live_shop}/s/riverside/info")
    assert phone.locator("html").get_attribute("lang") == "en"
    assert phone.get_by_role("heading", name="Opening hours").is_visible()
    screenshot(phone, "teahouse-info-en")


def test_two_demo_stores_look_different(live_shop, phone):
    colours = {}
    for slug, _name, theme in STORES:
        phone.goto(f"{live_shop}/s/{slug}/")
        colours[theme] = phone.evaluate("getComputedStyle(document.body).backgroundColor")
    assert colours["classic"] != colours["teahouse"]


def test_unknown_page_inside_a_store_is_branded(live_shop, phone, screenshot):
    response = phone.goto(f"{live_shop}/s/riverside/p/987654")
    assert response.status == 404
    assert "茗茶 滨江店" in phone.title()
    assert phone.locator("body").get_attribute("class").startswith("theme-teahouse")
    screenshot(phone, "teahouse-404", full_page=False)
