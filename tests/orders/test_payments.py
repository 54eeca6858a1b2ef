"""Sandbox callbacks: forged, stale, replayed or wrong amounts are refused; late money returns."""

from __future__ import annotations

from datetime import timedelta

import pytest
from order_helpers import load, payment_of, place, stock_of

from shopbuilder import clock
from shopbuilder.extensions import db
from shopbuilder.models import Refund
from shopbuilder.payments import sandbox
from shopbuilder.services import ledger, orders
from shopbuilder.testing import in_app

#: These run on both databases (the PostgreSQL half needs a reachable server).
pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


def notify(app, client, store, payment, status="SUCCESS", **kwargs):
    with app.test_request_context():
        body, headers = sandbox.build_notification(payment, status, **kwargs)
    return client.post(f"/s/{store.slug}/pay/sandbox/notify", data=body, headers=headers), \
        (body, headers)


@pytest.fixture
def sandbox_order(app, store, customer, variant_id):
    order_id = place(app, store, customer, variant_id, 2, provider="sandbox")
    return order_id, payment_of(app, order_id)


def test_genuine_callback_pays_once_even_when_repeated(app, client, store, sandbox_order):
    order_id, payment = sandbox_order
    first, _ = notify(app, client, store, payment)
    assert first.status_code == 200 and first.get_json()["code"] == "SUCCESS"
    again, _ = notify(app, client, store, payment)
    assert again.status_code == 200
    assert load(app, order_id)[:2] == ("paid", 2560)
    with in_app(app):
        assert ledger.balances(store.chain_id, store.id)[ledger.ESCROW] == 2560


def test_forged_signature_is_refused(app, client, store, sandbox_order):
    order_id, payment = sandbox_order
    with app.test_request_context():
        body, headers = sandbox.build_notification(payment, "SUCCESS")
    headers["X-Sandbox-Signature"] = "0" * 64
    response = client.post(f"/s/{store.slug}/pay/sandbox/notify", data=body, headers=headers)
    assert response.status_code == 400 and "signature" in response.get_json()["message"]
    tampered = body.replace(b'"SUCCESS"', b'"SUCCESS" ')
    with app.test_request_context():
        _, good = sandbox.build_notification(payment, "SUCCESS")
    response = client.post(f"/s/{store.slug}/pay/sandbox/notify", data=tampered, headers=good)
    assert response.status_code == 400
    assert load(app, order_id)[0] == "pending_payment"


def test_stale_callback_is_refused(app, client, store, sandbox_order):
    order_id, payment = sandbox_order
    response, _ = notify(app, client, store, payment, at=clock.now() - timedelta(minutes=6))
    assert response.status_code == 400 and "stale" in response.get_json()["message"]
    assert load(app, order_id)[0] == "pending_payment"


def test_replayed_callback_is_refused(app, client, store, sandbox_order):
    order_id, payment = sandbox_order
    first, (body, headers) = notify(app, client, store, payment, status="FAIL")
    assert first.status_code == 200
    replay = client.post(f"/s/{store.slug}/pay/sandbox/notify", data=body, headers=headers)
    assert replay.status_code == 400 and "replayed" in replay.get_json()["message"]


def test_wrong_amount_is_refused(app, client, store, sandbox_order):
    order_id, payment = sandbox_order
    response, _ = notify(app, client, store, payment, amount_fen=1)
    assert response.status_code == 400 and "amount" in response.get_json()["message"]
    assert load(app, order_id)[0] == "pending_payment"


def test_callback_for_another_stores_payment_is_refused(app, client, store, other_store,
                                                         sandbox_order):
    order_id, payment = sandbox_order
    with app.test_request_context():
        body, headers = sandbox.build_notification(payment, "SUCCESS")
    response = client.post(f"/s/{other_store.slug}/pay/sandbox/notify", data=body,
                           headers=headers)
    assert response.status_code == 400
    assert load(app, order_id)[0] == "pending_payment"


def test_payment_after_cancellation_is_refunded_automatically(app, client, store, variant_id,
                                                              sandbox_order, act):
    order_id, payment = sandbox_order
    act(order_id, lambda o: orders.cancel(o, "system", "not paid in time"))
    assert stock_of(app, store, variant_id) == (10, 0)
    response, _ = notify(app, client, store, payment)
    assert response.status_code == 200
    assert load(app, order_id)[0] == "cancelled"
    with in_app(app):
        refunds = db.session.scalars(db.select(Refund).where(Refund.order_id == order_id)).all()
        assert [r.amount_fen for r in refunds] == [2560]
        balances = ledger.balances(store.chain_id, store.id)
    assert balances.get(ledger.ESCROW, 0) == 0
    assert stock_of(app, store, variant_id) == (10, 0)


def test_offline_order_is_paid_by_the_clerk_only(app, client, store, customer, variant_id):
    order_id = place(app, store, customer, variant_id, provider="offline")
    payment = payment_of(app, order_id)
    with app.test_request_context():
        body, headers = sandbox.build_notification(payment, "SUCCESS")
    response = client.post(f"/s/{store.slug}/pay/sandbox/notify", data=body, headers=headers)
    assert response.status_code == 400
    assert load(app, order_id)[0] == "pending_payment"


def test_store_that_turned_sandbox_off_cannot_check_out_with_it(app, store, other_store,
                                                                customer, variant_id):
    from shopbuilder.testing import set_plugin_enabled

    set_plugin_enabled(app, store, "sandbox", False)
    with pytest.raises(orders.CheckoutError):
        place(app, store, customer, variant_id, provider="sandbox")
    assert place(app, store, customer, variant_id, provider="offline")
