# ruff: noqa: F811 - fixtures come from distkit
"""Group-buy orders earn commission only when their campaign allows it (the real plugin)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from distkit import (  # noqa: F401  (fixtures)
    T0,
    _frozen_clock,
    act,
    bind,
    chain,
    commissions,
    distributor,
    person,
    shop,
)
from shopbuilder_groupbuy import service as groupbuy

from shopbuilder import tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Chain, Customer, Store
from shopbuilder.services import orders
from shopbuilder.testing import in_app, login, set_plugin_enabled


def _group_order(app, chain, store, variant_id, customer, allowed):
    with app.test_request_context(), tenancy.unscoped():
        row = db.session.get(Store, store.id)
        campaign = groupbuy.create_campaign(groupbuy.CampaignInput(
            title="Two for tea", variant_id=variant_id, group_price_fen=8000, group_size=2,
            fill_hours=24, starts_at=T0 - timedelta(hours=1), ends_at=T0 + timedelta(days=3),
            unit_cap=10, commission_allowed=allowed), db.session.get(Chain, chain.id), row)
        db.session.commit()
        campaign_id = campaign.id
    with app.test_request_context():
        row = db.session.get(Store, store.id)
        with tenancy.store_scope(row):
            order = groupbuy.start_group(
                row, db.session.get(Customer, customer.id), groupbuy.get_campaign(row, campaign_id),
                orders.Checkout("delivery", "offline", contact_name="x", contact_phone="1",
                                address="road"))
            order_id = order.id
    act(app, order_id, lambda o: orders.mark_paid(o, "system"))
    return order_id


@pytest.mark.parametrize("allowed, expected", [(True, 800), (False, None)])
def test_group_order_earns_commission_only_when_its_campaign_allows(app, chain, store, shop,
                                                                   allowed, expected):
    set_plugin_enabled(app, store, "groupbuy")
    d_id, code, _c = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, code)
    order_id = _group_order(app, chain, store, shop["variant_id"], buyer, allowed)
    found = commissions(app, order_id)
    if expected is None:
        assert found == {}
    else:
        assert found == {1: (d_id, "frozen", expected, 0)}


def _open_group(app, chain, store, shop):
    """Both real plugins on, a group opened (and paid) by a leader; ``(group id, code, me)``."""
    from shopbuilder_groupbuy.models import Group

    set_plugin_enabled(app, store, "groupbuy")
    _d, code, me = distributor(app, chain, store)
    _group_order(app, chain, store, shop["variant_id"], person(app, chain), True)
    with in_app(app):
        group_id = db.session.scalar(db.select(Group.id))
    return group_id, code, me


def test_the_group_pages_own_share_link_carries_the_distributors_code(app, chain, store,
                                                                      shop, client):
    group_id, code, me = _open_group(app, chain, store, shop)
    login(client, me, store=store)
    page = client.get(f"/s/{store.slug}/groups/{group_id}").text
    share = re.search(r'class="gb-share".*?value="([^"]+)"', page, re.S).group(1)
    assert share.endswith(f"/groups/{group_id}?ref={code}")
    other = app.test_client()
    login(other, person(app, chain), store=store)  # not a distributor: a plain link
    page = other.get(f"/s/{store.slug}/groups/{group_id}").text
    share = re.search(r'class="gb-share".*?value="([^"]+)"', page, re.S).group(1)
    assert share.endswith(f"/groups/{group_id}")


def test_the_group_poster_shows_the_group_price(app, chain, store, shop, client,
                                                monkeypatch):
    from shopbuilder_distribution import poster

    drawn = []
    monkeypatch.setattr(poster, "render", lambda **kw: drawn.append(kw) or b"\x89PNG")
    group_id, _code, me = _open_group(app, chain, store, shop)
    login(client, me, store=store)
    page = client.get(f"/s/{store.slug}/groups/{group_id}").text
    url = re.search(r'href="([^"]*poster/p/[^"]*group_id=[^"]*)"', page).group(1)
    assert client.get(html.unescape(url)).status_code == 200
    assert (drawn[-1]["price_fen"], drawn[-1]["price_label"]) == (8000, "Group price")
    forged = re.sub(r"offer=[^&]*", "offer=forged", html.unescape(url))
    client.get(forged)
    assert (drawn[-1]["price_fen"], drawn[-1]["price_label"]) == (10000, None)  # list price
