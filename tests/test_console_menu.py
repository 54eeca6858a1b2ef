"""One menu on every console page: HQ, store manager and clerk, in Chinese and English."""

from __future__ import annotations

import logging
import re
import types

import pytest

from shopbuilder import hookimpl, tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Order, Product, Store
from shopbuilder.plugins import PluginMeta, get_host
from shopbuilder.testing import (
    example_url_values,
    login,
    model_for_id_argument,
    seed,
    seed_for_hq,
    set_plugin_enabled,
)

#: Pages that are not console pages (sign-in, invitations) or not HTML.
NOT_CONSOLE = {"hq.login", "manage.login", "manage.set_password", "manage.listings_export"}

MENU = re.compile(r'<nav class="console-menu"[^>]*>(.*?)</nav>', re.S)
OVERVIEW = {"en": "Overview", "zh_CN": "概览"}
SIGN_OUT = {"en": "Sign out", "zh_CN": "退出登录"}


def console_get_rules(app, prefix):
    for rule in app.url_map.iter_rules():
        if ("GET" in rule.methods and rule.rule.startswith(prefix)
                and rule.endpoint not in NOT_CONSOLE):
            yield rule


@pytest.fixture
def ids(app, store, chain):
    """Ids for the pages that need one, from rows seeded in the test store and chain."""
    with app.app_context(), tenancy.unscoped():
        row = db.session.get(Store, store.id)
        hq_product = Product(chain_id=chain.id, title="HQ tea", status="active")
        db.session.add(hq_product)
        local = seed(db.session, Product, row)
        order = seed(db.session, Order, row)
        found = {"store_id": store.id, "order_id": order.id, "name": "pickup",
                 "hq_product_id": hq_product.id, "local_product_id": local.id}
        # Plugin pages' ids (a group, a campaign...): one seeded row of what each names,
        # HQ's own row for HQ pages where a model has rows of both kinds.
        hq, given = {}, set(found) | {"product_id"}
        for rule in app.url_map.iter_rules():
            for name in rule.arguments - given:
                model = model_for_id_argument(name)
                if model is None:
                    continue
                if "/manage/" in rule.rule and name not in found:
                    found[name] = seed(db.session, model, row).id
                if rule.rule.startswith("/hq/") and name not in hq:
                    hq[name] = seed_for_hq(db.session, model, row).id
        db.session.commit()
        return {**found, "hq": hq}


@pytest.fixture
def every_plugin_on(app, store):
    """The store has every installed plugin on, so every plugin page is a console page."""
    for name in get_host(app).names:
        set_plugin_enabled(app, store, name)


def url_for_rule(app, rule, ids, **known):
    product_id = ids["local_product_id"] if rule.rule.startswith("/s/") else ids["hq_product_id"]
    own = ids["hq"] if rule.rule.startswith("/hq/") else {}
    values = example_url_values(rule, product_id=product_id,
                                **{**ids, **own, "hq": None}, **known)
    with app.test_request_context():
        return app.url_for(rule.endpoint, **values)


