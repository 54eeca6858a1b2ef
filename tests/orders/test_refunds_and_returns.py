"""Refunds happen once per submission; returns put back what came back, never more."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from order_helpers import load, place, stock_of

from shopbuilder import clock
from shopbuilder.extensions import db
from shopbuilder.models import AfterSaleRequest, Order, OrderLine, Refund
from shopbuilder.services import aftersale, ledger, orders
from shopbuilder.services.deadlines import tick
from shopbuilder.testing import in_app, login

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def refunds(app, order_id):
    with in_app(app):
        return [r.amount_fen for r in db.session.scalars(
            db.select(Refund).where(Refund.order_id == order_id).order_by(Refund.id))]


def line_of(app, order_id):
    with in_app(app):
        line = db.session.scalar(db.select(OrderLine).where(OrderLine.order_id == order_id))
        return line.id, line.restocked


@pytest.fixture
def shipped_four(app, store, customer, variant_id, act):
    """Four tins at ¥12.80 shipped (stock 10 -> 6) and received."""
    with clock.frozen(T0):
        order_id = place(app, store, customer, variant_id, 4)
        act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
        act(order_id, lambda o: orders.ship(o, "staff:1", "SF1"))
        act(order_id, lambda o: orders.complete(o, "system"))
    assert stock_of(app, store, variant_id) == (6, 0)
    return order_id


# -- one refund per submission ---------------------------------------------------------------


def test_resubmitted_refund_form_refunds_once(app, store, customer, clerk, variant_id, act):
    order_id = place(app, store, customer, variant_id, 2)
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    staff = app.test_client()
    login(staff, clerk, store=store)
    page = staff.get(f"/s/{store.slug}/manage/orders/{order_id}").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    form = {"amount": "5", "confirm": "1", "idempotency_key": key}
    for _ in range(2):
        staff.post(f"/s/{store.slug}/manage/orders/{order_id}/refund", data=form)
    assert load(app, order_id)[:3] == ("paid", 2560, 500)
    assert refunds(app, order_id) == [500]
    with in_app(app):
        assert ledger.balances(store.chain_id, store.id)[ledger.ESCROW] == 2060
    # The page drawn again carries a new key: a second, deliberate refund goes through.
    page = staff.get(f"/s/{store.slug}/manage/orders/{order_id}").get_data(as_text=True)
    fresh = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    assert fresh != key
    staff.post(f"/s/{store.slug}/manage/orders/{order_id}/refund",
               data={**form, "idempotency_key": fresh})
    assert refunds(app, order_id) == [500, 500]


def test_refund_with_a_key_already_used_changes_nothing(app, store, customer, variant_id, act):
    order_id = place(app, store, customer, variant_id, 2)
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    act(order_id, lambda o: orders.refund(o, "staff:1", 300, idempotency_key="k-1"))
    again = act(order_id,
                lambda o: orders.refund(o, "staff:1", 300, idempotency_key="k-1").id)
    assert again == order_id
    assert refunds(app, order_id) == [300]
    assert load(app, order_id)[2] == 300


# -- returns put back what came back -----------------------------------------------------------


def test_partial_return_puts_back_only_the_returned_units(app, store, variant_id, act,
                                                          shipped_four):
    line_id, _ = line_of(app, shipped_four)
    act(shipped_four, lambda o: orders.refund(o, "staff:1", 1280, "one tin",
                                              restock={line_id: 1}))
    assert stock_of(app, store, variant_id) == (7, 0)
    assert line_of(app, shipped_four) == (line_id, 1)
    assert load(app, shipped_four)[:3] == ("completed", 5120, 1280)
    # A second return later adds to the first.
    act(shipped_four, lambda o: orders.refund(o, "staff:1", 2560, "two more",
                                              restock={line_id: 2}))
    assert stock_of(app, store, variant_id) == (9, 0)
    assert line_of(app, shipped_four) == (line_id, 3)


def test_more_units_back_than_were_sold_is_refused(app, store, variant_id, act, shipped_four):
    line_id, _ = line_of(app, shipped_four)
    act(shipped_four, lambda o: orders.refund(o, "staff:1", 1280, restock={line_id: 3}))
    with pytest.raises(orders.OrderError, match="At most 1 of Longjing"):
        act(shipped_four, lambda o: orders.refund(o, "staff:1", 1280, restock={line_id: 2}))
    assert stock_of(app, store, variant_id) == (9, 0)
    assert load(app, shipped_four)[2] == 1280


def test_partial_refund_must_say_what_comes_back(app, store, variant_id, act, shipped_four):
    with pytest.raises(orders.OrderError, match="Say which goods come back"):
        act(shipped_four, lambda o: orders.refund(o, "staff:1", 1280, restock=True))
    assert stock_of(app, store, variant_id) == (6, 0)
    assert load(app, shipped_four)[2] == 0


def test_full_return_puts_back_what_is_still_out(app, store, variant_id, act, shipped_four):
    line_id, _ = line_of(app, shipped_four)
    act(shipped_four, lambda o: orders.refund(o, "staff:1", 1280, restock={line_id: 1}))
    act(shipped_four, lambda o: orders.refund(o, "staff:1", restock=True))
    assert stock_of(app, store, variant_id) == (10, 0)
    assert load(app, shipped_four) == ("refunded", 5120, 5120, "released")


def test_console_refund_form_restocks_the_units_entered(app, store, clerk, variant_id,
                                                         shipped_four):
    line_id, _ = line_of(app, shipped_four)
    staff = app.test_client()
    login(staff, clerk, store=store)
    base = f"/s/{store.slug}/manage/orders/{shipped_four}"
    page = staff.get(base).get_data(as_text=True)
    assert f'name="restock_{line_id}"' in page
    too_many = staff.post(f"{base}/refund", data={"amount": "12.80", "confirm": "1",
                                                  f"restock_{line_id}": "5"},
                          follow_redirects=True)
    assert "At most 4 of Longjing can come back." in too_many.get_data(as_text=True)
    staff.post(f"{base}/refund", data={"amount": "12.80", "confirm": "1",
                                       f"restock_{line_id}": "1"})
    assert stock_of(app, store, variant_id) == (7, 0)


def test_approved_return_restocks_what_the_customer_sent_back(app, client, store, customer,
                                                               clerk, variant_id, shipped_four):
    line_id, _ = line_of(app, shipped_four)
    with in_app(app):
        number = db.session.get(Order, shipped_four).number
    login(client, customer, store=store)
    with clock.frozen(T0 + timedelta(days=2)):
        client.post(f"/s/{store.slug}/orders/{number}/after-sale",
                    data={"kind": "return", "reason": "two tins were crushed",
                          "amount": "25.60", f"return_{line_id}": "2"})
        with in_app(app):
            row = db.session.scalar(db.select(AfterSaleRequest))
            assert row.return_lines == {str(line_id): 2}
            request_id = row.id
        staff = app.test_client()
        login(staff, clerk, store=store)
        page = staff.get(f"/s/{store.slug}/manage/orders/{shipped_four}").get_data(as_text=True)
        assert f'name="restock_{line_id}" type="number" min="0" max="4" value="2"' in page
        staff.post(f"/s/{store.slug}/manage/orders/after-sale/{request_id}/approve",
                   data={"confirm": "1", f"restock_{line_id}": "2"})
    assert stock_of(app, store, variant_id) == (8, 0)
    assert load(app, shipped_four)[:3] == ("completed", 5120, 2560)


# -- a full refund leaves no request open --------------------------------------------------------


def test_automatic_refund_closes_the_open_after_sale_request(app, store, customer, variant_id,
                                                             act):
    with clock.frozen(T0):
        order_id = place(app, store, customer, variant_id)
        act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
        act(order_id, lambda o: aftersale.request(o, customer, "refund", "changed my mind"))
    with app.app_context():
        tick(T0 + timedelta(days=7))
        db.session.remove()
    assert load(app, order_id)[0] == "refunded"
    with in_app(app):
        row = db.session.scalar(db.select(AfterSaleRequest))
        assert row.state == "closed"
        with pytest.raises(orders.OrderError):  # "This request was already decided."
            aftersale.approve(row, "staff:1")
        assert db.session.get(AfterSaleRequest, row.id).state == "closed"
    assert refunds(app, order_id) == [1280]
