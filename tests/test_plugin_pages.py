"""The HQ plugin page (policy, chain settings, locks) and the store's plugin page."""

from __future__ import annotations

import re
import types

import pytest
from wtforms import Form, IntegerField, StringField
from wtforms.validators import Length, NumberRange

from shopbuilder import hookimpl, settings, tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Chain, Store, StorePlugin
from shopbuilder.plugins import PluginMeta, plugin_settings
from shopbuilder.testing import (
    login,
    make_staff,
    plugin_enabled_for,
    set_plugin_enabled,
    set_plugin_policy,
    set_plugin_settings,
)

wrapping = types.ModuleType("wrapping")
wrapping.meta = PluginMeta(
    name="wrapping", title="Gift wrapping", version="1.2", description="Wrap orders as gifts."
)


class WrappingSettings(Form):
    paper = StringField("Paper", default="red", validators=[Length(max=10)])
    fee_fen = IntegerField("Fee (fen)", default=200, validators=[NumberRange(min=0)])


@hookimpl
def shopbuilder_settings_form():
    return WrappingSettings


wrapping.shopbuilder_settings_form = shopbuilder_settings_form


@pytest.fixture
def app_config():
    return {"EXTRA_PLUGINS": [wrapping]}


@pytest.fixture
def client(app):
    """Pages in English (the chain's own language is Chinese) so messages read plainly."""
    test_client = app.test_client()
    test_client.set_cookie("lang", "en")
    return test_client


# email-validator refuses the reserved ``.test`` domain of the kit's staff fixtures.
@pytest.fixture
def hq_user(app, chain):
    return make_staff(app, "hq@acme.example.com", chain, None, "hq")


@pytest.fixture
def manager(app, chain, store):
    return make_staff(app, "manager@north.example.com", chain, store, "manager")


@pytest.fixture
def clerk(app, chain, store):
    return make_staff(app, "clerk@north.example.com", chain, store, "clerk")


def effective(app, store):
    with app.test_request_context(), tenancy.unscoped():
        return plugin_settings("wrapping", db.session.get(Store, store.id))


def test_hq_sets_policy_and_sees_how_many_stores_have_it_on(app, client, chain, store, hq_user):
    login(client, hq_user, chain=chain)
    page = client.get(f"/hq/{chain.slug}/plugins/").get_data(as_text=True)
    assert "Gift wrapping" in page
    response = client.post(
        f"/hq/{chain.slug}/plugins/wrapping/policy", data={"policy": "forced"},
        follow_redirects=True,
    )
    assert "Policy for Gift wrapping saved." in response.get_data(as_text=True)
    assert plugin_enabled_for(app, store, "wrapping")
    page = client.get(f"/hq/{chain.slug}/plugins/").get_data(as_text=True)
    assert '<td class="count">1</td>' in page


def test_hq_page_is_404_for_another_chains_hq(app, client, chain, other_chain, hq_user):
    login(client, hq_user, chain=chain)
    assert client.get(f"/hq/{other_chain.slug}/plugins/").status_code == 404


def test_manager_turns_allowed_plugin_on_and_off_without_losing_settings(
    app, client, store, manager
):
    login(client, manager, store=store)
    page = client.get(f"/s/{store.slug}/manage/plugins/").get_data(as_text=True)
    assert "Gift wrapping" in page and "Turn on" in page
    client.post(f"/s/{store.slug}/manage/plugins/wrapping/toggle", data={"enabled": "on"})
    assert plugin_enabled_for(app, store, "wrapping")
    client.post(f"/s/{store.slug}/manage/plugins/wrapping/settings", data={
        "paper": "gold", "fee_fen": "200"})
    client.post(f"/s/{store.slug}/manage/plugins/wrapping/toggle", data={"enabled": "off"})
    assert not plugin_enabled_for(app, store, "wrapping")
    assert effective(app, store)["paper"] == "gold"


