"""From a paid pickup order to goods handed over at the counter (核销), and what goes wrong."""

from __future__ import annotations

import re

import pytest

from shopbuilder import clock
from shopbuilder.extensions import db
from shopbuilder.models import Order, StoreListing
from shopbuilder.services import orders
from shopbuilder.testing import in_app, login, make_chain, make_staff, make_store
from shopbuilder_pickup import codes, service
from shopbuilder_pickup.models import PickupLine, PickupOrder

from .helpers import (
    NOW,
    code_for,
    in_store,
    make_goods,
    order_state,
    pay,
    place_pickup,
    prepare,
    prepare_store,
    ready_order,
)


def verify(client, store, code, action="lookup", **quantities):
    data = {"code": code, "action": action, **quantities}
    return client.post(f"/s/{store.slug}/manage/pickup/verify", data=data)


def number_of(app, order_id):
    with in_app(app):
        return db.session.get(Order, order_id).number


def test_customer_sees_code_and_qr_once_the_clerk_prepared_the_order(
        app, chain, pickup_store, customer, clerk, spy):
    _p, variant = make_goods(app, chain, [pickup_store])
    order_id = place_pickup(app, pickup_store, customer, {variant: 2})
    pay(app, pickup_store, order_id)
    shopper = app.test_client()
    login(shopper, customer, store=pickup_store)
    page = shopper.get(f"/s/{pickup_store.slug}/orders/{number_of(app, order_id)}")
    assert "pickup code appears here" in page.get_data(as_text=True)

    counter = app.test_client()
    login(counter, clerk, store=pickup_store)
    with in_app(app):
        pickup_id = service.pickup_of(order_id).id
    with clock.frozen(NOW):
        done = counter.post(f"/s/{pickup_store.slug}/manage/pickup/{pickup_id}/prepare")
    assert done.status_code == 302
    assert order_state(app, order_id) == "ready_for_pickup"
    assert [e[2] for e in spy.sent] == ["order_paid", "order_ready"]

    html = shopper.get(f"/s/{pickup_store.slug}/orders/{number_of(app, order_id)}").get_data(
        as_text=True)
    code = code_for(app, order_id)
    assert len(code) >= 10 and code.isdigit()
    assert codes.display(code) in html
    assert "<svg" in html


def test_code_is_stored_only_as_a_keyed_hash(app, chain, pickup_store, customer, clerk):
    _p, variant = make_goods(app, chain, [pickup_store])
    order_id = ready_order(app, pickup_store, customer, {variant: 1}, clerk)
    code = code_for(app, order_id)
    with in_app(app):
        row = service.pickup_of(order_id)
        stored = [str(v) for v in (row.code_hash, row.open_code_hash, row.code_nonce)]
    assert all(code not in value for value in stored)


def test_clerk_verifies_by_typed_code_and_a_second_attempt_is_refused(
        app, chain, pickup_store, customer, clerk):
    _p, variant = make_goods(app, chain, [pickup_store], stock=5)
    order_id = ready_order(app, pickup_store, customer, {variant: 2}, clerk)
    code = code_for(app, order_id)
    counter = app.test_client()
    login(counter, clerk, store=pickup_store)

    shown = verify(counter, pickup_store, codes.display(code))
    assert shown.status_code == 200
    html = shown.get_data(as_text=True)
    assert "Longjing" in html and number_of(app, order_id) in html
    line_id = int(re.search(r'name="qty_(\d+)"', html).group(1))

    done = verify(counter, pickup_store, code, "collect", **{f"qty_{line_id}": 2})
    assert done.status_code == 302
    assert order_state(app, order_id) == "completed"
    with in_app(app):
        listing = db.session.query(StoreListing).one()
        assert (listing.stock_on_hand, listing.reserved) == (3, 0)

    again = verify(counter, pickup_store, code)
    assert again.status_code == 409
    text = again.get_data(as_text=True)
    assert "Already collected on" in text and "clerk" in text


def test_qr_token_verifies_like_the_code_and_a_forged_one_does_not(
        app, chain, pickup_store, customer, clerk):
    _p, variant = make_goods(app, chain, [pickup_store])
    order_id = ready_order(app, pickup_store, customer, {variant: 1}, clerk)
    counter = app.test_client()
    login(counter, clerk, store=pickup_store)
    with app.test_request_context():
        token = codes.qr_token(code_for(app, order_id))
    assert verify(counter, pickup_store, token).status_code == 200
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert verify(counter, pickup_store, forged).status_code == 404


def test_partial_pickup_completes_the_order_when_everything_is_collected(
        app, chain, pickup_store, customer, clerk):
    _p, tea = make_goods(app, chain, [pickup_store])
    _p2, cups = make_goods(app, chain, [pickup_store], sku="CUP", title="Cup")
    order_id = ready_order(app, pickup_store, customer, {tea: 3, cups: 1}, clerk)
    code = code_for(app, order_id)
    with in_app(app):
        lines = {pl.order_line.title: pl.id for pl in service.pickup_of(order_id).lines}
    counter = app.test_client()
    login(counter, clerk, store=pickup_store)

    verify(counter, pickup_store, code, "collect",
           **{f"qty_{lines['Longjing']}": 1, f"qty_{lines['Cup']}": 1})
    assert order_state(app, order_id) == "ready_for_pickup"
    html = verify(counter, pickup_store, code).get_data(as_text=True)
    assert f'name="qty_{lines["Longjing"]}" min="0" max="2"' in html

    too_many = verify(counter, pickup_store, code, "collect", **{f"qty_{lines['Longjing']}": 3})
    assert too_many.status_code == 422
    verify(counter, pickup_store, code, "collect", **{f"qty_{lines['Longjing']}": 2})
    assert order_state(app, order_id) == "completed"
    with in_app(app):
        assert [pl.picked for pl in db.session.query(PickupLine).order_by(PickupLine.id)] == [3, 1]


