"""HQ's group-buy console: only the chain's stores, explicit store choice, report, edit, stop."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from gb_helpers import (
    T0,
    group_of,
    join,
    make_campaign,
    make_customers,
    make_variant,
    pay,
    run_tick,
    start,
)
from shopbuilder_groupbuy import service
from shopbuilder_groupbuy.models import Campaign, CampaignStore

from shopbuilder import clock
from shopbuilder.extensions import db
from shopbuilder.testing import in_app, login, make_staff, set_plugin_enabled

FORM = {"title": "Chain-wide", "group_price": "19.90", "group_size": "2", "fill_hours": "24",
        "starts_at": "2026-11-27T00:00", "ends_at": "2026-12-27T00:00", "unit_cap": "5",
        "per_customer_limit": "1", "per_order_limit": "1", "virtual_percent": "0"}


@pytest.fixture
def hq_client(app, chain):
    hq = make_staff(app, "hq@acme.example.com", chain, None, "hq")
    client = app.test_client()
    login(client, hq, chain=chain)
    return client


@pytest.fixture
def two_stores(app, chain, store, other_store):
    """North and South sell the mooncakes (8 each) with group-buy on."""
    for row in (store, other_store):
        set_plugin_enabled(app, row, "groupbuy")
    return make_variant(app, chain, [store, other_store], stock=8)


def cells(html: str, row_id: str) -> list[str]:
    """The text of each cell of the table row ``id=row_id``."""
    row = re.search(rf'<tr id="{row_id}">(.*?)</tr>', html, re.S)
    assert row, f"no row {row_id}"
    texts = [re.sub(r"<[^>]+>", "", c).strip()
             for c in re.findall(r"<td>(.*?)</td>", row.group(1), re.S)]
    return [re.sub(r"^\D+(?=\d+\.\d\d$)", "", t) for t in texts]  # amounts without "¥"


def campaigns(app):
    with in_app(app):
        return db.session.scalars(db.select(Campaign)).all()


def test_hq_form_offers_only_the_chains_stores_and_names_the_products(
        app, chain, store, other_store, other_chain_store, two_stores, hq_client):
    page = hq_client.get(f"/hq/{chain.slug}/groupbuy/campaigns/new")
    assert page.status_code == 200
    assert "North Street" in page.text and "South Street" in page.text
    assert "Rival One" not in page.text
    assert f'value="{two_stores}">Mooncake box · MC-' in page.text


def test_hq_cannot_attach_a_store_of_another_chain(app, chain, store, other_chain_store,
                                                  two_stores, hq_client):
    refused = hq_client.post(f"/hq/{chain.slug}/groupbuy/campaigns/new", data={
        **FORM, "variant_id": two_stores, "which_stores": "chosen",
        "store_ids": [store.id, other_chain_store.id]})
    assert refused.status_code == 422
    assert "not stores of this chain" in refused.text and "Rival One" not in refused.text
    assert campaigns(app) == []
    with pytest.raises(service.GroupError, match="not stores of this chain|不属于本品牌"):
        make_campaign(app, chain, None, two_stores, store_ids=(other_chain_store.id,))


def test_hq_campaign_for_chosen_stores_runs_only_there(app, chain, store, other_store,
                                                      two_stores, hq_client):
    created = hq_client.post(f"/hq/{chain.slug}/groupbuy/campaigns/new", data={
        **FORM, "variant_id": two_stores, "which_stores": "chosen", "store_ids": [store.id]})
    assert created.status_code == 302, created.text
    (campaign,) = campaigns(app)
    assert not campaign.all_stores
    with in_app(app):
        chosen = db.session.scalars(db.select(CampaignStore.store_id)).all()
    assert chosen == [store.id]
    assert app.test_client().get(f"/s/{store.slug}/groups/c/{campaign.id}").status_code == 200
    assert app.test_client().get(
        f"/s/{other_store.slug}/groups/c/{campaign.id}").status_code == 404


def test_hq_form_refuses_an_unclear_store_choice(app, chain, store, two_stores, hq_client):
    url = f"/hq/{chain.slug}/groupbuy/campaigns/new"
    both = hq_client.post(url, data={**FORM, "variant_id": two_stores, "which_stores": "all",
                                     "store_ids": [store.id]})
    assert both.status_code == 422 and "but also all stores" in both.text
    none = hq_client.post(url, data={**FORM, "variant_id": two_stores,
                                     "which_stores": "chosen"})
    assert none.status_code == 422 and "Choose at least one store" in none.text
    assert campaigns(app) == []


def test_hq_of_a_large_chain_types_store_address_names(app, chain, store, other_chain_store,
                                                       two_stores, hq_client, monkeypatch):
    from shopbuilder_groupbuy import views

    monkeypatch.setattr(views, "STORE_PICKER_LIMIT", 1)
    url = f"/hq/{chain.slug}/groupbuy/campaigns/new"
    assert 'name="store_codes"' in hq_client.get(url).text
    unknown = hq_client.post(url, data={**FORM, "variant_id": two_stores,
                                        "which_stores": "chosen",
                                        "store_codes": "north\nrival-one"})
    assert unknown.status_code == 422 and "rival-one" in unknown.text
    created = hq_client.post(url, data={**FORM, "variant_id": two_stores,
                                        "which_stores": "chosen", "store_codes": " north \n"})
    assert created.status_code == 302, created.text
    with in_app(app):
        assert db.session.scalars(db.select(CampaignStore.store_id)).all() == [store.id]


def test_hq_report_counts_groups_and_sales_per_campaign_and_per_store(
        app, chain, store, other_store, two_stores, hq_client):
    campaign_id = make_campaign(app, chain, None, two_stores, group_size=2, unit_cap=8,
                                store_ids=(store.id, other_store.id))
    a, b, c, d = make_customers(app, chain, 4)
    filled = start(app, store, a, campaign_id)
    pay(app, filled)
    pay(app, join(app, store, b, group_of(app, filled)))
    pay(app, start(app, store, c, campaign_id))  # fails at its deadline
    with clock.frozen(T0 + timedelta(hours=20)):
        pay(app, start(app, other_store, d, campaign_id))  # still open at report time
    run_tick(app, T0 + timedelta(hours=25))
    with clock.frozen(T0 + timedelta(hours=25)):
        page = hq_client.get(f"/hq/{chain.slug}/groupbuy/")
    assert page.status_code == 200 and "<title>Group-buy · " in page.text
    # opened, filled, failed, fill rate, units, sales
    assert cells(page.text, f"campaign-{campaign_id}")[6:12] == [
        "3", "1", "1", "33%", "2", "39.80"]
    assert cells(page.text, f"store-{store.id}") == [
        "North Street", "2", "1", "1", "50%", "2", "39.80"]
    assert cells(page.text, f"store-{other_store.id}") == [
        "South Street", "1", "0", "0", "0%", "0", "0.00"]


def test_hq_edits_the_safe_fields_of_a_campaign(app, chain, store, two_stores, hq_client):
    campaign_id = make_campaign(app, chain, None, two_stores, unit_cap=5, all_stores=True)
    url = f"/hq/{chain.slug}/groupbuy/campaigns/{campaign_id}/edit"
    form = hq_client.get(url)
    assert form.status_code == 200 and 'value="Mooncakes for three"' in form.text
    fields = {"title": "Mooncakes, last week", "ends_at": "2026-12-20T20:00", "unit_cap": "6",
              "per_customer_limit": "3", "per_order_limit": "1"}
    past = hq_client.post(url, data={**fields, "ends_at": "2026-11-27T10:30"})  # 02:30 UTC
    assert past.status_code == 422 and "stop it" in past.text
    too_many = hq_client.post(url, data={**fields, "unit_cap": "9"})
    assert too_many.status_code == 422 and "North Street (8)" in too_many.text
    saved = hq_client.post(url, data=fields)
    assert saved.status_code == 302
    with in_app(app):
        campaign = db.session.get(Campaign, campaign_id)
        assert (campaign.title, campaign.unit_cap, campaign.per_customer_limit) == (
            "Mooncakes, last week", 6, 3)
        # Typed in local time (Asia/Shanghai), kept in UTC.
        assert campaign.ends_at.isoformat() == "2026-12-20T12:00:00+00:00"


def test_hq_stops_a_campaign_only_after_confirming(app, chain, store, two_stores, hq_client):
    campaign_id = make_campaign(app, chain, None, two_stores, unit_cap=5, all_stores=True)
    (a,) = make_customers(app, chain, 1)
    pay(app, start(app, store, a, campaign_id))
    url = f"/hq/{chain.slug}/groupbuy/campaigns/{campaign_id}/stop"
    ask = hq_client.get(url)
    assert ask.status_code == 200 and "Groups open now: 1" in ask.text
    unconfirmed = hq_client.post(url, data={})
    assert unconfirmed.status_code == 422 and "Tick the box" in unconfirmed.text
    assert campaigns(app)[0].status == "active"
    stopped = hq_client.post(url, data={"confirm": "1"})
    assert stopped.status_code == 302
    assert campaigns(app)[0].status == "stopped"
    page = hq_client.get(f"/hq/{chain.slug}/groupbuy/")
    assert "Stopped" in cells(page.text, f"campaign-{campaign_id}")
    assert f"/campaigns/{campaign_id}/edit" not in page.text
    assert app.test_client().get(
        f"/s/{store.slug}/groups/c/{campaign_id}").status_code == 200  # shown, not running
    assert "This group-buy is not running." in app.test_client().get(
        f"/s/{store.slug}/groups/c/{campaign_id}").text


def test_campaigns_are_edited_only_by_their_owner(app, chain, store, other_chain, two_stores,
                                                 client):
    hq_campaign = make_campaign(app, chain, None, two_stores, unit_cap=5, all_stores=True)
    own = make_campaign(app, chain, store, two_stores, unit_cap=5)
    manager = make_staff(app, "m@north.example.com", chain, store, "manager")
    clerk = make_staff(app, "c@north.example.com", chain, store, "clerk")
    rival = make_staff(app, "hq@rival.example.com", other_chain, None, "hq")
    login(client, manager, store=store)
    base = f"/s/{store.slug}/manage/groupbuy/campaigns"
    assert client.get(f"{base}/{own}/edit").status_code == 200
    assert client.get(f"{base}/{hq_campaign}/edit").status_code == 404
    assert client.post(f"{base}/{hq_campaign}/stop", data={"confirm": "1"}).status_code == 404
    as_clerk = app.test_client()
    login(as_clerk, clerk, store=store)
    assert as_clerk.get(f"{base}/{own}/stop").status_code == 404
    as_rival = app.test_client()
    login(as_rival, rival, chain=other_chain)
    assert as_rival.get(
        f"/hq/{other_chain.slug}/groupbuy/campaigns/{hq_campaign}/edit").status_code == 404
    assert {c.status for c in campaigns(app)} == {"active"}
