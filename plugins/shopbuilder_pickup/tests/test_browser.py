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
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
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


@pytest.fixture
def screenshot(tmp_path):
    """Save a page's picture: into docs/screenshots with ``make screenshots``
    (SHOPBUILDER_SCREENSHOTS=1), else into the test's temporary folder, so an ordinary
    test run leaves the committed pictures alone (as ``tests/browser`` does)."""
    folder = SCREENSHOTS if os.environ.get("SHOPBUILDER_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str):
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        return folder / f"{name}.png"

    return take


def buy_for_pickup(browser, live):
    """The customer finds the nearest store, books a slot and pays; the clerk prepares it.

    Returns the customer's page (on the order, now showing the code), the clerk's page
    (signed in) and the order number.
    """
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
    # The second slot offered: the first may close (lead time) while the form is sent.
    slot_value = customer.locator("#pickup-slot option:not([disabled])").nth(2) \
        .get_attribute("value")
    customer.select_option("#pickup-slot", slot_value)
    customer.check("input[name=payment_provider][value=sandbox]")
    customer.click("form.checkout button[type=submit]")
    customer.wait_for_url(re.compile(r"/pay/sandbox/"))
    customer.click("button[value=pay]")
    customer.wait_for_url(re.compile(r"/orders/"))
    order_url = customer.url
    number = order_url.rstrip("/").split("/")[-1].split("?")[0]

    clerk = phone(browser, live)
    sign_in(clerk, "/s/west-lake/manage/login", "clerk@example.com")
    clerk.goto("/s/west-lake/manage/pickup/?day=" + slot_day(slot_value))
    clerk.locator("tr", has_text=number).locator("button").click()
    clerk.wait_for_selector(".flash-success")

    customer.goto(order_url)
    return customer, clerk, number


def test_customer_picks_nearest_store_pays_and_clerk_verifies_once(browser, live, screenshot):
    customer, clerk, number = buy_for_pickup(browser, live)
    code = customer.locator(".pickup-code").inner_text().replace(" ", "")
    assert re.fullmatch(r"\d{12}", code)
    assert customer.locator(".pickup-qr svg").count() == 1
    screenshot(customer, "pickup-code")

    clerk.goto("/s/west-lake/manage/pickup/verify")
    clerk.fill("input[name=code]", code)
    clerk.click("#verify-form button[type=submit]")
    assert "Longjing" in clerk.locator(".pickup-collect").inner_text()
    screenshot(clerk, "pickup-verify")
    clerk.click(".pickup-collect button[type=submit]")
    assert "is complete" in clerk.locator(".flash-success").inner_text()

    customer.goto(customer.url)
    assert "Collected on" in customer.locator(".pickup-panel").inner_text()

    clerk.fill("input[name=code]", code)
    clerk.click("#verify-form button[type=submit]")
    refusal = clerk.locator(".pickup-result").inner_text()
    assert "Already collected on" in refusal and "Wang" in refusal and number in refusal
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", refusal)
    screenshot(clerk, "pickup-refused")


#: Stands in for the phone's camera: a canvas stream showing the picture in
#: ``window.__cameraPicture`` (a data URL), as ``getUserMedia`` would show the customer's
#: screen held up to the camera. Everything after it (jsQR, the form) is the real scan.js.
FAKE_CAMERA = """
navigator.mediaDevices.getUserMedia = async function () {
  const picture = new Image();
  picture.src = %s;
  await picture.decode();
  const canvas = document.createElement('canvas');
  canvas.width = picture.width + 80; canvas.height = picture.height + 80;
  const ctx = canvas.getContext('2d');
  const draw = () => { ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, canvas.width, canvas.height);
                       ctx.drawImage(picture, 40, 40); };
  draw(); setInterval(draw, 100);
  return canvas.captureStream(10);
};
"""


def test_clerk_scans_the_customers_qr_code_with_the_shipped_decoder(browser, live):
    import base64
    import json

    customer, clerk, number = buy_for_pickup(browser, live)
    picture = base64.b64encode(customer.locator(".pickup-qr").screenshot()).decode()
    data_url = "data:image/png;base64," + picture

    clerk.goto("/s/west-lake/manage/pickup/verify")
    # The vendored jsQR reads the customer's QR code as the signed token...
    token = clerk.evaluate("""async (src) => {
      const picture = new Image(); picture.src = src; await picture.decode();
      const canvas = document.createElement('canvas');
      canvas.width = picture.width; canvas.height = picture.height;
      const ctx = canvas.getContext('2d'); ctx.drawImage(picture, 0, 0);
      const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const found = window.jsQR(image.data, image.width, image.height,
                                {inversionAttempts: 'dontInvert'});
      return found ? found.data : null; }""", data_url)
    assert token and not token.isdigit()  # the signed token, not the bare digits

    # ...and scan.js, fed that picture as the camera, submits it and shows the order.
    clerk.context.add_init_script(FAKE_CAMERA % json.dumps(data_url))
    clerk.goto("/s/west-lake/manage/pickup/verify")
    clerk.click("#scan-start")
    clerk.wait_for_selector(".pickup-collect", timeout=20_000)
    assert number in clerk.locator("main").inner_text()
    assert "Longjing" in clerk.locator(".pickup-collect").inner_text()
    assert clerk.locator(".pickup-collect input[name=code]").input_value() == token
    clerk.click(".pickup-collect button[type=submit]")
    assert "is complete" in clerk.locator(".flash-success").inner_text()


def slot_day(key: str) -> str:
    from zoneinfo import ZoneInfo

    from shopbuilder.config import Defaults
    from shopbuilder_pickup.slots import parse_key

    return parse_key(key).astimezone(ZoneInfo(Defaults.BABEL_DEFAULT_TIMEZONE)).strftime("%Y-%m-%d")