def walk(app, client, rules, ids, lang, **known):
    """GET each page; answer {url: menu html} and the failures."""
    menus, failures = {}, []
    for rule in rules:
        url = url_for_rule(app, rule, ids, **known)
        response = client.get(url, query_string={"lang": lang})
        html = response.get_data(as_text=True)
        found = MENU.search(html)
        if response.status_code != 200 or not found:
            menu = "found" if found else "missing"
            failures.append(f"{url} -> {response.status_code}, menu {menu}")
            continue
        assert SIGN_OUT[lang] in html, url
        menus[url] = found.group(1)
    return menus, failures


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_hq_page_shows_the_hq_menu(
        app, client, chain, store, hq_user, ids, lang, every_plugin_on):
    login(client, hq_user, chain=chain)
    rules = list(console_get_rules(app, "/hq/<chain>/"))
    menus, failures = walk(app, client, rules, ids, lang, chain=chain.slug)
    assert not failures, "\n".join(failures)
    assert len(menus) >= 15
    overview = menus[f"/hq/{chain.slug}/"]
    assert OVERVIEW[lang] in overview
    for href in ("/stores", "/products", "/categories", "/api-keys", "/plugins/", "/theme/",
                 "/after-sales/", "/ledger/", "/settings", "/pickup/"):
        assert f'href="/hq/{chain.slug}{href}"' in overview, href
    # The page being shown is marked, and only that one.
    products = menus[f"/hq/{chain.slug}/products"]
    assert products.count('aria-current="page"') == 1
    assert re.search(r'href="/hq/[^"]+/products" aria-current="page"', products)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_store_page_shows_the_store_menu_to_a_manager(
        app, client, chain, store, manager, ids, lang, every_plugin_on):
    login(client, manager, store=store)
    rules = list(console_get_rules(app, "/s/<store>/manage/"))
    menus, failures = walk(app, client, rules, ids, lang, store=store.slug)
    assert not failures, "\n".join(failures)
    assert len(menus) >= 12
    overview = menus[f"/s/{store.slug}/manage/"]
    for href in ("orders/", "listings", "products", "staff", "plugins/", "theme/", "ledger/",
                 "api-keys", "pickup/", "pickup/verify"):
        assert f'href="/s/{store.slug}/manage/{href}"' in overview, href
    assert re.search(r'href="/s/[^"]+/manage/orders/" aria-current="page"',
                     menus[f"/s/{store.slug}/manage/orders/{ids['order_id']}"])


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_a_clerk_sees_only_the_pages_a_clerk_may_use(
        app, client, chain, store, clerk, ids, lang):
    set_plugin_enabled(app, store, "pickup")
    login(client, clerk, store=store)
    rules = [rule for rule in console_get_rules(app, "/s/<store>/manage/")
             if rule.endpoint in {"manage.index", "manage_orders.index", "manage_orders.detail",
                                  "manage.listings", "pickup_manage.today",
                                  "pickup_manage.verify"}]
    menus, failures = walk(app, client, rules, ids, lang, store=store.slug)
    assert not failures, "\n".join(failures)
    links = re.findall(r'href="([^"]+)"', menus[f"/s/{store.slug}/manage/"])
    base = f"/s/{store.slug}/manage/"
    assert links == [base, base + "orders/", base + "listings", base + "pickup/",
                     base + "pickup/verify"]
    # Every link the clerk is shown opens for the clerk.
    for link in links:
        assert client.get(link).status_code == 200, link


def test_plugin_entries_appear_only_where_the_plugin_is_enabled(
        app, client, chain, store, manager):
    login(client, manager, store=store)
    html = client.get(f"/s/{store.slug}/manage/", query_string={"lang": "en"}).get_data(
        as_text=True)
    assert "pickup/verify" not in MENU.search(html).group(1)
    set_plugin_enabled(app, store, "pickup")
    html = client.get(f"/s/{store.slug}/manage/", query_string={"lang": "en"}).get_data(
        as_text=True)
    assert "pickup/verify" in MENU.search(html).group(1)


def broken_hq_menu_plugin():
    module = types.ModuleType("broken_menu")
    module.meta = PluginMeta(name="broken_menu", title="Broken menu", version="1.0")

    @hookimpl
    def shopbuilder_hq_menu(chain):
        raise RuntimeError("report service down")

    module.shopbuilder_hq_menu = shopbuilder_hq_menu
    return module


def test_a_failing_plugin_hq_menu_leaves_the_other_plugins_entries(
        app, client, chain, hq_user, caplog):
    get_host(app).add(broken_hq_menu_plugin())
    login(client, hq_user, chain=chain)
    with caplog.at_level(logging.ERROR):
        response = client.get(f"/hq/{chain.slug}/", query_string={"lang": "en"})
    assert response.status_code == 200
    menu = MENU.search(response.get_data(as_text=True)).group(1)
    for href in ("/pickup/", "/groupbuy/", "/distribution/"):
        assert f'href="/hq/{chain.slug}{href}' in menu, href
    assert "plugin broken_menu failed in shopbuilder_hq_menu" in caplog.text


def test_the_menu_wraps_on_a_phone_instead_of_hiding_entries_past_the_edge(app, client):
    """The stylesheet's phone rules; tests/browser/test_console_on_a_phone.py looks at it."""
    css = client.get("/static/console.css").get_data(as_text=True)
    phone = css.split("@media (max-width:40rem){", 1)[1].split("\n}", 1)[0]
    assert "flex-wrap:wrap" in phone and "min-height:44px" in phone
    assert "overflow-x" not in phone and "nowrap" not in phone