def test_clerk_of_another_store_is_told_it_is_not_their_order(
        app, chain, pickup_store, other_store, customer, clerk):
    prepare_store(app, other_store)
    from shopbuilder.testing import set_plugin_enabled

    set_plugin_enabled(app, other_store, "pickup")
    _p, variant = make_goods(app, chain, [pickup_store])
    order_id = ready_order(app, pickup_store, customer, {variant: 1}, clerk)
    code = code_for(app, order_id)
    stranger = make_staff(app, "clerk@south.test", chain, other_store, "clerk")
    counter = app.test_client()
    login(counter, stranger, store=other_store)
    answer = verify(counter, other_store, code)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 404
    assert "not for an order of this store" in text
    assert number_of(app, order_id) not in text and "Longjing" not in text
    assert order_state(app, order_id) == "ready_for_pickup"


def test_code_of_another_chain_is_unknown(app, chain, pickup_store, customer, clerk):
    _p, variant = make_goods(app, chain, [pickup_store])
    order_id = ready_order(app, pickup_store, customer, {variant: 1}, clerk)
    rival = make_chain(app, "rival", "Rival Tea")
    rival_store = make_store(app, rival, "rival-one")
    prepare_store(app, rival_store)
    from shopbuilder.testing import set_plugin_enabled

    set_plugin_enabled(app, rival_store, "pickup")
    rival_clerk = make_staff(app, "clerk@rival.test", rival, rival_store, "clerk")
    counter = app.test_client()
    login(counter, rival_clerk, store=rival_store)
    answer = verify(counter, rival_store, code_for(app, order_id))
    assert answer.status_code == 404
    assert "No order has this code" in answer.get_data(as_text=True)


def test_held_group_order_cannot_be_prepared_until_released(
        app, chain, pickup_store, customer, clerk):
    _p, variant = make_goods(app, chain, [pickup_store])
    order_id = place_pickup(app, pickup_store, customer, {variant: 1})
    pay(app, pickup_store, order_id)
    with in_store(app, pickup_store):
        orders.hold(db.session.get(Order, order_id), reason="group not full")
    with pytest.raises(orders.InvalidTransition):
        prepare(app, pickup_store, order_id, clerk)
    assert code_for(app, order_id) is None
    with in_store(app, pickup_store):
        orders.release_hold(db.session.get(Order, order_id))
    prepare(app, pickup_store, order_id, clerk)
    assert order_state(app, order_id) == "ready_for_pickup"
    assert code_for(app, order_id) is not None


def test_unpaid_order_cannot_be_prepared(app, chain, pickup_store, customer, clerk):
    _p, variant = make_goods(app, chain, [pickup_store])
    order_id = place_pickup(app, pickup_store, customer, {variant: 1})
    with pytest.raises(orders.InvalidTransition):
        prepare(app, pickup_store, order_id, clerk)


def test_open_codes_are_distinct(app, chain, pickup_store, customer, clerk):
    _p, variant = make_goods(app, chain, [pickup_store], stock=50)
    ids = [ready_order(app, pickup_store, customer, {variant: 1}, clerk) for _ in range(5)]
    found = {code_for(app, i) for i in ids}
    assert len(found) == 5
    with in_app(app):
        assert db.session.query(PickupOrder).filter(PickupOrder.state == "ready").count() == 5


def test_counter_and_customer_pages_speak_chinese(app, chain, pickup_store, customer, clerk):
    _p, variant = make_goods(app, chain, [pickup_store])
    order_id = ready_order(app, pickup_store, customer, {variant: 1}, clerk)
    code = code_for(app, order_id)
    shopper = app.test_client()
    shopper.set_cookie("lang", "zh_CN")
    login(shopper, customer, store=pickup_store)
    page = shopper.get(f"/s/{pickup_store.slug}/orders/{number_of(app, order_id)}")
    assert "请在柜台出示提货码" in page.get_data(as_text=True)
    counter = app.test_client()
    counter.set_cookie("lang", "zh_CN")
    login(counter, clerk, store=pickup_store)
    assert "扫码核销" in counter.get(f"/s/{pickup_store.slug}/manage/pickup/verify").get_data(
        as_text=True)
    with in_app(app):
        line_id = service.pickup_of(order_id).lines[0].id
    verify(counter, pickup_store, code, "collect", **{f"qty_{line_id}": 1})
    refusal = verify(counter, pickup_store, code).get_data(as_text=True)
    assert "已于" in refusal and "核销（订单" in refusal


@pytest.fixture
def app_config(spy):
    return {"EXTRA_PLUGINS": [spy]}
