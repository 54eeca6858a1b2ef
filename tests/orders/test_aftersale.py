"""After-sale: the customer asks within the window, the store or HQ decides, approval refunds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from order_helpers import load, place, stock_of

from shopbuilder import clock
from shopbuilder.extensions import db
from shopbuilder.models import AfterSaleRequest, Order
from shopbuilder.services import orders
from shopbuilder.testing import in_app, login

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


@pytest.fixture
def completed(app, store, customer, variant_id, act):
    with clock.frozen(T0):
        order_id = place(app, store, customer, variant_id, 2)
        act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
        act(order_id, lambda o: orders.ship(o, "staff:1", "SF1"))
        act(order_id, lambda o: orders.complete(o, "customer:1"))
    with in_app(app):
        return order_id, db.session.get(Order, order_id).number


def ask(client, store, number, **form):
    data = {"kind": "return", "reason": "leaves are stale"}
    data.update(form)
    return client.post(f"/s/{store.slug}/orders/{number}/after-sale", data=data,
                       follow_redirects=True)


def the_request(app):
    with in_app(app):
        row = db.session.scalar(db.select(AfterSaleRequest))
        return (row.id, row.state, row.amount_fen) if row else None


def test_store_approves_a_return_refunds_and_restocks(app, client, store, customer, clerk,
                                                      variant_id, completed):
    order_id, number = completed
    login(client, customer, store=store)
    with clock.frozen(T0 + timedelta(days=3)):
        page = ask(client, store, number).get_data(as_text=True)
        assert "Your request was sent to the store." in page
        request_id, state, amount = the_request(app)
        assert (state, amount) == ("open", 2560)
        staff = app.test_client()
        login(staff, clerk, store=store)
        staff.post(f"/s/{store.slug}/manage/orders/after-sale/{request_id}/approve",
                   data={"restock": "1", "confirm": "1"})
    assert the_request(app)[1] == "approved"
    assert load(app, order_id) == ("refunded", 2560, 2560, "released")
    assert stock_of(app, store, variant_id) == (10, 0)


def test_request_after_the_window_is_refused(app, client, store, customer, completed):
    order_id, number = completed
    login(client, customer, store=store)
    with clock.frozen(T0 + timedelta(days=8)):
        page = ask(client, store, number).get_data(as_text=True)
    assert "can no longer have an after-sale request" in page
    assert the_request(app) is None


def test_partial_refund_request_keeps_the_order_completed(app, client, store, customer,
                                                          completed):
    order_id, number = completed
    login(client, customer, store=store)
    with clock.frozen(T0 + timedelta(days=1)):
        ask(client, store, number, kind="refund", amount="3.00")
        request_id, _, amount = the_request(app)
        assert amount == 300
        with in_app(app):
            from shopbuilder.services import aftersale

            aftersale.approve(db.session.get(AfterSaleRequest, request_id), "staff:1")
    assert load(app, order_id) == ("completed", 2560, 300, "committed")


def test_hq_steps_in_and_a_decided_request_stays_decided(app, client, store, customer, hq_user,
                                                         chain, completed):
    order_id, number = completed
    login(client, customer, store=store)
    with clock.frozen(T0 + timedelta(days=2)):
        ask(client, store, number)
        request_id, _, _ = the_request(app)
        hq = app.test_client()
        login(hq, hq_user, chain=chain)
        listing = hq.get(f"/hq/{chain.slug}/after-sales/").get_data(as_text=True)
        assert number in listing
        hq.post(f"/hq/{chain.slug}/after-sales/{request_id}/reject",
                data={"note": "photos show it unopened"})
        again = hq.post(f"/hq/{chain.slug}/after-sales/{request_id}/approve",
                        data={"confirm": "1"}, follow_redirects=True)
    assert "already decided" in again.get_data(as_text=True)
    assert the_request(app)[1] == "rejected"
    assert load(app, order_id)[0] == "completed"


def test_hq_of_another_chain_cannot_see_the_request(app, client, store, customer, completed,
                                                    other_chain):
    from shopbuilder.testing import make_staff

    order_id, number = completed
    login(client, customer, store=store)
    with clock.frozen(T0 + timedelta(days=2)):
        ask(client, store, number)
    request_id, _, _ = the_request(app)
    rival = make_staff(app, "hq@rival.example.com", other_chain, None, "hq")
    hq = app.test_client()
    login(hq, rival, chain=other_chain)
    assert number not in hq.get(f"/hq/{other_chain.slug}/after-sales/").get_data(as_text=True)
    response = hq.post(f"/hq/{other_chain.slug}/after-sales/{request_id}/approve",
                       data={"confirm": "1"})
    assert response.status_code == 404
    assert the_request(app)[1] == "open"
