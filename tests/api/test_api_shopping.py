"""Cart, checkout, orders and payments through the API (contract and behaviour)."""

from __future__ import annotations

import pytest
from api_support import DEMO_STORE, pay_like_the_gateway, sign_in

from shopbuilder import tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Store
from shopbuilder.testing import PASSWORD, make_customer

# The same behaviour on both databases (PostgreSQL skips when unreachable).
pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)

S = f"/api/v1/stores/{DEMO_STORE}"
ORDER = {"fulfilment": "delivery", "payment_provider": "sandbox", "address": "杭州市 1 号",
         "contact_name": "王小明", "contact_phone": "13800000000"}


def _variant_id(client, sku="LJ-50", store=DEMO_STORE):
    for product in client.get(f"/api/v1/stores/{store}/products?limit=100").get_json()["items"]:
        detail = client.get(f"/api/v1/stores/{store}/products/{product['id']}").get_json()
        for variant in detail["variants"]:
            if variant["sku"] == sku:
                return variant["id"]
    raise AssertionError(sku)


@pytest.fixture
def placed(client, auth, contract):
    """An order for two LJ-50 placed at the demo store, paid with the sandbox."""
    variant = _variant_id(client)
    client.post(f"{S}/cart/items", headers=auth, json={"variant_id": variant, "quantity": 2})
    response = client.post(f"{S}/orders", headers={**auth, "Idempotency-Key": "order-1"},
                           json=ORDER)
    contract.check(response, "api_place_order")
    assert response.status_code == 201
    return response.get_json()


def test_cart_add_update_remove_match_contract(client, auth, contract):
    variant = _variant_id(client)
    response = client.post(f"{S}/cart/items", headers=auth, json={"variant_id": variant})
    contract.check(response, "api_add_to_cart")
    assert response.status_code == 201
    response = client.post(f"{S}/cart/items", headers=auth,
                           json={"variant_id": variant, "quantity": 2})
    assert response.get_json()["items"][0]["quantity"] == 3
    response = client.put(f"{S}/cart/items/{variant}", headers=auth, json={"quantity": 5})
    contract.check(response, "api_update_cart_line")
    assert response.get_json()["goods_fen"] == 5 * 12800
    response = client.get(f"{S}/cart", headers=auth)
    contract.check(response, "api_get_cart")
    response = client.delete(f"{S}/cart/items/{variant}", headers=auth)
    contract.check(response, "api_remove_cart_line")
    assert response.get_json()["items"] == []
    response = client.delete(f"{S}/cart/items/{variant}", headers=auth)
    assert response.status_code == 404


def test_adding_an_unknown_variant_names_the_field(client, auth):
    response = client.post(f"{S}/cart/items", headers=auth, json={"variant_id": 999999})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "variant_id"


def test_cart_needs_a_token(client, demo):
    response = client.get(f"{S}/cart")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_checkout_options_list_delivery_and_the_payment_providers(client, auth, contract):
    response = client.get(f"{S}/checkout/options", headers=auth)
    contract.check(response, "api_checkout_options")
    body = response.get_json()
    assert "delivery" in [o["code"] for o in body["fulfilment"]]
    assert {"sandbox", "offline"} <= {p["code"] for p in body["payment_providers"]}


def test_placing_an_order_reserves_stock_and_empties_the_cart(client, auth, placed):
    assert placed["state"] == "pending_payment"
    assert placed["total_fen"] == 2 * 12800
    assert client.get(f"{S}/cart", headers=auth).get_json()["items"] == []
    product = client.get(f"{S}/products/1").get_json()
    assert product["variants"][0]["available"] == 50 - 2


