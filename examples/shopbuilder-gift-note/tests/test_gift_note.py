"""The gift-note plugin, pip-installed, tested with ShopBuilder's kit (``shopbuilder.testing``).

Nothing here registers the plugin by hand: it is found through its
``shopbuilder.plugins`` entry point, as in a real shop.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from shopbuilder_gift_note.models import GiftNote

from shopbuilder import create_app, tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Store
from shopbuilder.plugins import PluginError, call_money_hook, get_host, render_slot
from shopbuilder.testing import (
    login,
    make_staff,
    make_test_config,
    run_cli,
    set_plugin_settings,
)


@pytest.fixture
def manager(app, chain, store):
    return make_staff(app, "manager@north.example.com", chain, store, "manager")


def slot(app, store, name, **context) -> str:
    with app.test_request_context("/?lang=en"), tenancy.store_scope(store):
        return str(render_slot(name, store=db.session.get(Store, store.id), **context))


def place(app, store, order_id: int, note: str):
    """What the order service does at checkout: validate, then write in the order's transaction."""
    checkout = {"fulfilment": "pickup", "data": {"gift_note": note}}
    with app.test_request_context("/?lang=en"), tenancy.store_scope(store):
        row = db.session.get(Store, store.id)
        problems = call_money_hook("shopbuilder_checkout_validate", row, cart=None,
                                   checkout=checkout)
        if problems:
            return [message for result in problems for message in result]
        call_money_hook("shopbuilder_checkout_placed", row, order=SimpleNamespace(id=order_id),
                        checkout=checkout)
        db.session.commit()
    return []


def test_plugin_is_found_through_its_entry_point(app):
    meta = get_host(app).meta["gift_note"]
    assert meta.version == "1.0.0"
    assert "gift_note" not in get_host(app).refused


def test_slot_appears_in_the_enabling_store_and_not_in_another(
    app, store, other_store, enable_plugin
):
    enable_plugin("gift_note", store)
    assert '<p class="gift-note-hint">' in slot(app, store, "product_below_price")
    assert "Add a gift note to your order" in slot(app, store, "product_below_price")
    assert "/static/plugins/gift_note/gift.svg" in slot(app, store, "product_below_price")
    assert slot(app, other_store, "product_below_price") == ""
    assert 'name="f_gift_note"' in slot(app, store, "checkout_options")
    assert slot(app, other_store, "checkout_options") == ""


def test_plugin_page_answers_only_where_enabled(app, client, store, other_store, enable_plugin):
    enable_plugin("gift_note", store)
    assert client.get(f"/s/{store.slug}/gift-note/").status_code == 200
    assert client.get(f"/s/{other_store.slug}/gift-note/").status_code == 404
    assert client.get("/static/plugins/gift_note/gift.svg").status_code == 200


def test_note_is_kept_with_the_order_and_shown_on_it(app, store, other_store, enable_plugin):
    enable_plugin("gift_note", store)
    assert place(app, store, 41, "Happy birthday, Mei!") == []
    html = slot(app, store, "order_detail", order=SimpleNamespace(id=41))
    assert "Happy birthday, Mei!" in html
    assert "Happy birthday, Mei!" in slot(app, store, "manage_order_detail",
                                          order=SimpleNamespace(id=41))
    # Another store cannot see it, even when asking for the same order id.
    enable_plugin("gift_note", other_store)
    assert slot(app, other_store, "order_detail", order=SimpleNamespace(id=41)) == ""


def test_too_long_note_stops_the_order_with_the_stores_limit(app, chain, store, enable_plugin):
    enable_plugin("gift_note", store)
    set_plugin_settings(app, "gift_note", {"max_length": 10}, store=store)
    assert place(app, store, 7, "x" * 11) == ["A gift note can be at most 10 characters."]
    with app.app_context(), tenancy.unscoped():
        assert db.session.scalar(sa.select(sa.func.count(GiftNote.id))) == 0


def test_hidden_when_turned_off_and_back_when_turned_on(app, store, enable_plugin):
    enable_plugin("gift_note", store)
    place(app, store, 5, "Keep me")
    enable_plugin("gift_note", store, enabled=False)
    assert slot(app, store, "order_detail", order=SimpleNamespace(id=5)) == ""
    enable_plugin("gift_note", store)
    assert "Keep me" in slot(app, store, "order_detail", order=SimpleNamespace(id=5))


def test_settings_form_validates_in_the_store_console(app, client, store, manager, enable_plugin):
    enable_plugin("gift_note", store)
    login(client, manager, store=store)
    url = f"/s/{store.slug}/manage/plugins/gift_note/settings"
    page = client.post(url, data={"max_length": "5000", "prompt": "Note"}).get_data(as_text=True)
    assert "Number must be between 10 and 200." in page
    client.post(url, data={"max_length": "50", "prompt": "Write a card"})
    assert "Write a card" in slot(app, store, "product_below_price")
    assert "up to 50 characters" in slot(app, store, "product_below_price")


def test_a_failing_database_write_aborts_the_checkout(app, store, enable_plugin):
    enable_plugin("gift_note", store)
    with app.test_request_context(), tenancy.store_scope(store):
        row = db.session.get(Store, store.id)
        with pytest.raises(PluginError) as error:
            call_money_hook("shopbuilder_checkout_placed", row, order=None,
                            checkout={"data": {"gift_note": "hi"}})
    assert error.value.plugin_name == "gift_note"


def test_flask_db_upgrade_creates_the_plugin_table(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPBUILDER_INSTANCE_PATH", str(tmp_path))
    url = "sqlite:///" + str(tmp_path / "fresh.sqlite3")
    fresh = create_app(make_test_config(url, str(tmp_path)))
    result = run_cli(fresh, "db", "upgrade")
    assert result.exit_code == 0, result.output
    inspector = sa.inspect(sa.create_engine(url))
    assert {"store", "gift_note"} <= set(inspector.get_table_names())
    assert {c["name"] for c in inspector.get_columns("gift_note")} >= {"order_id", "text"}


def test_hint_speaks_chinese_in_a_chinese_shop(app, store, enable_plugin):
    enable_plugin("gift_note", store)
    with app.test_request_context("/?lang=zh_CN"), tenancy.store_scope(store):
        html = str(render_slot("product_below_price", store=db.session.get(Store, store.id)))
    assert "结账时填写，最多 120 个字" in html


def test_product_hint_lets_the_page_stay_cached_but_the_order_note_does_not(
    app, store, enable_plugin
):
    enable_plugin("gift_note", store)
    place(app, store, 9, "For Lin")
    with app.test_request_context("/?lang=en"), tenancy.store_scope(store):
        row = db.session.get(Store, store.id)
        assert render_slot("product_below_price", store=row).cacheable
        assert not render_slot("order_detail", store=row, order=SimpleNamespace(id=9)).cacheable
