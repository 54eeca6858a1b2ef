"""The pickup JSON API: slots to choose from, and the customer's code once ready."""

from __future__ import annotations

from shopbuilder.testing import PASSWORD, make_customer, set_plugin_enabled

from .helpers import code_for, make_goods, ready_order


def token(client, store, customer) -> dict:
    response = client.post(f"/api/v1/stores/{store.slug}/auth/token",
                           json={"email": customer.email, "password": PASSWORD})
    assert response.status_code == 201, response.get_data(as_text=True)
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def test_slots_list_the_keys_a_client_sends_with_its_order(client, pickup_store):
    body = client.get(f"/api/v1/stores/{pickup_store.slug}/pickup/slots").get_json()
    assert body["store_name"] == pickup_store.name
    assert body["slots"], "an open store offers slots"
    first = body["slots"][0]
    assert {"key", "start", "end", "places_left", "full"} <= first.keys()
    assert first["places_left"] > 0 and not first["full"]


def test_customer_reads_their_pickup_code_once_the_order_is_ready(
    app, client, chain, pickup_store, customer, clerk
):
    _product, variant = make_goods(app, chain, [pickup_store])
    order_id = ready_order(app, pickup_store, customer, {variant: 1}, clerk)
    response = client.get(f"/api/v1/stores/{pickup_store.slug}/pickup/orders/{order_id}",
                          headers=token(client, pickup_store, customer))
    assert response.status_code == 200
    body = response.get_json()
    assert body["state"] == "ready"
    assert body["code"] == code_for(app, order_id) and len(body["code"]) == 12
    assert body["qr_token"]


def test_another_customers_pickup_is_not_found(app, client, chain, pickup_store, customer, clerk):
    _product, variant = make_goods(app, chain, [pickup_store])
    order_id = ready_order(app, pickup_store, customer, {variant: 1}, clerk)
    stranger = make_customer(app, chain, "stranger@example.com")
    response = client.get(f"/api/v1/stores/{pickup_store.slug}/pickup/orders/{order_id}",
                          headers=token(client, pickup_store, stranger))
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_pickup_api_is_not_found_where_the_plugin_is_off(app, client, pickup_store, other_store):
    assert client.get(f"/api/v1/stores/{pickup_store.slug}/pickup/slots").status_code == 200
    set_plugin_enabled(app, other_store, "pickup", False)
    response = client.get(f"/api/v1/stores/{other_store.slug}/pickup/slots")
    assert response.status_code == 404
