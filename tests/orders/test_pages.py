"""A customer and a clerk go through the real pages: cart, checkout, pay, ship, refund."""

from __future__ import annotations

import re

import pytest
from order_helpers import load, stock_of
from sqlalchemy import event

from shopbuilder import settings as settings_store
from shopbuilder.extensions import db
from shopbuilder.models import Cart, Order, Store
from shopbuilder.testing import in_app, login


def checkout_form(**extra):
    form = {"fulfilment": "delivery", "payment_provider": "offline", "contact_name": "Lin",
            "contact_phone": "13800000000", "address": "1 Lake Road", "idempotency_key": "k1"}
    form.update(extra)
    return form


def only_order(app):
    with in_app(app):
        rows = db.session.scalars(db.select(Order)).all()
        assert len(rows) == 1
        return rows[0].id, rows[0].number


def test_anonymous_cart_is_kept_at_sign_in_and_checkout_places_one_order(
        app, client, store, customer, variant_id):
    client.post(f"/s/{store.slug}/cart/add", data={"variant_id": variant_id, "quantity": 2})
    assert "Longjing" in client.get(f"/s/{store.slug}/cart").get_data(as_text=True)
    login(client, customer, store=store)
    page = client.get(f"/s/{store.slug}/checkout").get_data(as_text=True)
    assert "Longjing" in page and 'name="idempotency_key"' in page
    first = client.post(f"/s/{store.slug}/checkout", data=checkout_form())
    again = client.post(f"/s/{store.slug}/checkout", data=checkout_form())
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]
    order_id, number = only_order(app)
    assert re.fullmatch(r"N-\d{8}-0001", number)
    assert stock_of(app, store, variant_id) == (10, 2)
    with in_app(app):
        cart = db.session.scalar(db.select(Cart).where(Cart.customer_id == customer.id))
        assert cart.lines == []
    detail = client.get(f"/s/{store.slug}/orders/{number}").get_data(as_text=True)
    assert number in detail and "Awaiting payment" in detail


def test_checkout_without_address_for_delivery_says_so(app, client, store, customer, variant_id):
    login(client, customer, store=store)
    client.post(f"/s/{store.slug}/cart/add", data={"variant_id": variant_id})
    response = client.post(f"/s/{store.slug}/checkout", data=checkout_form(address=""))
    assert response.status_code == 422
    assert "Enter the delivery address." in response.get_data(as_text=True)


def test_clerk_marks_paid_ships_and_refunds_with_confirmation(
        app, client, store, customer, clerk, variant_id):
    login(client, customer, store=store)
    client.post(f"/s/{store.slug}/cart/add", data={"variant_id": variant_id, "quantity": 1})
    client.post(f"/s/{store.slug}/checkout", data=checkout_form())
    order_id, number = only_order(app)
    staff = app.test_client()
    login(staff, clerk, store=store)
    base = f"/s/{store.slug}/manage/orders"
    listing = staff.get(f"{base}/?state=pending_payment").get_data(as_text=True)
    assert number in listing
    staff.post(f"{base}/{order_id}/pay")
    assert load(app, order_id)[0] == "paid"
    page = staff.get(f"{base}/{order_id}").get_data(as_text=True)
    assert "Ship" in page and "Mark paid" not in page
    staff.post(f"{base}/{order_id}/ship", data={"tracking_number": "SF1001"})
    assert load(app, order_id)[0] == "shipped"
    assert stock_of(app, store, variant_id) == (9, 0)
    unconfirmed = staff.post(f"{base}/{order_id}/refund", data={"amount": "5"},
                             follow_redirects=True)
    assert "Tick the box" in unconfirmed.get_data(as_text=True)
    staff.post(f"{base}/{order_id}/refund", data={"amount": "5", "confirm": "1"})
    assert load(app, order_id) == ("shipped", 1280, 500, "committed")
    timeline = staff.get(f"{base}/{order_id}").get_data(as_text=True)
    assert "SF1001" in timeline and "Partly refunded" in timeline


