"""A customer on a phone buys in a demo store of each theme, from the home page to a paid order.

home -> category -> product -> a variant -> cart -> checkout (delivery, address) -> place
order -> the sandbox gateway's hosted page -> back on the order page, paid.
"""

from __future__ import annotations

import re

import pytest

STORES = [("west-lake", "茗茶 西湖店", "classic"), ("riverside", "茗茶 滨江店", "teahouse")]
PLATFORM = re.compile("shop ?builder", re.IGNORECASE)


def _white_label(page, name: str) -> None:
    """Every step of the journey is the store's: its name, never the platform's."""
    html = page.content()
    assert not PLATFORM.search(html), f"platform name on {page.url}"
    assert name in html, f"store name missing on {page.url}"


def _yuan(text: str) -> float:
    return float(re.sub(r"[^\d.]", "", text))


def _no_horizontal_scroll(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def _top(page):
    """Back to the top with nothing focused, so a full-page shot shows the page as it loads
    (a sticky header follows the scroll position into the middle of the picture otherwise)."""
    page.evaluate("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")


@pytest.mark.parametrize(("slug", "name", "theme"), STORES)
def test_customer_buys_and_pays_on_a_phone(live_shop, phone, screenshot, slug, name, theme):
    # Sign in as the demo customer first (the shop sends them back where they were).
    phone.goto(f"{live_shop}/s/{slug}/login")
    _white_label(phone, name)
    phone.fill("input[name=email]", "customer@example.com")
    phone.fill("input[name=password]", "demo12345")
    phone.locator("main button[type=submit]").click()
    phone.wait_for_load_state()
    assert "/login" not in phone.url

    # Home -> a category -> a product.
    phone.goto(f"{live_shop}/s/{slug}/")
    _white_label(phone, name)
    phone.locator("a[href*='/c/']").first.click()
    phone.wait_for_load_state()
    assert re.search(rf"/s/{slug}/c/[a-z-]+$", phone.url)
    _white_label(phone, name)
    phone.locator("a[href*='/p/']").first.click()
    phone.wait_for_load_state()
    assert re.search(rf"/s/{slug}/p/\d+$", phone.url)
    _white_label(phone, name)
    title = phone.locator("h1").inner_text().strip()

    # Choose the last variant that is in stock, two of them.
    variants = phone.locator("label.variant:not(.unavailable)")
    assert variants.count() >= 1
    chosen = variants.last
    chosen.locator("input[name=variant_id]").check()
    label = chosen.locator(".variant-label").inner_text().strip()
    unit = _yuan(chosen.locator(".variant-price .price").first.inner_text())
    quantity = phone.locator("#add-to-cart input[name=quantity]")
    if quantity.count():
        quantity.fill("2")
        count = 2
    else:
        count = 1
    assert _no_horizontal_scroll(phone)
    _top(phone)
    screenshot(phone, f"{theme}-product-variant")
    phone.get_by_role("button", name=re.compile("加入购物车|Add to cart")).click()
    phone.wait_for_load_state()

    # The cart shows the line and its total.
    assert phone.url.endswith(f"/s/{slug}/cart")
    _white_label(phone, name)
    assert phone.locator(".flash-success").is_visible()
    row = phone.locator("table.cart tbody tr")
    assert row.count() == 1
    assert title in row.inner_text() and label in row.inner_text()
    assert row.locator("input[name=quantity]").input_value() == str(count)
    assert _yuan(phone.locator(".total strong").inner_text()) == pytest.approx(unit * count)
    assert _no_horizontal_scroll(phone)
    _top(phone)
    screenshot(phone, f"{theme}-cart")
    phone.get_by_role("link", name=re.compile("去结算|Check out")).click()
    phone.wait_for_load_state()

    # Checkout: home delivery, an address, the sandbox gateway.
    assert phone.url.endswith(f"/s/{slug}/checkout")
    _white_label(phone, name)
    phone.locator("input[name=fulfilment][value=delivery]").check()
    phone.fill("input[name=contact_name]", "王小明")
    phone.fill("input[name=contact_phone]", "13800000000")
    phone.fill("textarea[name=address]", "杭州市西湖区龙井路 1 号")
    phone.locator("input[name=payment_provider][value=sandbox]").check()
    assert _no_horizontal_scroll(phone)
    _top(phone)
    screenshot(phone, f"{theme}-checkout")
    phone.get_by_role("button", name=re.compile("提交订单|Place order")).click()
    phone.wait_for_load_state()

    # The gateway's hosted page: pay.
    assert "/pay/sandbox/" in phone.url
    _white_label(phone, name)
    amount = _yuan(phone.locator("main strong").first.inner_text())
    assert amount >= unit * count
    _top(phone)
    screenshot(phone, f"{theme}-pay")
    phone.locator("button[name=outcome][value=pay]").click()
    phone.wait_for_load_state()

    # Back on the order page: paid, with the line, the total and the address.
    assert re.search(rf"/s/{slug}/orders/[A-Z]+-\d{{8}}-\d{{4}}$", phone.url)
    _white_label(phone, name)
    assert phone.locator(".flash-success").is_visible()
    assert phone.locator(".state").inner_text().strip() in {"已付款", "Paid"}
    lines = phone.locator("table.order-lines")
    assert title in lines.inner_text()
    assert _yuan(phone.locator(".totals strong").inner_text()) == pytest.approx(amount)
    assert "龙井路" in phone.locator("main").inner_text()
    assert phone.get_by_role("button", name=re.compile("取消订单|Cancel order")).count() == 0
    assert _no_horizontal_scroll(phone)
    _top(phone)
    screenshot(phone, f"{theme}-order-paid")

    # The customer finds it again from their account page, in either theme.
    number = phone.url.rsplit("/", 1)[1]
    phone.get_by_role("link", name=re.compile("^(我的|Me|账户|Account)$")).first.click()
    phone.wait_for_load_state()
    _white_label(phone, name)
    phone.get_by_role("link", name=re.compile("我的订单|My orders")).click()
    phone.wait_for_load_state()
    assert phone.url.endswith(f"/s/{slug}/orders")
    _white_label(phone, name)
    assert number in phone.locator("main").inner_text()
    _top(phone)
    screenshot(phone, f"{theme}-orders")
