"""The store console: product picker, own campaigns only, pages, a group's members."""

from __future__ import annotations

import pytest
from gb_helpers import group_of, join, make_campaign, make_customers, make_variant, pay, start
from shopbuilder_groupbuy.models import Campaign

from shopbuilder.extensions import db
from shopbuilder.testing import in_app, login, make_staff

FORM = {"title": "Store deal", "group_price": "9.90", "group_size": "2", "fill_hours": "24",
        "starts_at": "2026-11-27T00:00", "ends_at": "2026-12-27T00:00", "unit_cap": "5",
        "per_customer_limit": "1", "per_order_limit": "1", "virtual_percent": "0"}


@pytest.fixture
def manager_client(app, chain, store):
    manager = make_staff(app, "m@north.example.com", chain, store, "manager")
    client = app.test_client()
    login(client, manager, store=store)
    return client


def sku_of(app, variant_id):
    from shopbuilder.models import Variant

    with in_app(app):
        return db.session.get(Variant, variant_id).sku


def test_store_picks_the_product_from_what_it_sells(app, chain, store, other_store, shop,
                                                   manager_client):
    elsewhere = make_variant(app, chain, [other_store])  # not sold in North
    page = manager_client.get(f"/s/{store.slug}/manage/groupbuy/campaigns/new")
    sku = sku_of(app, shop["variant_id"])
    assert f'<option value="{shop["variant_id"]}">Mooncake box · {sku}</option>' in page.text
    assert f'value="{elsewhere}"' not in page.text
    refused = manager_client.post(f"/s/{store.slug}/manage/groupbuy/campaigns/new",
                                  data={**FORM, "variant_id": elsewhere})
    assert refused.status_code == 422 and "Choose a product." in refused.text


def test_store_with_a_large_catalogue_types_the_sku(app, chain, store, shop, manager_client,
                                                    monkeypatch):
    from shopbuilder_groupbuy import views

    monkeypatch.setattr(views, "PICKER_LIMIT", 0)
    url = f"/s/{store.slug}/manage/groupbuy/campaigns/new"
    assert 'name="sku"' in manager_client.get(url).text
    unknown = manager_client.post(url, data={**FORM, "sku": "NOPE-1"})
    assert unknown.status_code == 422 and "has the SKU NOPE-1" in unknown.text
    created = manager_client.post(url, data={**FORM, "sku": sku_of(app, shop["variant_id"])})
    assert created.status_code == 302, created.text
    with in_app(app):
        assert db.session.scalar(db.select(Campaign).where(
            Campaign.title == "Store deal")).variant_id == shop["variant_id"]


def test_console_lists_only_the_stores_campaigns_a_page_at_a_time(
        app, chain, store, other_store, shop, manager_client, monkeypatch):
    from shopbuilder_groupbuy import views

    south = make_variant(app, chain, [other_store])
    make_campaign(app, chain, other_store, south, title="South only")
    make_campaign(app, chain, store, shop["variant_id"], title="North second")
    monkeypatch.setattr(views, "PER_PAGE", 1)
    first = manager_client.get(f"/s/{store.slug}/manage/groupbuy/")
    assert "North second" in first.text and "Mooncakes for three" not in first.text
    assert "cpage=2" in first.text
    second = manager_client.get(f"/s/{store.slug}/manage/groupbuy/?cpage=2")
    assert "Mooncakes for three" in second.text and "cpage=3" not in second.text
    for page in (first, second):
        assert "South only" not in page.text


def test_manager_stops_the_stores_campaign_after_confirming(app, chain, store, shop,
                                                           manager_client):
    url = f"/s/{store.slug}/manage/groupbuy/campaigns/{shop['campaign_id']}/stop"
    assert "This cannot be undone" in manager_client.get(url).text
    assert manager_client.post(url, data={}).status_code == 422
    assert manager_client.post(url, data={"confirm": "1"}).status_code == 302
    with in_app(app):
        assert db.session.get(Campaign, shop["campaign_id"]).status == "stopped"
    listing = manager_client.get(f"/s/{store.slug}/manage/groupbuy/")
    assert "Stopped" in listing.text and "/edit" not in listing.text


def test_group_page_shows_order_states_in_words_and_local_times(app, chain, store, shop,
                                                               manager_client):
    a, b = make_customers(app, chain, 2)
    leader_order = start(app, store, a, shop["campaign_id"])
    pay(app, leader_order)
    group_id = group_of(app, leader_order)
    join(app, store, b, group_id)
    page = manager_client.get(f"/s/{store.slug}/manage/groupbuy/groups/{group_id}")
    assert page.status_code == 200
    assert "Waiting for the group" in page.text and "awaiting_group" not in page.text
    assert "Awaiting payment" in page.text and "pending_payment" not in page.text
    # Opened 2026-11-27 03:00 UTC with 24 h to fill: 11:00 the next day in Shanghai.
    assert "2026-11-28 11:00" in page.text and "UTC" not in page.text
