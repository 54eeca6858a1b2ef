"""White-label: a customer never sees the platform's name, only the store's.

The crawl starts at a demo store's home page and follows every link, resource, GET form
and redirect inside the store, in both languages. The demo is made busy first, so that
the crawl meets what a customer meets: group-buy (a live campaign with an open group)
and distribution (the demo customer is a distributor, with share posters) on the two
stores of the two themes, pickup on every store, orders at every store, and one page
that fails with a server error.
"""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urljoin, urlsplit

import pytest

from shopbuilder import tenancy
from shopbuilder.demo import DEMO_PASSWORD, STORES, load_demo
from shopbuilder.demo_orders import load_demo_orders
from shopbuilder.extensions import db
from shopbuilder.models import Customer, Store, User, Variant
from shopbuilder.testing import in_app

PLATFORM = re.compile("shop ?builder", re.IGNORECASE)
HREF = re.compile(r'(?:href|src)="([^"]+)"')
FORM = re.compile(r"<form\b([^>]*)>", re.IGNORECASE)
ACTION = re.compile(r'action="([^"]+)"')
#: Stores with an open group (one per theme); the demo turns every plugin on everywhere.
SOCIAL = ("west-lake", "riverside")
FAILING = "explode"


def links(html: str) -> list[str]:
    """Links, resources and the targets of GET forms (a POST form is not a page)."""
    found = HREF.findall(html)
    for attributes in FORM.findall(html):
        if 'method="post"' not in attributes.lower():
            found += ACTION.findall(attributes)
    return found


@pytest.fixture
def app_config():
    # The forced failure must answer with the store's 500 page, as in production.
    return {"PROPAGATE_EXCEPTIONS": False}


@pytest.fixture
def demo(app):
    @app.get(f"/s/<store>/{FAILING}")
    def explode():
        raise RuntimeError("secret stack detail")

    with in_app(app):
        load_demo(echo=lambda *args: None)
    social_commerce_on(app)


def social_commerce_on(app) -> None:
    """The demo opens a group at west-lake; one at riverside too, so both themes draw one."""
    from shopbuilder_groupbuy.models import Campaign

    from shopbuilder.demo_social import LEADER, open_demo_group

    with app.test_request_context(), tenancy.unscoped():
        store = db.session.scalar(db.select(Store).where(Store.slug == "riverside"))
        leader = db.session.scalar(db.select(Customer).where(Customer.email == LEADER[0]))
        campaign = db.session.scalar(db.select(Campaign))
        open_demo_group(store, leader, campaign.id)



def crawl(client, slug: str, extra=(), limit: int = 600):
    """Every page of the store reachable from its home page (and ``extra``), both languages."""
    start = [f"/s/{slug}/", f"/s/{slug}/?lang=en", f"/s/{slug}/no-such-page",
             f"/s/{slug}/p/999999", f"/s/{slug}/{FAILING}", *extra]
    seen, todo, pages = set(start), deque(start), []
    while todo and len(pages) < limit:
        url = todo.popleft()
        response = client.get(url)
        pages.append((url, response))
        found = [response.headers["Location"]] if response.status_code in (301, 302, 303) \
            else links(response.get_data(as_text=True)) if response.mimetype == "text/html" \
            else []
        for link in found:
            target = urljoin(url, link.replace("&amp;", "&"))
            parts = urlsplit(target)
            if parts.netloc and parts.netloc != "localhost":
                continue
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            wanted = path.startswith((f"/s/{slug}/", "/theme-static/", "/media/",
                                      "/static/plugins/"))
            if wanted and "/manage" not in path and path not in seen:
                seen.add(path)
                todo.append(path)
    assert not todo, f"crawl of {slug} stopped at {limit} pages"
    return pages


def text_of(response) -> str:
    """What a response says, images included (a PNG could carry a name in its metadata)."""
    if response.mimetype.startswith(("text/", "image/svg", "application/json")):
        return response.get_data(as_text=True)
    return response.get_data().decode("latin-1")


