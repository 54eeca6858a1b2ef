"""A retried request (lost answer, double click) gets its first order back, even at the limit."""

from __future__ import annotations

import pytest
from gb_helpers import group_of, make_campaign, make_customers, pay, start

from shopbuilder.extensions import db
from shopbuilder.models import Order
from shopbuilder.testing import PASSWORD, in_app, login, make_customer, set_plugin_enabled

BODY = {"fulfilment": "delivery", "payment_provider": "offline", "contact_name": "W",
        "contact_phone": "1", "address": "road"}
FORM = {"quantity": "1", "fulfilment": "delivery", "payment_provider": "offline",
        "contact_name": "Wang", "contact_phone": "138", "address": "1 Lake Road"}


@pytest.fixture
def one_each(app, chain, store, shop):
    """A size-2 campaign with the default limit: one unit per customer."""
    return make_campaign(app, chain, store, shop["variant_id"], group_size=2, unit_cap=5,
                         per_customer_limit=1, per_order_limit=1)


def order_count(app):
    with in_app(app):
        return db.session.scalar(db.select(db.func.count(Order.id)))


def bearer(client, store, who):
    answer = client.post(f"/api/v1/stores/{store.slug}/auth/token",
                         json={"email": who.email, "password": PASSWORD})
    return {"Authorization": f"Bearer {answer.json['access_token']}"}


def test_api_retry_with_the_same_key_returns_the_same_order(app, chain, store, one_each,
                                                            client):
    leader = make_customer(app, chain, "lead@example.com", name="Wang")
    friend = make_customer(app, chain, "friend@example.com", name="Zhao")
    base = f"/api/v1/stores/{store.slug}/groupbuy"
    headers = {**bearer(client, store, leader), "Idempotency-Key": "start-1"}
    first = client.post(f"{base}/campaigns/{one_each}/groups", json=BODY, headers=headers)
    again = client.post(f"{base}/campaigns/{one_each}/groups", json=BODY, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    other = client.post(f"{base}/campaigns/{one_each}/groups", json={**BODY, "quantity": 2},
                        headers=headers)
    assert other.status_code == 409 and other.json["code"] == "idempotency_conflict"
    pay(app, first.json["order"]["id"])
    group_id = first.json["group_id"]
    headers = {**bearer(client, store, friend), "Idempotency-Key": "join-1"}
    joined = client.post(f"{base}/groups/{group_id}/members", json=BODY, headers=headers)
    rejoined = client.post(f"{base}/groups/{group_id}/members", json=BODY, headers=headers)
    assert joined.status_code == rejoined.status_code == 201, rejoined.text
    assert rejoined.json["order"]["id"] == joined.json["order"]["id"]
    assert order_count(app) == 2
    # A new key is a new request: the limit of one holds.
    fresh = client.post(f"{base}/groups/{group_id}/members", json=BODY,
                        headers={**headers, "Idempotency-Key": "join-2"})
    assert fresh.status_code == 409 and fresh.json["code"] == "checkout_refused"


def test_double_submitted_group_form_places_one_order(app, chain, store, one_each):
    leader = make_customer(app, chain, "lead@example.com", name="Wang")
    friend = make_customer(app, chain, "friend@example.com", name="Zhao")
    browser = app.test_client()
    login(browser, leader, store=store)
    url = f"/s/{store.slug}/groups/c/{one_each}/start"
    first = browser.post(url, data={**FORM, "idempotency_key": "form-1"})
    second = browser.post(url, data={**FORM, "idempotency_key": "form-1"})
    assert first.status_code == second.status_code == 302, second.text
    assert first.headers["Location"] == second.headers["Location"]
    assert order_count(app) == 1
    with in_app(app):
        leader_order = db.session.scalar(db.select(Order))
        leader_order_id = leader_order.id
    pay(app, leader_order_id)
    group_id = group_of(app, leader_order_id)
    other = app.test_client()
    login(other, friend, store=store)
    url = f"/s/{store.slug}/groups/{group_id}/join"
    first = other.post(url, data={**FORM, "idempotency_key": "form-2"})
    second = other.post(url, data={**FORM, "idempotency_key": "form-2"})
    assert first.status_code == second.status_code == 302, second.text
    assert first.headers["Location"] == second.headers["Location"]
    assert order_count(app) == 2


def test_groupbuy_api_answers_404_where_the_plugin_is_off(app, chain, store, shop, client):
    (a,) = make_customers(app, chain, 1)
    order_id = start(app, store, a, shop["campaign_id"])
    pay(app, order_id)
    group_id = group_of(app, order_id)
    leader = make_customer(app, chain, "lead@example.com", name="Wang")
    base = f"/api/v1/stores/{store.slug}/groupbuy"
    assert client.get(f"{base}/groups/{group_id}").status_code == 200
    headers = {**bearer(client, store, leader), "Idempotency-Key": "k"}
    set_plugin_enabled(app, store, "groupbuy", False)
    for answer in (
        client.get(f"{base}/groups/{group_id}"),
        client.get(f"{base}/campaigns/{shop['campaign_id']}/groups"),
        client.post(f"{base}/campaigns/{shop['campaign_id']}/groups", json=BODY,
                    headers=headers),
        client.post(f"{base}/groups/{group_id}/members", json=BODY, headers=headers),
    ):
        assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
    assert order_count(app) == 1
