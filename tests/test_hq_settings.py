"""HQ sets the chain's order deadlines and royalty rate on /hq/<chain>/settings."""

from __future__ import annotations

from shopbuilder import settings, tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Chain, Store
from shopbuilder.services.orders import DEADLINE_DEFAULTS, deadline_values
from shopbuilder.testing import login

GOOD = {"pay_minutes": "45", "fulfil_days": "3", "pickup_days": "5", "confirm_days": "10",
        "after_sale_days": "14", "royalty": "5.5"}


def reload(app, chain, store):
    with app.app_context(), tenancy.unscoped():
        row = db.session.get(Chain, chain.id)
        shop = db.session.get(Store, store.id)
        return (row.royalty_bp, settings.locked_keys(row, "deadlines"),
                deadline_values(shop), settings.chain_values(row, "deadlines"))


def test_hq_sees_the_platform_defaults_and_the_current_royalty(client, chain, hq_user):
    login(client, hq_user, chain=chain)
    html = client.get(f"/hq/{chain.slug}/settings", query_string={"lang": "en"}).get_data(
        as_text=True)
    assert 'name="pay_minutes" value="30"' in html
    assert 'name="after_sale_days" value="7"' in html
    assert 'name="royalty" value="0"' in html


def test_hq_saves_deadlines_locks_and_royalty_and_stores_inherit_them(
        app, client, chain, store, hq_user):
    login(client, hq_user, chain=chain)
    response = client.post(f"/hq/{chain.slug}/settings", query_string={"lang": "en"},
                           data={**GOOD, "lock_after_sale_days": "1"})
    assert response.status_code == 302
    royalty_bp, locked, effective, _ = reload(app, chain, store)
    assert royalty_bp == 550
    assert locked == {"after_sale_days"}
    assert effective == {"pay_minutes": 45, "fulfil_days": 3, "pickup_days": 5,
                         "confirm_days": 10, "after_sale_days": 14}
    page = client.get(f"/hq/{chain.slug}/settings", query_string={"lang": "en"})
    html = page.get_data(as_text=True)
    assert "Deadlines and money rules saved." in html
    assert 'name="royalty" value="5.5"' in html
    assert 'name="lock_after_sale_days" value="1" checked' in html


def test_a_later_platform_default_reaches_a_chain_that_saved_the_form_unchanged(
        app, client, chain, store, hq_user, monkeypatch):
    login(client, hq_user, chain=chain)
    unchanged = {"pay_minutes": "30", "fulfil_days": "7", "pickup_days": "7",
                 "confirm_days": "20", "after_sale_days": "7", "royalty": "0"}
    client.post(f"/hq/{chain.slug}/settings", data={**unchanged, "pay_minutes": "45"})
    assert reload(app, chain, store)[3] == {"pay_minutes": 45}  # only what HQ changed
    monkeypatch.setitem(DEADLINE_DEFAULTS, "pickup_days", 10)  # a new platform release
    assert reload(app, chain, store)[2]["pickup_days"] == 10
    html = client.get(f"/hq/{chain.slug}/settings").get_data(as_text=True)
    assert 'name="pickup_days" value="10"' in html


def test_a_locked_deadline_beats_a_stores_own_value(app, client, chain, store, hq_user):
    with app.app_context(), tenancy.unscoped():
        settings.set_store_values(db.session.get(Store, store.id), "deadlines",
                                  {"pickup_days": 2})
        db.session.commit()
    login(client, hq_user, chain=chain)
    html = client.get(f"/hq/{chain.slug}/settings", query_string={"lang": "en"}).get_data(
        as_text=True)
    assert "1 stores use their own value." in html
    client.post(f"/hq/{chain.slug}/settings", data={**GOOD, "lock_pickup_days": "1"})
    assert reload(app, chain, store)[2]["pickup_days"] == 5


def test_bad_input_is_refused_with_a_message_and_nothing_is_saved(
        app, client, chain, store, hq_user):
    login(client, hq_user, chain=chain)
    for field, bad, message in [
        ("royalty", "abc", "Enter a percentage such as 5 or 5.5."),
        ("royalty", "60", "The royalty must be between 0% and 50%."),
        ("royalty", "-1", "The royalty must be between 0% and 50%."),
        ("royalty", "5.555", "at most two decimals"),
        ("pay_minutes", "0", "Enter a number from 5 to 1440."),
        ("fulfil_days", "2.5", "Enter a whole number."),
        ("confirm_days", "", "Enter a whole number."),
    ]:
        response = client.post(f"/hq/{chain.slug}/settings", query_string={"lang": "en"},
                               data={**GOOD, field: bad})
        html = response.get_data(as_text=True)
        assert response.status_code == 400, (field, bad)
        assert message in html, (field, bad)
        assert f'name="{field}" value="{bad}"' in html  # what was typed stays in the form
    royalty_bp, locked, _, chain_values = reload(app, chain, store)
    assert royalty_bp == 0 and not locked and chain_values == {}


def test_only_hq_opens_the_settings_page(client, chain, store, manager):
    login(client, manager, store=store)
    response = client.get(f"/hq/{chain.slug}/settings")
    assert response.status_code in (302, 403, 404)
    assert client.post(f"/hq/{chain.slug}/settings", data=GOOD).status_code in (302, 403, 404)
