"""Pages and API as two customers use them: open, share, join, fill; plugin off; isolation."""

from __future__ import annotations

from gb_helpers import group_of, group_state, make_customers, order_state, pay, start

from shopbuilder.extensions import db
from shopbuilder.models import Order
from shopbuilder.testing import (
    PASSWORD,
    in_app,
    login,
    make_customer,
    make_staff,
    set_plugin_enabled,
)


def test_two_customers_open_share_and_fill_a_group_through_the_pages(app, chain, store, shop,
                                                                     client):
    from shopbuilder_groupbuy.models import Campaign

    with in_app(app):
        db.session.get(Campaign, shop["campaign_id"]).group_size = 2
        db.session.commit()
    leader = make_customer(app, chain, "lead@example.com", name="Wang")
    friend = make_customer(app, chain, "friend@example.com", name="Zhao")
    login(client, leader, store=store)
    page = client.get(f"/s/{store.slug}/groups/c/{shop['campaign_id']}")
    assert page.status_code == 200 and "¥19.90" in page.text and "¥30.00" in page.text
    placed = client.post(f"/s/{store.slug}/groups/c/{shop['campaign_id']}/start", data={
        "quantity": "1", "fulfilment": "delivery", "payment_provider": "offline",
        "contact_name": "Wang", "contact_phone": "138", "address": "1 Lake Road",
        "idempotency_key": "k1"})
    assert placed.status_code == 302, placed.text
    with in_app(app):
        order_id = db.session.scalar(db.select(Order.id))
    pay(app, order_id)
    group_id = group_of(app, order_id)
    shared = client.get(f"/s/{store.slug}/groups/{group_id}")
    assert 'property="og:title"' in shared.text and "¥19.90" in shared.text
    assert 'data-deadline="2026-11-28T03:00:00Z"' in shared.text and "1 more needed" in shared.text
    client.post(f"/s/{store.slug}/logout")
    other = app.test_client()
    login(other, friend, store=store)
    page = other.get(f"/s/{store.slug}/groups/{group_id}")
    assert ">W<" in page.text and "Join this group" in page.text
    joined = other.post(f"/s/{store.slug}/groups/{group_id}/join", data={
        "quantity": "1", "fulfilment": "delivery", "payment_provider": "offline",
        "contact_name": "Zhao", "contact_phone": "139", "address": "2 Lake Road",
        "idempotency_key": "k2"})
    assert joined.status_code == 302, joined.text
    with in_app(app):
        second = db.session.scalar(db.select(Order.id).where(Order.id != order_id))
    pay(app, second)
    assert group_state(app, group_id)[0] == "succeeded"
    assert order_state(app, order_id) == order_state(app, second) == "paid"
    again = other.post(f"/s/{store.slug}/groups/{group_id}/join", data={
        "quantity": "1", "fulfilment": "delivery", "payment_provider": "offline",
        "contact_name": "Zhao", "contact_phone": "139", "address": "2", "idempotency_key": "k3"})
    assert again.status_code == 422


def test_group_pages_answer_404_where_the_plugin_is_off(app, chain, store, other_store, shop,
                                                       client):
    (a,) = make_customers(app, chain, 1)
    order_id = start(app, store, a, shop["campaign_id"])
    pay(app, order_id)
    group_id = group_of(app, order_id)
    assert client.get(f"/s/{store.slug}/groups/{group_id}").status_code == 200
    # Another store of the chain (plugin off, then on) never shows this store's group.
    assert client.get(f"/s/{other_store.slug}/groups/{group_id}").status_code == 404
    set_plugin_enabled(app, other_store, "groupbuy")
    assert client.get(f"/s/{other_store.slug}/groups/{group_id}").status_code == 404
    assert client.get(
        f"/s/{other_store.slug}/groups/c/{shop['campaign_id']}").status_code == 404
    set_plugin_enabled(app, store, "groupbuy", False)
    assert client.get(f"/s/{store.slug}/groups/{group_id}").status_code == 404


