"""Pickup slots at checkout: built from opening hours, full ones refused, only where enabled."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shopbuilder import clock
from shopbuilder.extensions import db
from shopbuilder.models import Order, Store
from shopbuilder.services import orders
from shopbuilder.testing import in_app, login, set_plugin_enabled, set_plugin_settings
from shopbuilder_pickup import slots
from shopbuilder_pickup.models import PickupOrder, PickupSlot

from .helpers import NOW, first_key, in_store, make_goods, place_pickup, prepare_store


def test_slots_follow_opening_hours_lead_time_and_closed_days(app, chain, pickup_store):
    set_plugin_settings(app, "pickup", {"slot_minutes": 60, "lead_minutes": 90, "days_ahead": 1,
                                        "closed_dates": "2026-11-28"}, chain=chain)
    with in_store(app, pickup_store) as row:
        found = slots.available_slots(row)
    local = [s.local_start.strftime("%m-%d %H:%M") for s in found]
    # Now is 09:00 on the 27th: 90 minutes to prepare -> 11:00 is the first whole slot.
    assert local[0] == "11-27 11:00"
    assert local[-1] == "11-27 20:00"  # the last slot ends at closing time
    assert not any(t.startswith("11-28") for t in local)  # a closed day has no slots


def test_store_override_beats_chain_value_and_lock_beats_store(app, chain, pickup_store):
    set_plugin_settings(app, "pickup", {"capacity": 5}, chain=chain)
    set_plugin_settings(app, "pickup", {"capacity": 2}, store=pickup_store)
    with in_store(app, pickup_store) as row:
        assert slots.config(row)["capacity"] == 2
    set_plugin_settings(app, "pickup", {"capacity": 7}, chain=chain, locked=["capacity"])
    with in_store(app, pickup_store) as row:
        assert slots.config(row)["capacity"] == 7


def test_checkout_offers_pickup_where_enabled_only(app, chain, pickup_store, other_store):
    prepare_store(app, other_store)
    with in_store(app, pickup_store) as row:
        codes_here = [o.code for o in orders.fulfilment_options(row, None)]
    with in_store(app, other_store) as row:
        codes_there = [o.code for o in orders.fulfilment_options(row, None)]
    assert "pickup" in codes_here
    assert "pickup" not in codes_there


def test_store_without_opening_hours_offers_no_pickup(app, chain, store):
    set_plugin_enabled(app, store, "pickup")
    with in_store(app, store) as row:
        assert "pickup" not in [o.code for o in orders.fulfilment_options(row, None)]


def test_full_slot_cannot_be_chosen(app, chain, pickup_store, customer):
    set_plugin_settings(app, "pickup", {"capacity": 1}, chain=chain)
    _product, variant = make_goods(app, chain, [pickup_store])
    place_pickup(app, pickup_store, customer, {variant: 1})
    with in_store(app, pickup_store) as row:
        slot = slots.find_slot(row, first_key())
        assert slot.full
        problems = orders.call_money_hook(
            "shopbuilder_checkout_validate", row, cart=None,
            checkout={"fulfilment": "pickup", "data": {"pickup_slot": first_key()}})
    assert any("full" in str(p) for result in problems for p in result)
    with pytest.raises(orders.CheckoutError) as refused:
        place_pickup(app, pickup_store, customer, {variant: 1})
    assert "full" in str(refused.value)


def test_checkout_page_shows_slots_and_marks_full_ones(app, client, chain, pickup_store,
                                                        customer):
    set_plugin_settings(app, "pickup", {"capacity": 1}, chain=chain)
    _product, variant = make_goods(app, chain, [pickup_store])
    place_pickup(app, pickup_store, customer, {variant: 1})
    login(client, customer, store=pickup_store)
    with clock.frozen(NOW):
        client.post(f"/s/{pickup_store.slug}/cart/add", data={"variant_id": variant})
        html = client.get(f"/s/{pickup_store.slug}/checkout").get_data(as_text=True)
    assert 'name="f_pickup_slot"' in html
    assert f'value="{first_key()}" disabled' in html
    assert f'value="{first_key(3)}" ' in html


def test_missing_or_past_slot_is_refused(app, chain, pickup_store, customer):
    _product, variant = make_goods(app, chain, [pickup_store])
    past = (NOW - timedelta(hours=1)).strftime(slots.KEY_FORMAT)
    for key in (past, "nonsense"):
        with pytest.raises(orders.CheckoutError):
            place_pickup(app, pickup_store, customer, {variant: 1}, key=key)
    with in_app(app):
        assert db.session.query(Order).count() == 0


def test_cancelled_order_gives_its_slot_back(app, chain, pickup_store, customer):
    _product, variant = make_goods(app, chain, [pickup_store])
    order_id = place_pickup(app, pickup_store, customer, {variant: 1})
    with in_store(app, pickup_store):
        orders.cancel(db.session.get(Order, order_id), "system", "test")
    with in_app(app):
        assert db.session.query(PickupSlot).one().booked == 0
        assert db.session.query(PickupOrder).one().state == "cancelled"
        assert db.session.get(Store, pickup_store.id) is not None


def test_manager_overrides_settings_in_the_console_within_hq_locks(app, chain, pickup_store):
    from shopbuilder.testing import make_staff

    set_plugin_settings(app, "pickup", {"lead_minutes": 30}, chain=chain, locked=["lead_minutes"])
    boss = make_staff(app, "boss@north.test", chain, pickup_store, "manager")
    client = app.test_client()
    login(client, boss, store=pickup_store)
    url = f"/s/{pickup_store.slug}/manage/plugins/pickup/settings"
    form = {"slot_minutes": "20", "capacity": "4", "lead_minutes": "0", "days_ahead": "2",
            "closed_dates": "2026-12-25", "reminder_hours": "12"}
    assert client.post(url, data=form).status_code == 302
    with in_store(app, pickup_store) as row:
        cfg = slots.config(row)
    assert (cfg["capacity"], cfg["slot_minutes"], cfg["lead_minutes"]) == (4, 20, 30)
    bad = client.post(url, data={**form, "closed_dates": "Christmas"})
    assert bad.status_code == 200 and "2026-02-10" in bad.get_data(as_text=True)
