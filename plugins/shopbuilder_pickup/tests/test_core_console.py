"""The core order console acts on pickup orders too: the pickup side keeps in step."""

from __future__ import annotations

import re
from datetime import timedelta

from shopbuilder import clock
from shopbuilder.extensions import db
from shopbuilder.models import Order
from shopbuilder.services import deadlines
from shopbuilder.testing import in_app, login

from .helpers import NOW, code_for, make_goods, order_state, pay, place_pickup, ready_order

WHEN = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")


def number_of(app, order_id):
    with in_app(app):
        return db.session.get(Order, order_id).number


def console_action(app, store, staff, order_id, action, at=NOW, **form):
    client = app.test_client()
    login(client, staff, store=store)
    with clock.frozen(at):
        return client.post(f"/s/{store.slug}/manage/orders/{order_id}/{action}", data=form)


def test_completing_in_the_order_console_closes_the_pickup_everywhere(
        app, chain, pickup_store, customer, clerk, manager, hq_user):
    from shopbuilder_pickup import service

    _p, tea = make_goods(app, chain, [pickup_store], stock=5)
    order_id = ready_order(app, pickup_store, customer, {tea: 2}, clerk)
    code = code_for(app, order_id)
    answer = console_action(app, pickup_store, manager, order_id, "complete",
                            at=NOW + timedelta(hours=2), reason="handed over")
    assert answer.status_code == 302
    assert order_state(app, order_id) == "completed"
    with in_app(app):
        pickup = service.pickup_of(order_id)
        assert (pickup.state, pickup.collected_by) == ("collected", "manager")
        assert pickup.collected_at == NOW + timedelta(hours=2)
        assert pickup.open_code_hash is None
        assert [(line.picked, line.quantity) for line in pickup.lines] == [(2, 2)]

    # The customer no longer sees a code to show, but when it was collected.
    shopper = app.test_client()
    login(shopper, customer, store=pickup_store)
    page = shopper.get(f"/s/{pickup_store.slug}/orders/{number_of(app, order_id)}") \
        .get_data(as_text=True)
    assert "Show this code" not in page and "Collect by" not in page
    assert "Collected on" in page

    # The counter says when and by whom, not "not ready yet".
    counter = app.test_client()
    login(counter, clerk, store=pickup_store)
    again = counter.post(f"/s/{pickup_store.slug}/manage/pickup/verify", data={"code": code})
    refusal = again.get_data(as_text=True)
    assert again.status_code == 409
    assert "Already collected on" in refusal and "manager" in refusal and WHEN.search(refusal)

    # A week later the worker leaves it alone, and HQ counts a pickup, not a no-show.
    with app.test_request_context():
        deadlines.tick(NOW + timedelta(days=8))
        db.session.remove()
    assert order_state(app, order_id) == "completed"
    with in_app(app):
        assert service.pickup_of(order_id).state == "collected"
    hq = app.test_client()
    login(hq, hq_user, chain=chain)
    with clock.frozen(NOW + timedelta(days=8)):
        html = hq.get(f"/hq/{chain.slug}/pickup/").get_data(as_text=True)
    row = html.split('data-store="north"')[1].split("</tr>")[0]
    assert "<td>1</td><td>0</td>" in row and "0.0%" in row


def test_console_completion_appears_in_the_stores_verified_list(
        app, chain, pickup_store, customer, clerk, manager):
    _p, tea = make_goods(app, chain, [pickup_store])
    order_id = ready_order(app, pickup_store, customer, {tea: 1}, clerk)
    console_action(app, pickup_store, manager, order_id, "complete", at=NOW + timedelta(hours=1))
    client = app.test_client()
    login(client, clerk, store=pickup_store)
    with clock.frozen(NOW + timedelta(hours=2)):
        html = client.get(f"/s/{pickup_store.slug}/manage/pickup/").get_data(as_text=True)
    verified = html.split("pickup-verified")[1]
    assert number_of(app, order_id) in verified and "manager" in verified


def test_partly_collected_order_completed_in_the_console_is_fully_handed_over(
        app, chain, pickup_store, customer, clerk, manager):
    from shopbuilder_pickup import service

    _p, tea = make_goods(app, chain, [pickup_store])
    order_id = ready_order(app, pickup_store, customer, {tea: 3}, clerk)
    with in_app(app):
        line_id = service.pickup_of(order_id).lines[0].id
    counter = app.test_client()
    login(counter, clerk, store=pickup_store)
    counter.post(f"/s/{pickup_store.slug}/manage/pickup/verify",
                 data={"code": code_for(app, order_id), "action": "collect",
                       f"qty_{line_id}": 1})
    console_action(app, pickup_store, manager, order_id, "complete")
    with in_app(app):
        pickup = service.pickup_of(order_id)
        assert pickup.state == "collected"
        assert [line.picked for line in pickup.lines] == [3]


def test_mark_ready_in_the_order_console_issues_the_code_and_tells_the_customer(
        app, chain, pickup_store, customer, manager, spy):
    _p, tea = make_goods(app, chain, [pickup_store])
    order_id = place_pickup(app, pickup_store, customer, {tea: 1})
    pay(app, pickup_store, order_id)
    assert code_for(app, order_id) is None
    answer = console_action(app, pickup_store, manager, order_id, "mark_ready")
    assert answer.status_code == 302
    assert order_state(app, order_id) == "ready_for_pickup"
    code = code_for(app, order_id)
    assert code is not None and len(code) == 12
    # The core told the customer of the payment; the plugin tells them the code.
    assert [event for _store, _email, event, _context in spy.sent] == ["order_paid", "order_ready"]
    shopper = app.test_client()
    login(shopper, customer, store=pickup_store)
    page = shopper.get(f"/s/{pickup_store.slug}/orders/{number_of(app, order_id)}") \
        .get_data(as_text=True)
    assert "Show this code" in page and "<svg" in page


def test_notifications_carry_the_order_as_well_as_its_number(
        app, chain, pickup_store, customer, clerk, spy):
    _p, tea = make_goods(app, chain, [pickup_store])
    order_id = ready_order(app, pickup_store, customer, {tea: 1}, clerk)
    (_store, email, event, context), = [sent for sent in spy.sent if sent[2] == "order_ready"]
    assert (email, event) == (customer.email, "order_ready")
    assert context["order"].number == context["order_number"] == number_of(app, order_id)
    assert context["order_id"] == order_id and context["pickup_code"] == code_for(app, order_id)


def test_worker_counts_a_completed_order_whose_pickup_missed_it_as_collected(
        app, chain, pickup_store, customer, clerk, manager):
    from sqlalchemy import update

    from shopbuilder_pickup import service
    from shopbuilder_pickup.models import PickupOrder

    _p, tea = make_goods(app, chain, [pickup_store])
    order_id = ready_order(app, pickup_store, customer, {tea: 1}, clerk)
    console_action(app, pickup_store, manager, order_id, "complete")
    with in_app(app):  # as if the completion hook had failed: the pickup still looks ready
        db.session.execute(update(PickupOrder).values(state="ready", collected_by=""))
        db.session.commit()
    with app.test_request_context():
        deadlines.tick(NOW + timedelta(days=8))
        db.session.remove()
    with in_app(app):
        order = db.session.get(Order, order_id)
        assert (order.state, order.refunded_fen) == ("completed", 0)
        pickup = service.pickup_of(order_id)
        assert (pickup.state, pickup.collected_by) == ("collected", "manager")