def test_group_of_one_chain_is_404_in_another_chain(app, chain, store, shop, client,
                                                   other_chain_store):
    set_plugin_enabled(app, other_chain_store, "groupbuy")
    (a,) = make_customers(app, chain, 1)
    order_id = start(app, store, a, shop["campaign_id"])
    pay(app, order_id)
    group_id = group_of(app, order_id)
    assert client.get(f"/s/{other_chain_store.slug}/groups/{group_id}").status_code == 404
    api = client.get(f"/api/v1/stores/{other_chain_store.slug}/groupbuy/groups/{group_id}")
    assert api.status_code == 404 and api.is_json


def test_product_slots_show_group_price_and_open_groups(app, chain, store, other_store, shop):
    from shopbuilder.models import Product, Store
    from shopbuilder.plugins import render_slot

    (a,) = make_customers(app, chain, 1)
    order_id = start(app, store, a, shop["campaign_id"])
    pay(app, order_id)
    with app.test_request_context("/?lang=en"), __import__("shopbuilder").tenancy.unscoped():
        product = db.session.scalar(db.select(Product))
        row = db.session.get(Store, store.id)
        price = render_slot("product_below_price", store=row, product=product)
        actions = render_slot("product_actions", store=row, product=product)
        off = render_slot("product_actions", store=db.session.get(Store, other_store.id),
                          product=product)
    assert "¥19.90" in price and "¥30.00" in price
    assert "Start a group" in actions and "2 more needed" in actions
    assert str(off) == ""


def test_console_and_hq_report(app, chain, store, shop, client):
    manager = make_staff(app, "m@north.example.com", chain, store, "manager")
    hq = make_staff(app, "hq@acme.example.com", chain, None, "hq")
    (a,) = make_customers(app, chain, 1)
    order_id = start(app, store, a, shop["campaign_id"])
    pay(app, order_id)
    group_id = group_of(app, order_id)
    login(client, manager, store=store)
    page = client.get(f"/s/{store.slug}/manage/groupbuy/")
    assert page.status_code == 200 and "Mooncakes for three" in page.text
    detail = client.get(f"/s/{store.slug}/manage/groupbuy/groups/{group_id}")
    assert detail.status_code == 200 and "Ac0" in detail.text
    created = client.post(f"/s/{store.slug}/manage/groupbuy/campaigns/new", data={
        "title": "Too many", "variant_id": shop["variant_id"], "group_price": "9.90",
        "group_size": "2", "fill_hours": "24", "starts_at": "2026-11-27T00:00",
        "ends_at": "2026-12-27T00:00", "unit_cap": "999", "per_customer_limit": "1",
        "per_order_limit": "1", "virtual_percent": "0"})
    assert created.status_code == 422 and "above the stock" in created.text
    client.post(f"/s/{store.slug}/manage/logout")
    hq_client = app.test_client()
    login(hq_client, hq, chain=chain)
    report = hq_client.get(f"/hq/{chain.slug}/groupbuy/")
    assert report.status_code == 200 and "Per store" in report.text


