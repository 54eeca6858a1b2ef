"""No console page shows another chain's stores, whatever lists stores (core or plugin).

The tenant guard narrows ``Store`` to the request's chain (docs/architecture.md); this
walks every GET page of the HQ console and the store console, with every installed plugin
on, as the chain's HQ staff and as a store manager, and looks for the other chain's store.
A page added later by any area or plugin is covered without anyone editing this file.
"""

from __future__ import annotations

import pytest

from shopbuilder import tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Order, Product, Store
from shopbuilder.plugins import get_host
from shopbuilder.testing import (
    example_url_values,
    login,
    make_store,
    model_for_id_argument,
    seed,
    set_plugin_enabled,
    set_plugin_policy,
)

RIVAL_NAME = "Rival Hidden Teahouse"
RIVAL_SLUG = "rival-hidden"
NOT_PAGES = {"hq.login", "manage.login", "manage.set_password", "manage.listings_export"}


@pytest.fixture
def rival_store(app, other_chain):
    return make_store(app, other_chain, RIVAL_SLUG, RIVAL_NAME, city="Rivaltown")


@pytest.fixture
def every_plugin_on(app, chain, store):
    for name in get_host(app).names:
        set_plugin_policy(app, chain, name, "allowed")
        set_plugin_enabled(app, store, name)


@pytest.fixture
def ids(app, chain, store):
    """Ids for the pages that need one: rows of our own store and chain."""
    with app.app_context(), tenancy.unscoped():
        row = db.session.get(Store, store.id)
        hq_product = Product(chain_id=chain.id, title="HQ tea", status="active")
        db.session.add(hq_product)
        found = {"store_id": store.id, "order_id": seed(db.session, Order, row).id,
                 "name": "pickup", "hq_product_id": hq_product.id,
                 "local_product_id": seed(db.session, Product, row).id}
        for rule in app.url_map.iter_rules():
            for name in rule.arguments - found.keys() - {"product_id", "store", "chain"}:
                model = model_for_id_argument(name)
                if model is not None and ("/manage/" in rule.rule
                                          or rule.rule.startswith("/hq/")):
                    found[name] = seed(db.session, model, row).id
        db.session.commit()
        return found


def console_pages(app, prefix, ids, **tenant):
    for rule in app.url_map.iter_rules():
        if ("GET" in rule.methods and rule.rule.startswith(prefix)
                and rule.endpoint not in NOT_PAGES):
            product_id = ids["local_product_id" if prefix.startswith("/s/") else "hq_product_id"]
            values = example_url_values(rule, **{**ids, "product_id": product_id, **tenant})
            with app.test_request_context():
                yield app.url_for(rule.endpoint, **values)


def leaks(client, urls) -> tuple[int, list[str]]:
    shown, found = 0, []
    for url in urls:
        response = client.get(url, query_string={"lang": "en"})
        if response.status_code == 200:
            shown += 1
        html = response.get_data(as_text=True)
        if RIVAL_NAME in html or RIVAL_SLUG in html:
            found.append(f"{url} ({response.status_code}) shows {RIVAL_NAME}")
    return shown, found


def test_no_hq_page_shows_another_chains_store(
        app, client, chain, store, hq_user, rival_store, ids, every_plugin_on):
    login(client, hq_user, chain=chain)
    shown, found = leaks(client, console_pages(app, "/hq/<chain>/", ids, chain=chain.slug))
    assert not found, "\n".join(found)
    assert shown >= 15


def test_no_store_console_page_shows_another_chains_store(
        app, client, chain, store, manager, rival_store, ids, every_plugin_on):
    login(client, manager, store=store)
    urls = console_pages(app, "/s/<store>/manage/", ids, store=store.slug)
    shown, found = leaks(client, urls)
    assert not found, "\n".join(found)
    assert shown >= 12


def test_the_walk_would_see_a_page_that_lists_every_store(
        app, client, chain, store, hq_user, rival_store, ids):
    from shopbuilder.auth import hq_required

    @hq_required
    def every_store():
        with tenancy.unscoped():  # past the guard: what a leaking page would do
            return ", ".join(db.session.scalars(db.select(Store.name)))

    app.add_url_rule("/hq/<chain>/every-store", "hq.every_store", every_store)
    login(client, hq_user, chain=chain)
    _shown, found = leaks(client, console_pages(app, "/hq/<chain>/", ids, chain=chain.slug))
    assert any("/every-store" in f for f in found)
