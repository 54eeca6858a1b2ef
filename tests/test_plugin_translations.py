"""Plugin names and descriptions speak the chain's language on the plugin pages.

A Chinese store manager once saw "Pay at the counter" and "Sandbox online payment"
next to 分销, 拼团 and 到店自提: the payment providers' ``PluginMeta`` held plain
English. Every installed plugin's title must be a lazy translation with a zh_CN entry.
"""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale

from shopbuilder.plugins import get_host
from shopbuilder.testing import login, make_staff

CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def manager(app, chain, store):
    return make_staff(app, "manager@north.example.com", chain, store, "manager")


@pytest.fixture
def hq_user(app, chain):
    return make_staff(app, "hq@acme.example.com", chain, None, "hq")


def texts(app, name: str, locale: str) -> tuple[str, str]:
    meta = get_host(app).meta[name]
    with app.test_request_context(), force_locale(locale):
        return str(meta.title), str(meta.description)


def installed(app) -> list[str]:
    return get_host(app).names


def test_every_installed_plugins_title_is_chinese_on_the_store_plugin_page(
    app, client, store, manager
):
    login(client, manager, store=store)
    page = client.get(f"/s/{store.slug}/manage/plugins/").get_data(as_text=True)
    assert {"offline", "sandbox"} <= set(installed(app))
    for name in installed(app):
        title, description = texts(app, name, "zh_CN")
        english_title, english_description = texts(app, name, "en")
        assert CHINESE.search(title), f"{name}: title {title!r} has no zh_CN translation"
        assert CHINESE.search(description), f"{name}: description has no zh_CN translation"
        assert title in page and description in page
        assert english_title not in page, f"{name}: the page shows {english_title!r}"


def test_every_installed_plugins_title_is_chinese_on_the_hq_plugin_page(
    app, client, chain, hq_user
):
    login(client, hq_user, chain=chain)
    page = client.get(f"/hq/{chain.slug}/plugins/").get_data(as_text=True)
    for name in installed(app):
        title, _description = texts(app, name, "zh_CN")
        english_title, _ = texts(app, name, "en")
        assert title in page and english_title not in page, name