def test_api_start_and_join_flow(app, chain, store, shop, client):
    leader = make_customer(app, chain, "lead@example.com", name="Wang")
    friend = make_customer(app, chain, "friend@example.com", name="Zhao")
    base = f"/api/v1/stores/{store.slug}"

    def token(who):
        answer = client.post(f"{base}/auth/token", json={"email": who.email,
                                                         "password": PASSWORD})
        assert answer.status_code == 201, answer.text
        return {"Authorization": f"Bearer {answer.json['access_token']}"}

    body = {"fulfilment": "delivery", "payment_provider": "offline", "contact_name": "W",
            "contact_phone": "1", "address": "road"}
    with app.test_request_context():
        product_id = shop["variant_id"]
    listed = client.get(f"{base}/groupbuy/products/{_product_of(app, product_id)}/campaigns")
    assert listed.status_code == 200 and listed.json["items"][0]["group_price_fen"] == 1990
    started = client.post(f"{base}/groupbuy/campaigns/{shop['campaign_id']}/groups", json=body,
                          headers={**token(leader), "Idempotency-Key": "a1"})
    assert started.status_code == 201, started.text
    pay(app, started.json["order"]["id"])
    group_id = started.json["group_id"]
    open_groups = client.get(f"{base}/groupbuy/campaigns/{shop['campaign_id']}/groups")
    assert [g["id"] for g in open_groups.json["items"]] == [group_id]
    joined = client.post(f"{base}/groupbuy/groups/{group_id}/members", json=body,
                         headers={**token(friend), "Idempotency-Key": "b1"})
    assert joined.status_code == 201, joined.text
    twice = client.post(f"{base}/groupbuy/groups/{group_id}/members", json=body,
                        headers={**token(friend), "Idempotency-Key": "b2"})
    assert twice.status_code == 409 and twice.mimetype == "application/problem+json"
    view = client.get(f"{base}/groupbuy/groups/{group_id}")
    assert view.json["members"] == [{"initial": "W", "leader": True}]


def _product_of(app, variant_id):
    from shopbuilder.models import Variant

    with in_app(app):
        return db.session.get(Variant, variant_id).product_id


def test_hq_creates_a_campaign_for_all_stores_and_it_shows_in_each(app, chain, store,
                                                                   other_store, client):
    from gb_helpers import make_variant
    from shopbuilder_groupbuy.models import Campaign

    hq = make_staff(app, "hq@acme.example.com", chain, None, "hq")
    variant_id = make_variant(app, chain, [store, other_store], stock=8)
    set_plugin_enabled(app, other_store, "groupbuy")
    login(client, hq, chain=chain)
    form = {"title": "Chain-wide", "variant_id": variant_id, "group_price": "19.90",
            "group_size": "2", "fill_hours": "24", "starts_at": "2026-11-27T00:00",
            "ends_at": "2026-12-27T00:00", "unit_cap": "9", "per_customer_limit": "1",
            "per_order_limit": "1", "virtual_percent": "0", "which_stores": "all"}
    refused = client.post(f"/hq/{chain.slug}/groupbuy/campaigns/new", data=form)
    assert refused.status_code == 422 and "North Street (8)" in refused.text
    created = client.post(f"/hq/{chain.slug}/groupbuy/campaigns/new",
                          data={**form, "unit_cap": "8"})
    assert created.status_code == 302
    with in_app(app):
        campaign = db.session.scalar(db.select(Campaign))
        assert campaign.store_id is None and campaign.all_stores
        campaign_id = campaign.id
    # North has the plugin off: the campaign exists there only once the store turns it on.
    assert app.test_client().get(f"/s/{store.slug}/groups/c/{campaign_id}").status_code == 404
    set_plugin_enabled(app, store, "groupbuy")
    for slug in (store.slug, other_store.slug):
        assert app.test_client().get(f"/s/{slug}/groups/c/{campaign_id}").status_code == 200


def test_order_page_slot_links_the_group_only_for_group_orders(app, chain, store, shop):
    from shopbuilder import tenancy
    from shopbuilder.models import Store
    from shopbuilder.plugins import render_slot

    (a,) = make_customers(app, chain, 1)
    order_id = start(app, store, a, shop["campaign_id"])
    pay(app, order_id)
    group_id = group_of(app, order_id)
    with app.test_request_context("/?lang=en"), tenancy.unscoped():
        row = db.session.get(Store, store.id)
        html = render_slot("order_detail", store=row, order=db.session.get(Order, order_id))
        other = render_slot("order_detail", store=row, order=None)
    assert f"/groups/{group_id}" in html and "2 more needed" in html
    assert str(other) == ""