def test_manager_cannot_turn_on_a_plugin_hq_forbids(app, client, chain, store, manager):
    set_plugin_policy(app, chain, "wrapping", "forbidden")
    login(client, manager, store=store)
    assert "Gift wrapping" not in client.get(f"/s/{store.slug}/manage/plugins/").get_data(
        as_text=True)
    response = client.post(
        f"/s/{store.slug}/manage/plugins/wrapping/toggle", data={"enabled": "on"},
        follow_redirects=True,
    )
    assert "HQ has forbidden Gift wrapping." in response.get_data(as_text=True)
    assert not plugin_enabled_for(app, store, "wrapping")


def test_clerk_cannot_reach_the_plugin_page(app, client, store, clerk):
    login(client, clerk, store=store)
    assert client.get(f"/s/{store.slug}/manage/plugins/").status_code == 404


def test_store_settings_show_inherited_overridden_and_locked(
    app, client, chain, store, manager
):
    set_plugin_enabled(app, store, "wrapping")
    set_plugin_settings(app, "wrapping", {"paper": "blue", "fee_fen": 300}, chain=chain,
                        locked={"fee_fen"})
    login(client, manager, store=store)
    url = f"/s/{store.slug}/manage/plugins/wrapping/settings"
    page = client.get(url).get_data(as_text=True)
    assert 'data-source="chain"' in page and 'value="blue"' in page
    assert 'data-source="locked"' in page and "disabled" in page
    # The locked fee is not sent by the browser; the paper is overridden.
    client.post(url, data={"paper": "green"})
    assert effective(app, store) == {"paper": "green", "fee_fen": 300}
    assert 'data-source="store"' in client.get(url).get_data(as_text=True)
    client.post(url, data={"reset": "paper"})
    assert effective(app, store)["paper"] == "blue"


def test_saving_unchanged_values_copies_nothing_so_hq_changes_still_arrive(
    app, client, chain, store, manager
):
    set_plugin_enabled(app, store, "wrapping")
    login(client, manager, store=store)
    client.post(f"/s/{store.slug}/manage/plugins/wrapping/settings",
                data={"paper": "red", "fee_fen": "200"})
    set_plugin_settings(app, "wrapping", {"paper": "silver"}, chain=chain)
    assert effective(app, store)["paper"] == "silver"


