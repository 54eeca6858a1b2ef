# ruff: noqa: F811 - fixtures come from distkit
"""The whole story through the pages, as the issue checks it.

A distributor shares a product link; a customer opens it anonymously, signs in,
buys; the clerk takes the money, ships, the order completes; after the
after-sale window the commission is withdrawable; the distributor withdraws, HQ
pays; the ledger verifies.
"""

from __future__ import annotations

from distkit import (  # noqa: F401  (fixtures)
    AFTER_SALE,
    T0,
    _frozen_clock,
    balance,
    chain,
    configure,
    distributor,
    ledger_balance,
    person,
    product_of,
    run_tick,
    shop,
    verify,
)
from shopbuilder_distribution.models import Withdrawal

from shopbuilder.extensions import db
from shopbuilder.models import Order
from shopbuilder.testing import in_app, login, make_staff


def test_shared_link_purchase_settles_and_is_withdrawn(app, chain, store, shop):
    configure(app, chain, withdraw_min_fen=500)
    d_id, code, sharer = distributor(app, chain, store)
    pid = product_of(app, shop["variant_id"])

    dist = app.test_client()
    login(dist, sharer, store=store)
    product_page = dist.get(f"/s/{store.slug}/p/{pid}").text
    assert f"/s/{store.slug}/p/{pid}?ref={code}" in product_page

    buyer = person(app, chain, name="李小红")
    shopper = app.test_client()
    shopper.get(f"/s/{store.slug}/p/{pid}?ref={code}")
    login(shopper, buyer, store=store)
    shopper.post(f"/s/{store.slug}/cart/add", data={"variant_id": shop["variant_id"],
                                                     "quantity": 2})
    placed = shopper.post(f"/s/{store.slug}/checkout", data={
        "fulfilment": "delivery", "payment_provider": "offline", "contact_name": "Li",
        "contact_phone": "13800000000", "address": "1 Lake Road", "idempotency_key": "j1"})
    assert placed.status_code == 302
    with in_app(app):
        order_id = db.session.scalar(db.select(Order.id))

    clerk = make_staff(app, "clerk@north.example.com", chain, store, "clerk")
    staff = app.test_client()
    login(staff, clerk, store=store)
    base = f"/s/{store.slug}/manage/orders/{order_id}"
    staff.post(f"{base}/pay")
    staff.post(f"{base}/ship", data={"tracking_number": "SF1"})
    staff.post(f"{base}/complete", data={"confirm": "1"})
    with in_app(app):
        assert db.session.get(Order, order_id).state == "completed"

    centre = dist.get(f"/s/{store.slug}/distribution/?view=customers").text
    assert "李*红" in centre
    run_tick(app, T0 + AFTER_SALE)
    run_tick(app, T0 + AFTER_SALE)
    assert balance(app, d_id) == 2000  # 10 % of 200 yuan

    asked = dist.post(f"/s/{store.slug}/distribution/withdraw", data={"amount": "20.00"},
                      follow_redirects=True)
    assert "requested" in asked.text
    with in_app(app):
        w_id = db.session.scalar(db.select(Withdrawal.id))
    hq = make_staff(app, "hq@acme.example.com", chain, None, "hq")
    console = app.test_client()
    login(console, hq, chain=chain)
    console.post(f"/hq/{chain.slug}/distribution/withdrawals/{w_id}",
                 data={"decision": "pay", "reference": "WX-2026-1"})
    assert balance(app, d_id) == 0
    assert ledger_balance(app, chain, "payouts") == 2000
    assert ledger_balance(app, chain, f"commission:{d_id}") == 0
    assert verify(app, chain).ok
