"""What customers and clerks are told when they act on an order, and what it leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from order_helpers import load, make_listing, payment_of, place

from shopbuilder import clock
from shopbuilder.extensions import db
from shopbuilder.models import LedgerEntry, Order, OrderEvent, Refund
from shopbuilder.services import aftersale, ledger, orders
from shopbuilder.testing import in_app, login

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Hangzhou


def number_of(app, order_id):
    with in_app(app):
        return db.session.get(Order, order_id).number


def kinds(app, order_id):
    with in_app(app):
        return [e.kind for e in db.session.scalars(
            db.select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id))]


def as_pickup(app, order_id):
    with in_app(app):
        db.session.get(Order, order_id).fulfilment_data = {"kind": "pickup"}
        db.session.commit()


def test_customer_cannot_confirm_a_pickup_order_they_never_collected(
        app, client, store, customer, variant_id, act):
    order_id = place(app, store, customer, variant_id)
    as_pickup(app, order_id)
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    act(order_id, lambda o: orders.mark_ready(o, "staff:1"))
    login(client, customer, store=store)
    page = client.post(f"/s/{store.slug}/orders/{number_of(app, order_id)}/confirm",
                       follow_redirects=True).get_data(as_text=True)
    assert "is Ready for pickup, so it cannot be confirmed as received." in page
    assert load(app, order_id)[0] == "ready_for_pickup"


def test_customer_confirms_a_shipped_parcel_and_each_reader_sees_it_in_their_language(
        app, client, store, customer, clerk, variant_id, act):
    order_id = place(app, store, customer, variant_id)
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    act(order_id, lambda o: orders.ship(o, "staff:1", "SF5"))
    login(client, customer, store=store)
    number = number_of(app, order_id)
    done = client.post(f"/s/{store.slug}/orders/{number}/confirm", follow_redirects=True)
    assert "Thank you for confirming." in done.get_data(as_text=True)
    assert load(app, order_id)[0] == "completed"
    english = client.get(f"/s/{store.slug}/orders/{number}").get_data(as_text=True)
    assert "Receipt confirmed by the customer" in english
    chinese = client.get(f"/s/{store.slug}/orders/{number}?lang=zh_CN").get_data(as_text=True)
    assert "顾客已确认收货" in chinese and "Receipt confirmed" not in chinese


def test_approved_request_shows_the_customers_words_without_a_prefix(
        app, client, store, customer, variant_id, act):
    order_id = place(app, store, customer, variant_id, 2)
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    row = act(order_id, lambda o: aftersale.request(o, customer, "refund", "arrived late",
                                                    amount_fen=500).id)
    with in_app(app):
        from shopbuilder.models import AfterSaleRequest

        aftersale.approve(db.session.get(AfterSaleRequest, row), "staff:1")
        reasons = [e.reason for e in db.session.scalars(
            db.select(OrderEvent).where(OrderEvent.kind == "refund"))]
    assert reasons == ["arrived late"]
    login(client, customer, store=store)
    page = client.get(f"/s/{store.slug}/orders/{number_of(app, order_id)}").get_data(
        as_text=True)
    assert "After-sale request" in page and "after-sale:" not in page


def test_marking_a_cancelled_order_paid_is_refused_and_writes_nothing(
        app, store, customer, clerk, variant_id, act):
    order_id = place(app, store, customer, variant_id)
    act(order_id, lambda o: orders.cancel(o, "system", orders.N_("Not paid in time")))
    staff = app.test_client()
    login(staff, clerk, store=store)
    page = staff.post(f"/s/{store.slug}/manage/orders/{order_id}/pay",
                      follow_redirects=True).get_data(as_text=True)
    assert "Marked as paid." not in page
    assert "is Cancelled, so it cannot be marked paid." in page
    assert load(app, order_id)[:3] == ("cancelled", 0, 0)
    assert kinds(app, order_id) == ["placed", "cancel"]
    with in_app(app):
        assert db.session.scalars(db.select(Refund)).all() == []
        assert db.session.scalars(db.select(LedgerEntry)).all() == []
        assert payment_of(app, order_id).state == "pending"


def test_marking_a_paid_order_paid_again_changes_nothing(app, store, customer, variant_id, act):
    order_id = place(app, store, customer, variant_id)
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    assert load(app, order_id)[:2] == ("paid", 1280)
    assert kinds(app, order_id) == ["placed", "pay"]


def test_sandbox_page_says_a_late_payment_went_back(app, client, store, customer, variant_id,
                                                     act):
    order_id = place(app, store, customer, variant_id, provider="sandbox")
    act(order_id, lambda o: orders.cancel(o, "system", orders.N_("Not paid in time")))
    token = payment_of(app, order_id).token
    login(client, customer, store=store)
    page = client.post(f"/s/{store.slug}/pay/sandbox/{token}", data={"outcome": "pay"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Payment received" not in page
    assert "arrived after the order was closed, so it was refunded in full" in page
    with in_app(app):
        assert [r.amount_fen for r in db.session.scalars(db.select(Refund))] == [1280]


def test_console_filters_orders_by_day_and_fulfilment(app, store, customer, clerk, chain):
    variant = make_listing(app, chain, store, stock=100, sku="D")
    with clock.frozen(datetime(2026, 11, 10, 4, tzinfo=UTC)):
        early = place(app, store, customer, variant)
    # 23:30 on the 20th in Hangzhou is still the 20th there (15:30 UTC).
    with clock.frozen(datetime(2026, 11, 20, 15, 30, tzinfo=UTC)):
        late = place(app, store, customer, variant)
    with in_app(app):
        db.session.get(Order, late).fulfilment_code = "pickup"
        db.session.commit()
    early_no, late_no = number_of(app, early), number_of(app, late)
    staff = app.test_client()
    login(staff, clerk, store=store)
    base = f"/s/{store.slug}/manage/orders/"

    def listed(query):
        page = staff.get(base + query).get_data(as_text=True)
        return early_no in page, late_no in page

    assert listed("?from=2026-11-15&to=2026-11-25") == (False, True)
    assert listed("?to=2026-11-10") == (True, False)
    assert listed("?from=2026-11-20&to=2026-11-20") == (False, True)
    assert listed("?fulfilment=pickup") == (False, True)
    assert listed("?fulfilment=delivery") == (True, False)
    page = staff.get(base).get_data(as_text=True)
    assert '<option value="pickup" >Pickup in store</option>' in page
    assert ">pickup<" not in page


def test_timeline_shows_the_shops_local_time(app, client, store, customer, variant_id):
    with clock.frozen(T0):
        order_id = place(app, store, customer, variant_id)
    login(client, customer, store=store)
    page = client.get(f"/s/{store.slug}/orders/{number_of(app, order_id)}").get_data(
        as_text=True)
    timeline = page.split('class="timeline"', 1)[1]
    assert ">2026-11-27 10:00</time>" in timeline


def test_a_ledger_refusal_is_shown_with_its_reason(app, store, customer, clerk, variant_id, act,
                                                   monkeypatch):
    order_id = place(app, store, customer, variant_id)
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))

    def refuse(order, amount_fen, key=""):
        raise ledger.LedgerError("the settled money cannot cover this refund")

    monkeypatch.setattr(ledger, "record_refund", refuse)
    staff = app.test_client()
    login(staff, clerk, store=store)
    page = staff.post(f"/s/{store.slug}/manage/orders/{order_id}/refund",
                      data={"amount": "5", "confirm": "1"},
                      follow_redirects=True).get_data(as_text=True)
    assert "Enter an amount" not in page
    assert "the settled money cannot cover this refund" in page
    assert load(app, order_id)[:3] == ("paid", 1280, 0)


@pytest.mark.parametrize("amount", ["abc", "-3"])
def test_a_refund_amount_that_is_not_money_is_named(app, store, customer, clerk, variant_id,
                                                    act, amount):
    order_id = place(app, store, customer, variant_id)
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    staff = app.test_client()
    login(staff, clerk, store=store)
    page = staff.post(f"/s/{store.slug}/manage/orders/{order_id}/refund",
                      data={"amount": amount, "confirm": "1"},
                      follow_redirects=True).get_data(as_text=True)
    assert "Enter an amount such as 12.80." in page
    assert load(app, order_id)[2] == 0