def test_invalid_settings_show_the_error_and_keep_old_values(app, client, store, manager):
    set_plugin_enabled(app, store, "wrapping")
    login(client, manager, store=store)
    response = client.post(f"/s/{store.slug}/manage/plugins/wrapping/settings",
                           data={"paper": "x" * 30, "fee_fen": "-5"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Field cannot be longer than 10 characters." in page
    assert "Number must be at least 0." in page
    assert effective(app, store) == {"paper": "red", "fee_fen": 200}


def test_hq_chain_values_and_locks_reach_every_store(app, client, chain, store, other_store,
                                                     hq_user):
    login(client, hq_user, chain=chain)
    client.post(f"/hq/{chain.slug}/plugins/wrapping/settings",
                data={"paper": "jade", "fee_fen": "150", "lock": ["fee_fen"]})
    assert effective(app, store) == {"paper": "jade", "fee_fen": 150}
    assert effective(app, other_store) == {"paper": "jade", "fee_fen": 150}
    page = client.get(f"/hq/{chain.slug}/plugins/wrapping/settings").get_data(as_text=True)
    assert 'value="fee_fen" checked' in page


def test_enabling_writes_one_row_and_copies_no_settings(app, store):
    set_plugin_enabled(app, store, "wrapping")
    with app.app_context(), tenancy.unscoped():
        rows = db.session.scalars(db.select(StorePlugin)).all()
        assert [(r.plugin, r.enabled) for r in rows] == [("wrapping", True)]
        assert "plugin:wrapping" not in (db.session.get(Store, store.id).settings or {})


def test_store_plugin_page_speaks_the_chains_chinese(app, store, manager):
    client = app.test_client()
    login(client, manager, store=store)
    page = client.get(f"/s/{store.slug}/manage/plugins/").get_data(as_text=True)
    assert "插件" in page and "启用" in page


def plugin_hq_pages(app) -> dict[str, list[str]]:
    """``{plugin: [rule]}``: the HQ pages (GET, no argument but the chain) of each plugin."""
    from shopbuilder.plugins import get_host

    owner = get_host(app).blueprint_owner
    pages: dict[str, list[str]] = {}
    for rule in app.url_map.iter_rules():
        plugin = owner.get(rule.endpoint.split(".")[0])
        if (plugin and rule.rule.startswith("/hq/<chain>/") and "GET" in rule.methods
                and rule.arguments == {"chain"}):
            pages.setdefault(plugin, []).append(rule.rule)
    return pages


def test_hq_pages_of_a_plugin_hq_forbids_answer_404_for_that_chain_only(
    app, client, chain, other_chain, hq_user
):
    pages = plugin_hq_pages(app)
    assert {"pickup", "groupbuy", "distribution"} <= set(pages)
    other_hq = make_staff(app, "hq@other.example.com", other_chain, None, "hq")
    for plugin in pages:
        set_plugin_policy(app, chain, plugin, "forbidden")
    login(client, hq_user, chain=chain)
    other_client = app.test_client()
    login(other_client, other_hq, chain=other_chain)
    for rules in pages.values():
        for rule in rules:
            assert client.get(rule.replace("<chain>", chain.slug)).status_code == 404, rule
            url = rule.replace("<chain>", other_chain.slug)
            assert other_client.get(url).status_code == 200, url
    # Allowed again: the pages are back, nothing was deleted.
    set_plugin_policy(app, chain, "pickup", "allowed")
    for rule in pages["pickup"]:
        assert client.get(rule.replace("<chain>", chain.slug)).status_code == 200, rule


def chain_part(app, chain) -> dict:
    with app.app_context(), tenancy.unscoped():
        return (db.session.get(Chain, chain.id).settings or {}).get("plugin:wrapping", {})


def test_hq_saving_a_platform_default_keeps_no_chain_value_so_new_defaults_arrive(
    app, client, chain, store, hq_user
):
    login(client, hq_user, chain=chain)
    url = f"/hq/{chain.slug}/plugins/wrapping/settings"
    client.post(url, data={"paper": "red", "fee_fen": "150"})
    assert chain_part(app, chain)["values"] == {"fee_fen": 150}
    # A later platform default for the paper reaches the chain's stores; HQ's fee stays.
    with app.test_request_context(), tenancy.unscoped():
        row = db.session.get(Store, store.id)
        assert settings.values(row, "plugin:wrapping", {"paper": "gold", "fee_fen": 200}) == {
            "paper": "gold", "fee_fen": 150}
    page = client.get(url).get_data(as_text=True)
    assert re.search(r'id="setting-paper".*?data-source="default"', page, re.S)
    assert re.search(r'id="setting-fee_fen".*?data-source="chain"', page, re.S)


def test_hq_resets_a_chain_value_to_the_platform_default(app, client, chain, store, hq_user):
    login(client, hq_user, chain=chain)
    url = f"/hq/{chain.slug}/plugins/wrapping/settings"
    client.post(url, data={"paper": "blue", "fee_fen": "300", "lock": ["paper"]})
    assert effective(app, store) == {"paper": "blue", "fee_fen": 300}
    page = client.get(url).get_data(as_text=True)
    assert 'name="reset" value="paper"' in page and 'name="reset" value="fee_fen"' in page
    response = client.post(url, data={"reset": "paper"}, follow_redirects=True)
    assert "Paper now follows the platform default." in response.get_data(as_text=True)
    assert effective(app, store) == {"paper": "red", "fee_fen": 300}
    assert chain_part(app, chain) == {"values": {"fee_fen": 300}, "locked": ["paper"]}
    page = client.get(url).get_data(as_text=True)
    assert 'name="reset" value="paper"' not in page
    assert 'value="paper" checked' in page  # the lock stays: every store takes the default
