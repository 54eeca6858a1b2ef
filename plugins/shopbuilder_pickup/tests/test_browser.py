"""A customer and a clerk on phones: nearest store, slot, sandbox payment, QR, 核销.

Drives Debian's Chromium (``/usr/bin/chromium``, or ``SHOPBUILDER_CHROMIUM``)
headless through Playwright at 390x844, against the app served by werkzeug in
a thread. Skips when Chromium or Playwright is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from shopbuilder import create_app, tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Cart, CartLine, Chain, Store
from shopbuilder.testing import PASSWORD, make_test_config

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("SHOPBUILDER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
ALL_DAY = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def arrange(app):
    """Two stores of one chain; the customer's cart waits at the farther one."""
    from shopbuilder.models import Customer, StaffRole, User
    from shopbuilder.plugins.enablement import set_store_plugin

    from .helpers import make_goods

    with app.test_request_context(), tenancy.unscoped():
        chain = Chain(slug="acme", name="Acme Tea")
        db.session.add(chain)
        db.session.flush()
        near = Store(chain_id=chain.id, slug="west-lake", name="West Lake", city="Hangzhou",
                     address="1 Lake Road", lat=30.2590, lng=120.1500, opening_hours=ALL_DAY)
        far = Store(chain_id=chain.id, slug="airport", name="Airport", city="Hangzhou",
                    address="Terminal 3", lat=30.2290, lng=120.4340, opening_hours=ALL_DAY)
        db.session.add_all([near, far])
        db.session.flush()
        for store in (near, far):
            set_store_plugin(store, "pickup", True)
        customer = Customer(chain_id=chain.id, email="lin@example.com", name="Lin",
                            phone="13800000000", home_store_id=far.id)
        customer.set_password(PASSWORD)
        clerk = User(email="clerk@example.com", name="Wang")
        clerk.set_password(PASSWORD)
        db.session.add_all([customer, clerk])
        db.session.flush()
        db.session.add(StaffRole(user_id=clerk.id, chain_id=chain.id, store_id=near.id,
                                 role="clerk"))
        db.session.commit()
        ids = (chain.id, near.id, far.id, customer.id)
        db.session.remove()

    class Row:
        def __init__(self, id):
            self.id = id

    _p, variant = make_goods(app, Row(ids[0]), [Row(ids[1]), Row(ids[2])], stock=5,
                             price_fen=3200)
    with app.app_context(), tenancy.unscoped():
        cart = Cart(chain_id=ids[0], store_id=ids[2], customer_id=ids[3])
        db.session.add(cart)
        db.session.flush()
        db.session.add(CartLine(chain_id=ids[0], store_id=ids[2], cart_id=cart.id,
                                variant_id=variant, quantity=2))
        db.session.commit()
        db.session.remove()


@pytest.fixture
def live(tmp_path):
    app = create_app(make_test_config("sqlite:///" + str(tmp_path / "shop.sqlite3"),
                                      str(tmp_path / "instance")))
    with app.app_context():
        db.create_all()
    arrange(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def phone(browser, base, **options):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                  locale="en-US", base_url=base, **options)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def sign_in(page, url, email):
    page.goto(url + ("&" if "?" in url else "?") + "lang=en")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button, form input[type=submit]").last.click()


def test_customer_picks_nearest_store_pays_and_clerk_verifies_once(browser, live):
    customer = phone(browser, live, geolocation={"latitude": 30.2600, "longitude": 120.1520},
                     permissions=["geolocation"])
    sign_in(customer, "/s/airport/login", "lin@example.com")

    # The store finder, from the store the customer happened to land in.
    customer.goto("/s/airport/stores")
    customer.click("#use-location")
    customer.wait_for_url(re.compile(r"lat=30\.26"))
    stores = customer.locator("li.pickup-store")
    assert stores.first.get_attribute("data-store") == "west-lake"
    assert "km" in stores.first.locator(".distance").inner_text()
    stores.first.locator("button").click()
    customer.wait_for_url(re.compile(r"/s/west-lake/cart"))

    customer.goto("/s/west-lake/checkout")
    customer.check("input[name=fulfilment][value=pickup]")
    slot_value = customer.locator("#pickup-slot option:not([disabled])").nth(1) \
        .get_attribute("value")
    customer.select_option("#pickup-slot", slot_value)
    customer.check("input[name=payment_provider][value=sandbox]")
    customer.click("button[type=submit]")
    customer.wait_for_url(re.compile(r"/pay/sandbox/"))
    customer.click("button[value=pay]")
    customer.wait_for_url(re.compile(r"/orders/"))
    order_url = customer.url
    number = order_url.rstrip("/").split("/")[-1].split("?")[0]

    clerk = phone(browser, live)
    sign_in(clerk, "/s/west-lake/manage/login", "clerk@example.com")
    clerk.goto("/s/west-lake/manage/pickup/?day=" + slot_day(slot_value))
    clerk.locator("tr", has_text=number).locator("button").click()

    customer.goto(order_url)
    code = customer.locator(".pickup-code").inner_text().replace(" ", "")
    assert re.fullmatch(r"\d{12}", code)
    assert customer.locator(".pickup-qr svg").count() == 1

    clerk.goto("/s/west-lake/manage/pickup/verify")
    clerk.fill("input[name=code]", code)
    clerk.click("#verify-form button[type=submit]")
    assert "Longjing" in clerk.locator(".pickup-collect").inner_text()
    clerk.click(".pickup-collect button[type=submit]")
    assert "is complete" in clerk.locator(".flash-success").inner_text()

    customer.goto(order_url)
    assert "Collected on" in customer.locator(".pickup-panel").inner_text()

    clerk.fill("input[name=code]", code)
    clerk.click("#verify-form button[type=submit]")
    refusal = clerk.locator(".pickup-result").inner_text()
    assert "Already collected on" in refusal and "Wang" in refusal


def slot_day(key: str) -> str:
    from zoneinfo import ZoneInfo

    from shopbuilder.config import Defaults
    from shopbuilder_pickup.slots import parse_key

    return parse_key(key).astimezone(ZoneInfo(Defaults.BABEL_DEFAULT_TIMEZONE)).strftime("%Y-%m-%d")