def test_sandbox_payment_page_pays_the_order(app, client, store, customer, variant_id):
    login(client, customer, store=store)
    client.post(f"/s/{store.slug}/cart/add", data={"variant_id": variant_id})
    placed = client.post(f"/s/{store.slug}/checkout",
                         data=checkout_form(payment_provider="sandbox"))
    pay = client.get(placed.headers["Location"])
    assert "/pay/sandbox/" in pay.headers["Location"]
    gateway = pay.headers["Location"]
    assert "Pay" in client.get(gateway).get_data(as_text=True)
    client.post(gateway, data={"outcome": "pay"})
    order_id, _ = only_order(app)
    assert load(app, order_id)[:2] == ("paid", 1280)


def test_a_failed_sandbox_payment_can_be_tried_again_from_the_order_page(
        app, client, store, customer, variant_id):
    login(client, customer, store=store)
    client.post(f"/s/{store.slug}/cart/add", data={"variant_id": variant_id})
    placed = client.post(f"/s/{store.slug}/checkout",
                         data=checkout_form(payment_provider="sandbox"))
    gateway = client.get(placed.headers["Location"]).headers["Location"]
    failed = client.post(gateway, data={"outcome": "fail"}, follow_redirects=True)
    assert "The payment failed. You can try again." in failed.get_data(as_text=True)
    order_id, number = only_order(app)
    page = client.get(f"/s/{store.slug}/orders/{number}").get_data(as_text=True)
    assert "Pay now" in page
    again = client.get(f"/s/{store.slug}/orders/{number}/pay")
    assert again.headers["Location"] == gateway
    client.post(gateway, data={"outcome": "pay"})
    assert load(app, order_id)[:2] == ("paid", 1280)


def test_other_customers_order_is_not_found(app, client, chain, store, customer, variant_id):
    from shopbuilder.testing import make_customer

    login(client, customer, store=store)
    client.post(f"/s/{store.slug}/cart/add", data={"variant_id": variant_id})
    client.post(f"/s/{store.slug}/checkout", data=checkout_form())
    _, number = only_order(app)
    other = app.test_client()
    stranger = make_customer(app, chain, email="other@example.com")
    login(other, stranger, store=store)
    assert other.get(f"/s/{store.slug}/orders/{number}").status_code == 404


def test_other_stores_order_answers_404_in_the_console(
        app, store, other_store, customer, variant_id, chain):
    from shopbuilder.testing import make_staff

    client = app.test_client()
    login(client, customer, store=store)
    client.post(f"/s/{store.slug}/cart/add", data={"variant_id": variant_id})
    client.post(f"/s/{store.slug}/checkout", data=checkout_form())
    order_id, _ = only_order(app)
    south_clerk = make_staff(app, "clerk@south.example.com", chain, other_store, "clerk")
    staff = app.test_client()
    login(staff, south_clerk, store=other_store)
    assert staff.get(f"/s/{other_store.slug}/manage/orders/{order_id}").status_code == 404
    assert staff.post(f"/s/{other_store.slug}/manage/orders/{order_id}/pay").status_code == 404
    assert load(app, order_id)[0] == "pending_payment"