def assert_white_label(pages, spec) -> None:
    """No page names the platform; every HTML page names the store; only FAILING fails."""
    for url, response in pages:
        expected = (500,) if urlsplit(url).path.endswith(f"/{FAILING}") else (200, 302, 404)
        assert response.status_code in expected, f"{url} answered {response.status_code}"
        assert not PLATFORM.search(text_of(response)), f"platform name on {url}"
        assert not PLATFORM.search(str(response.headers)), f"platform name in headers of {url}"
        if response.mimetype == "text/html" and response.status_code != 302:
            body = response.get_data(as_text=True)
            assert spec["name"] in body, f"store name missing on {url}"
            assert "secret stack detail" not in body, url


def visited_html(pages) -> set[str]:
    """The pages drawn (not the redirects)."""
    return {u for u, r in pages if r.mimetype == "text/html" and r.status_code != 302}


@pytest.mark.parametrize("spec", STORES, ids=[s["slug"] for s in STORES])
def test_no_storefront_page_of_a_demo_store_names_the_platform(app, client, demo, spec):
    slug = spec["slug"]
    pages = crawl(client, slug)
    assert_white_label(pages, spec)
    visited = visited_html(pages)
    # Home, category listings, products, search, store information, sign-in, 404s, the 500.
    assert len(visited) >= 15
    assert any("/p/" in u for u in visited) and any("/c/" in u for u in visited)
    assert {f"/s/{slug}/info", f"/s/{slug}/search", f"/s/{slug}/{FAILING}"} <= visited
    if slug in SOCIAL:
        # The live campaign's page, the open group a friend shared.
        assert any(f"/s/{slug}/groups/c/" in u for u in visited), slug
        assert any(re.match(rf"/s/{slug}/groups/\d+$", u) for u in visited), slug


def sign_in_and_shop(app, client, slug: str) -> list[str]:
    """The demo customer signs in, puts a product in the cart and places an order to pay
    online; answers the pages a crawl cannot reach by links (the gateway's page)."""
    signed_in = client.post(f"/s/{slug}/login",
                            data={"email": "customer@example.com", "password": DEMO_PASSWORD})
    assert signed_in.status_code == 302
    with in_app(app) as session:
        store = session.scalar(db.select(Store).where(Store.slug == slug))
        variant_ids = list(session.scalars(db.select(Variant.id).order_by(Variant.id)))
        if slug != "west-lake":  # west-lake has the demo's orders already
            clerk = session.scalar(db.select(User).where(User.email == "clerk@west-lake.example"))
            buyer = session.scalar(db.select(Customer).where(
                Customer.email == "customer@example.com"))
            load_demo_orders(store, buyer, clerk)
            session.commit()
    added = client.post(f"/s/{slug}/cart/add", data={"variant_id": variant_ids[1],
                                                     "quantity": 1})
    assert added.status_code == 302
    placed = client.post(f"/s/{slug}/checkout", data={
        "variant_id": variant_ids[2], "quantity": 1, "fulfilment": "delivery",
        "payment_provider": "sandbox", "contact_name": "王小明",
        "contact_phone": "13800000000", "address": "杭州市西湖区龙井路 1 号",
    })
    assert placed.status_code == 302, placed.get_data(as_text=True)
    gateway = client.get(placed.headers["Location"])
    assert gateway.status_code == 302 and "/pay/sandbox/" in gateway.headers["Location"]
    return [urlsplit(placed.headers["Location"]).path,
            urlsplit(gateway.headers["Location"]).path]


@pytest.mark.parametrize("spec", STORES, ids=[s["slug"] for s in STORES])
def test_signed_in_customer_pages_never_name_the_platform(app, client, demo, spec):
    slug = spec["slug"]
    extra = sign_in_and_shop(app, client, slug)
    pages = crawl(client, slug, extra)
    assert_white_label(pages, spec)
    visited = visited_html(pages)
    for page in ("account", "cart", "checkout", "orders", "search"):
        assert f"/s/{slug}/{page}" in visited, page
    assert any("/pay/sandbox/" in u for u in visited)
    private = re.compile(rf"/s/{slug}/(cart|checkout|orders|account|pay/sandbox)\b")
    for url, response in pages:
        if private.match(url) and url in visited:
            assert '<meta name="robots" content="noindex">' in response.get_data(as_text=True), url
    order_pages = [u for u in visited if re.match(rf"/s/{slug}/orders/[A-Z]+-[\d-]+$", u)]
    assert len(order_pages) >= 5, order_pages  # the demo orders in each state, and ours
    if slug in SOCIAL:
        assert f"/s/{slug}/distribution/" in visited
        posters = [u for u, r in pages if r.mimetype == "image/png" and "/poster/" in u]
        assert posters, "no share poster reached"
        assert any(f"/s/{slug}/groups/c/" in u and u.endswith("/start") for u in visited)


