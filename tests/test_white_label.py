"""White-label: a customer never sees the platform's name, only the store's."""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urljoin, urlsplit

import pytest

from shopbuilder.demo import DEMO_PASSWORD, STORES, load_demo
from shopbuilder.testing import in_app

PLATFORM = re.compile("shop ?builder", re.IGNORECASE)
HREF = re.compile(r'(?:href|src)="([^"]+)"')
FORM = re.compile(r"<form\b([^>]*)>", re.IGNORECASE)
ACTION = re.compile(r'action="([^"]+)"')


def links(html: str) -> list[str]:
    """Links, resources and the targets of GET forms (a POST form is not a page)."""
    found = HREF.findall(html)
    for attributes in FORM.findall(html):
        if 'method="post"' not in attributes.lower():
            found += ACTION.findall(attributes)
    return found


@pytest.fixture
def demo(app):
    with in_app(app):
        load_demo(echo=lambda *args: None)


def crawl(client, slug: str, limit: int = 400):
    """Every page of the store reachable from its home page by links, in both languages."""
    start = [f"/s/{slug}/", f"/s/{slug}/?lang=en", f"/s/{slug}/no-such-page",
             f"/s/{slug}/p/999999"]
    seen, todo, pages = set(start), deque(start), []
    while todo and len(pages) < limit:
        url = todo.popleft()
        response = client.get(url)
        pages.append((url, response))
        if response.mimetype != "text/html":
            continue
        for link in links(response.get_data(as_text=True)):
            target = urljoin(url, link.replace("&amp;", "&"))
            parts = urlsplit(target)
            if parts.netloc and parts.netloc != "localhost":
                continue
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            wanted = path.startswith((f"/s/{slug}/", "/theme-static/", "/media/"))
            if wanted and "/manage" not in path and path not in seen:
                seen.add(path)
                todo.append(path)
    return pages


@pytest.mark.parametrize("spec", STORES, ids=[s["slug"] for s in STORES])
def test_no_storefront_page_of_a_demo_store_names_the_platform(app, client, demo, spec):
    pages = crawl(client, spec["slug"])
    html_pages = [(u, r) for u, r in pages if r.mimetype == "text/html"]
    # Home, category listings, products, store information, sign-in, register, 404s.
    assert len(html_pages) >= 15
    for url, response in pages:
        textual = response.mimetype.startswith(("text/", "image/svg"))
        body = response.get_data(as_text=True) if textual else ""
        assert response.status_code in (200, 404), url
        assert not PLATFORM.search(body), f"platform name on {url}"
        assert not PLATFORM.search(str(response.headers)), f"platform name in headers of {url}"
    for url, response in html_pages:
        assert spec["name"] in response.get_data(as_text=True), f"store name missing on {url}"
    visited = {u for u, _r in html_pages}
    assert any("/p/" in u for u in visited) and any("/c/" in u for u in visited)
    assert f"/s/{spec['slug']}/info" in visited


@pytest.mark.parametrize("spec", STORES, ids=[s["slug"] for s in STORES])
def test_signed_in_customer_pages_never_name_the_platform(app, client, demo, spec):
    signed_in = client.post(f"/s/{spec['slug']}/login",
                            data={"email": "customer@example.com", "password": DEMO_PASSWORD})
    assert signed_in.status_code == 302
    pages = crawl(client, spec["slug"])
    visited = {u for u, r in pages if r.mimetype == "text/html"}
    assert f"/s/{spec['slug']}/account" in visited and f"/s/{spec['slug']}/cart" in visited
    for url, response in pages:
        assert response.status_code in (200, 404), url
        body = response.get_data(as_text=True) if response.mimetype.startswith("text/") else ""
        assert not PLATFORM.search(body), f"platform name on {url}"


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