def test_buy_now_places_an_order_without_touching_the_cart(app, client, store, customer,
                                                           variant_id):
    login(client, customer, store=store)
    client.post(f"/s/{store.slug}/cart/add", data={"variant_id": variant_id, "quantity": 1})
    page = client.get(f"/s/{store.slug}/checkout?variant_id={variant_id}&quantity=3")
    assert 'name="variant_id"' in page.get_data(as_text=True)
    placed = client.post(f"/s/{store.slug}/checkout",
                         data=checkout_form(variant_id=variant_id, quantity=3))
    assert placed.status_code == 302
    order_id, _ = only_order(app)
    assert stock_of(app, store, variant_id) == (10, 3)
    with in_app(app):
        cart = db.session.scalar(db.select(Cart).where(Cart.customer_id == customer.id))
        assert [line.quantity for line in cart.lines] == [1]


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_buying_now_writes_the_order_in_one_statement_on_postgresql(
        app, client, store, customer, variant_id):
    """Placing is the shop's busiest write; each PostgreSQL round trip costs it ~0.3 ms.

    PostgreSQL: the number, the order, its four kinds of rows and its stock in one
    statement. SQLite (no round trips) writes them one by one.
    """
    login(client, customer, store=store)
    with app.app_context():
        engine = db.engine
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement.lstrip().split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.post(f"/s/{store.slug}/checkout",
                               data=checkout_form(variant_id=variant_id))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 302
    writes = [s for s in statements if s != "SELECT"]
    if engine.dialect.name == "postgresql":
        assert writes == ["WITH"]
    else:
        assert writes == ["INSERT"] * 6 + ["UPDATE"]
    # The store with its plugin choices and the customer; the variant priced where it is sold.
    assert statements.count("SELECT") == 2, statements
    assert stock_of(app, store, variant_id) == (10, 1)


def test_order_pages_speak_chinese_in_a_chinese_store(app, client, store, customer, variant_id):
    login(client, customer, store=store)
    client.post(f"/s/{store.slug}/cart/add", data={"variant_id": variant_id})
    page = client.get(f"/s/{store.slug}/cart?lang=zh_CN").get_data(as_text=True)
    assert "购物车" in page and "去结算" in page
    client.post(f"/s/{store.slug}/checkout", data=checkout_form())
    _, number = only_order(app)
    detail = client.get(f"/s/{store.slug}/orders/{number}?lang=zh_CN").get_data(as_text=True)
    assert "待付款" in detail and "订单动态" in detail


def test_console_filters_orders_by_state_and_paginates(app, store, customer, clerk, chain):
    from order_helpers import make_listing, place

    variant = make_listing(app, chain, store, stock=100, sku="MANY")
    ids = [place(app, store, customer, variant) for _ in range(27)]
    staff = app.test_client()
    login(staff, clerk, store=store)
    base = f"/s/{store.slug}/manage/orders/"
    first = staff.get(base).get_data(as_text=True)
    assert "1 / 2" in first and "(27)" in first
    assert "(0)" in staff.get(base + "?state=paid").get_data(as_text=True)
    second = staff.get(base + "?page=2").get_data(as_text=True)
    assert second.count("/manage/orders/") >= 2 and len(ids) == 27
    bad = staff.get(base + "?from=yesterday&page=x")
    assert bad.status_code == 200


def test_sandbox_payment_page_wears_the_store_theme(app, client, store, customer, variant_id):
    with in_app(app):
        row = db.session.get(Store, store.id)
        settings_store.set_store_values(row, "theme", {"name": "teahouse"})
        db.session.commit()
    login(client, customer, store=store)
    client.post(f"/s/{store.slug}/cart/add", data={"variant_id": variant_id})
    placed = client.post(f"/s/{store.slug}/checkout",
                         data=checkout_form(payment_provider="sandbox"))
    gateway = client.get(placed.headers["Location"]).headers["Location"]
    page = client.get(gateway).get_data(as_text=True)
    assert '<body class="theme-teahouse' in page
    # The theme's own header (its seal and bottom tabs), not the bare core one.
    assert 'class="th-tabs"' in page and 'class="site-nav"' not in page


def test_account_page_links_to_the_customers_orders(app, client, store, customer):
    login(client, customer, store=store)
    page = client.get(f"/s/{store.slug}/account").get_data(as_text=True)
    # In the page itself: a theme's tab bar (teahouse) has no room for an orders tab.
    main = page.split('<main', 1)[1].split('</main>', 1)[0]
    assert f'href="/s/{store.slug}/orders"' in main