def test_the_500_page_inside_a_store_is_the_stores_own(app, client, demo):
    response = client.get(f"/s/riverside/{FAILING}")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "茗茶 滨江店" in html and "/theme-static/teahouse/theme.css" in html
    assert "secret stack detail" not in html and not PLATFORM.search(html)


IMG = re.compile(r"<img\b[^>]*>")
CONTROL = re.compile(r"<(input|select|textarea)\b([^>]*)>")


@pytest.mark.parametrize("spec", STORES[:2], ids=[s["slug"] for s in STORES[:2]])
def test_storefront_images_have_alt_text_and_form_controls_have_labels(app, client, demo, spec):
    for url, response in crawl(client, spec["slug"]):
        if response.mimetype != "text/html":
            continue
        html = response.get_data(as_text=True)
        for tag in IMG.findall(html):
            assert re.search(r'\balt="[^"]+"', tag), f"image without alt text on {url}: {tag}"
        for _kind, attrs in CONTROL.findall(html):
            if 'type="hidden"' in attrs:
                continue
            control_id = re.search(r'\bid="([^"]+)"', attrs)
            labelled = "aria-label=" in attrs or (
                control_id and f'for="{control_id.group(1)}"' in html)
            wrapped = re.search(r"<label[^>]*>(?:(?!</label>).)*" + re.escape(attrs),
                                html, re.DOTALL)
            assert labelled or wrapped, f"control without a label on {url}: {attrs}"


# -- error pages besides 404 and 500 ------------------------------------------------------------


def _branded(response, store_name: str) -> str:
    html = response.get_data(as_text=True)
    assert store_name in html and "/theme-static/teahouse/theme.css" in html, html[:400]
    assert not PLATFORM.search(html)
    return html


def test_an_expired_form_in_a_store_answers_400_in_its_look_and_language(app, client, demo):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/s/riverside/login?lang=en",
                           data={"email": "customer@example.com", "password": DEMO_PASSWORD})
    assert response.status_code == 400
    assert "This form has expired" in _branded(response, "茗茶 滨江店")
    chinese = client.post("/s/riverside/login?lang=zh_CN", data={"email": "x@example.com"})
    assert "表单已过期" in _branded(chinese, "茗茶 滨江店")


def test_a_wrong_method_in_a_store_answers_405_in_its_look(client, demo):
    response = client.post("/s/riverside/info?lang=en")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    assert "Not possible here" in _branded(response, "茗茶 滨江店")


@pytest.mark.parametrize("app_config", [{
    "RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "1 per minute",
    "RATELIMIT_STORAGE_URI": "memory://",
}])
def test_too_many_sign_in_attempts_answer_429_in_the_stores_look(client, demo):
    for _attempt in range(2):
        response = client.post("/s/riverside/login?lang=zh_CN",
                               data={"email": "nobody@example.com", "password": "wrong-pass"})
    assert response.status_code == 429
    assert "尝试次数过多" in _branded(response, "茗茶 滨江店")


def test_console_and_api_errors_stay_plain_or_json(app, client, demo):
    app.config["WTF_CSRF_ENABLED"] = True
    console = client.post("/s/riverside/manage/login?lang=en", data={"email": "x@example.com"})
    assert console.status_code == 400 and "This form has expired" in console.get_data(as_text=True)
    assert "/theme-static/" not in console.get_data(as_text=True)
    hq = client.post("/hq/mingcha/login?lang=en", data={})
    assert hq.status_code == 400 and "This form has expired" in hq.get_data(as_text=True)
    api = client.delete("/api/v1/stores/riverside")
    assert api.status_code == 405 and api.mimetype == "application/problem+json"
