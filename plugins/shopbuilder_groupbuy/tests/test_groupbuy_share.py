"""The share link carries the sharer's referral code when a plugin (distribution) gives one."""

from __future__ import annotations

import types

import pytest
from gb_helpers import group_of, make_customers, pay, start

from shopbuilder import hookimpl
from shopbuilder.extensions import db
from shopbuilder.models import Customer
from shopbuilder.plugins import PluginMeta
from shopbuilder.testing import in_app, login, set_plugin_enabled

referrals = types.ModuleType("referrals")
referrals.meta = PluginMeta(name="referrals", title="Referrals", version="1.0",
                            api_min="1.2")


@hookimpl
def shopbuilder_share_ref(store, customer):
    return f"D{customer.id}"


referrals.shopbuilder_share_ref = shopbuilder_share_ref


@pytest.fixture
def app_config():
    return {"EXTRA_PLUGINS": [referrals]}


def test_share_link_carries_the_sharers_code_only_where_the_plugin_is_on(app, chain, store,
                                                                        shop, client):
    (a,) = make_customers(app, chain, 1)
    with in_app(app):
        customer = db.session.get(Customer, a)
        customer.set_password("secret-pass-1")
        db.session.commit()
        db.session.refresh(customer)
        db.session.expunge(customer)
    order_id = start(app, store, a, shop["campaign_id"])
    pay(app, order_id)
    group_id = group_of(app, order_id)
    login(client, customer, store=store)
    page = client.get(f"/s/{store.slug}/groups/{group_id}")
    assert f"/groups/{group_id}" in page.text and "?ref=" not in page.text
    set_plugin_enabled(app, store, "referrals")
    page = client.get(f"/s/{store.slug}/groups/{group_id}")
    assert f"/groups/{group_id}?ref=D{a}" in page.text
    # A friend who arrives with a code keeps it on the join form.
    anonymous = app.test_client()
    page = anonymous.get(f"/s/{store.slug}/groups/{group_id}?ref=D9")
    assert 'name="ref" value="D9"' in page.text


def test_group_page_speaks_chinese_in_a_zh_cn_chain(app, chain, store, shop, client):
    from shopbuilder.models import Chain

    with in_app(app):
        db.session.get(Chain, chain.id).locale = "zh_CN"
        db.session.commit()
    (a,) = make_customers(app, chain, 1)
    order_id = start(app, store, a, shop["campaign_id"])
    pay(app, order_id)
    page = client.get(f"/s/{store.slug}/groups/{group_of(app, order_id)}")
    assert "还差 2 人" in page.text and "拼团价" in page.text
