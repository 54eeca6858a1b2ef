"""Contract tests of the built-in plugins' operations, with the plugins on at the demo store.

Pickup (slots, the pickup code), group-buy (campaigns, open, join, view) and
distribution (share code, centre, binding), each answered as the description says.
"""

from __future__ import annotations

import uuid

from api_support import DEMO_STORE, pay_like_the_gateway, sign_in

from shopbuilder.extensions import db
from shopbuilder.models import Order, Store
from shopbuilder.services import orders
from shopbuilder.testing import PASSWORD, in_app, make_customer

S = f"/api/v1/stores/{DEMO_STORE}"
DELIVERY = {"fulfilment": "delivery", "payment_provider": "sandbox", "contact_name": "王小明",
            "contact_phone": "13800000000", "address": "杭州市西湖区 1 号"}


def _key() -> dict:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _pay(app, client, auth, order_id: int) -> None:
    payment = client.post(f"{S}/orders/{order_id}/payment", headers=auth).get_json()
    pay_like_the_gateway(app, client, payment["id"])


# -- pickup ---------------------------------------------------------------------------------------


def test_pickup_slots_match_contract_and_offer_keys(client, contract, demo):
    response = client.get(f"{S}/pickup/slots")
    contract.check(response, "pickup_api_slot_list")
    slots = response.get_json()["slots"]
    assert slots and any(not slot["full"] for slot in slots)


def test_pickup_code_appears_once_the_clerk_prepared_the_paid_order(app, client, auth, contract):
    variant = client.get(f"{S}/products/1").get_json()["variants"][0]["id"]
    client.post(f"{S}/cart/items", headers=auth, json={"variant_id": variant})
    slot = next(s for s in client.get(f"{S}/pickup/slots").get_json()["slots"] if not s["full"])
    order = client.post(f"{S}/orders", headers={**auth, **_key()}, json={
        "fulfilment": "pickup", "payment_provider": "sandbox",
        "fulfilment_data": {"pickup_slot": slot["key"]}}).get_json()
    _pay(app, client, auth, order["id"])
    path = f"{S}/pickup/orders/{order['id']}"

    booked = client.get(path, headers=auth)
    contract.check(booked, "pickup_api_pickup_detail")
    assert booked.get_json()["state"] == "booked" and booked.get_json()["code"] is None

    with in_app(app):
        orders.mark_ready(db.session.get(Order, order["id"]), actor="clerk@west-lake.example")
    ready = client.get(path, headers=auth)
    contract.check(ready, "pickup_api_pickup_detail")
    body = ready.get_json()
    assert body["state"] == "ready" and len(body["code"]) == 12 and body["code"].isdigit()
    assert body["slot_start"] == slot["start"]


# -- group-buy ------------------------------------------------------------------------------------


def test_campaigns_of_a_product_match_contract(client, contract, social):
    response = client.get(f"{S}/groupbuy/products/{social['product_id']}/campaigns")
    contract.check(response, "groupbuy_api_product_campaigns")
    [campaign] = response.get_json()["items"]
    assert (campaign["group_price_fen"], campaign["single_price_fen"]) == (9900, 12800)


def test_open_groups_and_one_group_match_contract(client, auth, contract, social):
    response = client.get(f"{S}/groupbuy/campaigns/{social['campaign_id']}/groups", headers=auth)
    contract.check(response, "groupbuy_api_open_groups")
    assert [g["id"] for g in response.get_json()["items"]] == [social["group_id"]]
    response = client.get(f"{S}/groupbuy/groups/{social['group_id']}")
    contract.check(response, "groupbuy_api_view_group")
    group = response.get_json()
    assert (group["state"], group["members_paid"], group["seats_left"]) == ("open", 1, 2)
    assert group["members"] == [{"initial": group["members"][0]["initial"], "leader": True}]


def test_joining_a_group_places_an_order_at_the_group_price(app, client, auth, contract, social):
    path = f"{S}/groupbuy/groups/{social['group_id']}/members"
    response = client.post(path, headers={**auth, **_key()}, json=DELIVERY)
    contract.check(response, "groupbuy_api_join_group")
    assert response.status_code == 201
    body = response.get_json()
    assert body["group_id"] == social["group_id"]
    assert (body["order"]["state"], body["order"]["total_fen"]) == ("pending_payment", 9900)
    again = client.post(path, headers={**auth, **_key()}, json=DELIVERY)
    contract.check(again, "groupbuy_api_join_group")
    assert again.status_code == 409 and again.get_json()["code"] == "checkout_refused"


def test_starting_a_group_shows_it_once_the_leader_paid(app, client, auth, contract, social):
    response = client.post(f"{S}/groupbuy/campaigns/{social['campaign_id']}/groups",
                           headers={**auth, **_key()}, json=DELIVERY)
    contract.check(response, "groupbuy_api_start_group")
    assert response.status_code == 201
    body = response.get_json()
    group = f"{S}/groupbuy/groups/{body['group_id']}"
    assert client.get(group).status_code == 404  # nobody sees an unpaid leader's group
    _pay(app, client, auth, body["order"]["id"])
    assert client.get(group).get_json()["state"] == "open"


def test_group_buy_without_an_idempotency_key_names_the_header(client, auth, contract, social):
    response = client.post(f"{S}/groupbuy/groups/{social['group_id']}/members", headers=auth,
                           json=DELIVERY)
    contract.check(response, "groupbuy_api_join_group")
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "Idempotency-Key"


# -- distribution ---------------------------------------------------------------------------------


def test_distributor_reads_the_share_code_and_links(client, auth, contract, social):
    response = client.get(f"{S}/distribution/share?product_id={social['product_id']}",
                          headers=auth)
    contract.check(response, "distribution_api_share")
    body = response.get_json()
    assert body["code"] == social["share_code"] and f"ref={body['code']}" in body["link"]
    store_wide = client.get(f"{S}/distribution/share", headers=auth)
    contract.check(store_wide, "distribution_api_share")
    assert f"/s/{DEMO_STORE}/" in store_wide.get_json()["link"]
    unknown = client.get(f"{S}/distribution/share?product_id=999999", headers=auth)
    contract.check(unknown, "distribution_api_share")
    assert unknown.status_code == 404


def test_distributor_centre_matches_contract(client, auth, contract, social):
    response = client.get(f"{S}/distribution/centre", headers=auth)
    contract.check(response, "distribution_api_centre")
    assert response.get_json()["code"] == social["share_code"]


def test_a_customer_who_opened_a_shared_link_binds_to_its_distributor(
        app, client, contract, social):
    with in_app(app):
        chain = db.session.scalar(db.select(Store).where(Store.slug == DEMO_STORE)).chain
        db.session.expunge(chain)
    make_customer(app, chain, email="newcomer@example.com")
    newcomer = {"Authorization": "Bearer " + sign_in(client, email="newcomer@example.com",
                                                     password=PASSWORD)}
    response = client.post(f"{S}/distribution/bindings", headers=newcomer,
                           json={"code": social["share_code"]})
    contract.check(response, "distribution_api_bind")
    assert response.get_json()["distributor_code"] == social["share_code"]
    not_a_distributor = client.get(f"{S}/distribution/centre", headers=newcomer)
    contract.check(not_a_distributor, "distribution_api_centre")
    assert not_a_distributor.status_code == 404