def test_same_idempotency_key_gives_the_same_order_once(client, auth, placed, contract):
    again = client.post(f"{S}/orders", headers={**auth, "Idempotency-Key": "order-1"}, json=ORDER)
    assert again.status_code == 201
    assert again.get_json()["id"] == placed["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    orders = client.get(f"{S}/orders", headers=auth).get_json()["items"]
    assert [o["id"] for o in orders] == [placed["id"]]


def test_same_key_with_another_body_is_a_conflict(client, auth, placed):
    response = client.post(f"{S}/orders", headers={**auth, "Idempotency-Key": "order-1"},
                           json={**ORDER, "note": "other"})
    assert response.status_code == 409
    assert response.get_json()["code"] == "idempotency_conflict"


def test_missing_idempotency_key_is_a_422_on_the_header(client, auth):
    response = client.post(f"{S}/orders?lang=en", headers=auth, json=ORDER)
    assert response.status_code == 422
    assert response.get_json()["errors"][0] == {
        "field": "Idempotency-Key", "in": "header",
        "message": "Send 1-255 visible ASCII characters, new for each checkout."}


def test_empty_cart_checkout_is_refused_with_the_reason(client, auth, contract):
    response = client.post(f"{S}/orders", headers={**auth, "Idempotency-Key": "k"}, json=ORDER)
    contract.check(response, "api_place_order")
    assert response.status_code == 409
    assert response.get_json()["code"] == "checkout_refused"


def test_orders_list_and_detail_match_contract(client, auth, placed, contract):
    response = client.get(f"{S}/orders", headers=auth)
    contract.check(response, "api_list_orders")
    response = client.get(f"{S}/orders/{placed['id']}", headers=auth)
    contract.check(response, "api_get_order")
    assert response.get_json()["lines"][0]["sku"] == "LJ-50"


def test_sandbox_payment_gives_a_hosted_url_and_the_callback_marks_it_paid(
        app, client, auth, placed, contract):
    path = f"{S}/orders/{placed['id']}/payment"
    response = client.post(path, headers=auth)
    contract.check(response, "api_start_payment")
    payment = response.get_json()
    assert payment["state"] == "pending"
    assert f"/s/{DEMO_STORE}/pay/sandbox/" in payment["payment_url"]
    assert client.get(payment["payment_url"]).status_code == 200  # the hosted page

    pay_like_the_gateway(app, client, payment["id"])

    response = client.get(path, headers=auth)
    contract.check(response, "api_get_payment")
    assert response.get_json()["state"] == "succeeded"
    assert response.get_json()["payment_url"] is None
    order = client.get(f"{S}/orders/{placed['id']}", headers=auth).get_json()
    assert order["state"] == "paid" and order["paid_fen"] == order["total_fen"]
    again = client.post(path, headers=auth)
    assert again.status_code == 409


def test_a_failed_payment_can_be_tried_again_until_it_succeeds(
        app, client, auth, placed, contract):
    path = f"{S}/orders/{placed['id']}/payment"
    first = client.post(path, headers=auth).get_json()
    pay_like_the_gateway(app, client, first["id"], status="FAIL")
    failed = client.get(path, headers=auth)
    contract.check(failed, "api_get_payment")
    assert failed.get_json()["state"] == "failed" and failed.get_json()["payment_url"]

    again = client.post(path, headers=auth)
    contract.check(again, "api_start_payment")
    assert again.status_code == 200 and again.get_json()["payment_url"]
    pay_like_the_gateway(app, client, again.get_json()["id"])
    assert client.get(path, headers=auth).get_json()["state"] == "succeeded"
    assert client.get(f"{S}/orders/{placed['id']}", headers=auth).get_json()["state"] == "paid"


def test_another_stores_order_id_is_404(client, auth, placed):
    response = client.get(f"/api/v1/stores/riverside/orders/{placed['id']}", headers=auth)
    assert response.status_code == 404
    response = client.post(f"/api/v1/stores/riverside/orders/{placed['id']}/payment",
                           headers=auth)
    assert response.status_code == 404


def test_another_customers_order_id_is_404(app, client, placed):
    with app.app_context(), tenancy.unscoped():
        store = db.session.scalar(db.select(Store).where(Store.slug == DEMO_STORE))
        chain = store.chain
        db.session.expunge_all()
    make_customer(app, chain, email="neighbour@example.com")
    other = sign_in(client, DEMO_STORE, "neighbour@example.com", PASSWORD)
    response = client.get(f"{S}/orders/{placed['id']}",
                          headers={"Authorization": f"Bearer {other}"})
    assert response.status_code == 404
    listed = client.get(f"{S}/orders", headers={"Authorization": f"Bearer {other}"})
    assert listed.get_json()["items"] == []
