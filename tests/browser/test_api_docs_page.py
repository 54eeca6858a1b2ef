"""The API's reference page renders the description in a browser that has no internet."""

from __future__ import annotations


def test_api_reference_renders_offline_with_every_operation(live_shop, browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    outside = []

    def only_the_shop(route):
        # Offline: anything but the shop itself (a CDN, a font) is refused and recorded.
        if route.request.url.startswith(live_shop):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_shop)
    try:
        page.goto(f"{live_shop}/api/v1/docs#api_place_order")
        page.wait_for_selector("details.op")
        operations = page.locator("details.op").count()
        spec = page.evaluate("fetch('/api/v1/openapi.json').then(r => r.json())")
        described = sum(len(ops) for ops in spec["paths"].values())
        assert operations == described
        opened = page.locator("details#api_place_order")
        assert opened.get_attribute("open") is not None  # the link's operation is shown
        assert "Idempotency-Key" in opened.inner_text()
        assert page.locator("#problem-validation_failed").count() == 1
        store_page = f"{live_shop}/api/v1/docs?store=old-town"
        page.goto(store_page)
        page.wait_for_selector("details.op")
        assert "/api/v1/stores/old-town/openapi.json" in page.locator("#raw").inner_text()
    finally:
        context.close()
    assert outside == []
