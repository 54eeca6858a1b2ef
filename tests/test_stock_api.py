"""The stock sync API a store's till or ERP calls."""

from __future__ import annotations

import pytest
from catalogue_helpers import listing, make_product, set_listing

from shopbuilder.extensions import db
from shopbuilder.models import StoreApiKey
from shopbuilder.services import catalogue as service
from shopbuilder.testing import in_app, login


def new_key(app, store, name="till 1"):
    with in_app(app) as session:
        row = session.get(type(store), store.id)
        _key, plain = service.create_api_key(row, name)
        session.commit()
        return plain


@pytest.fixture
def tea(app, chain):
    return make_product(app, chain, "Tea", skus=[("LJ-50", "128"), ("LJ-100", "238")],
                        publish="all")


@pytest.fixture
def key(app, store):
    return new_key(app, store)


def put(client, store, key, body):
    return client.put(f"/api/v1/stores/{store.slug}/stock", json=body,
                      headers={"Authorization": f"Bearer {key}"} if key else {})


def body(request_id="r1", mode="absolute", **stocks):
    return {"request_id": request_id, "mode": mode,
            "items": [{"sku": sku.replace("_", "-"), "stock": n} for sku, n in stocks.items()]}


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_absolute_sync_sets_stock_and_reports_available(app, client, store, tea, key):
    set_listing(app, store, "LJ-100", stock_on_hand=3, reserved=2)
    response = put(client, store, key, body(LJ_50=20, LJ_100=10))
    assert response.status_code == 200
    assert response.json["items"] == [
        {"sku": "LJ-50", "stock_on_hand": 20, "reserved": 0, "available": 20},
        {"sku": "LJ-100", "stock_on_hand": 10, "reserved": 2, "available": 8},
    ]
    assert listing(app, store, "LJ-50")[:2] == (20, 0)


def test_delta_sync_adds_to_stock(app, client, store, tea, key):
    set_listing(app, store, "LJ-50", stock_on_hand=5)
    response = put(client, store, key, body(mode="delta", LJ_50=-2, LJ_100=4))
    assert response.status_code == 200
    assert listing(app, store, "LJ-50")[0] == 3
    assert listing(app, store, "LJ-100")[0] == 4


def test_same_request_id_replays_the_answer_without_changing_twice(app, client, store, tea, key):
    first = put(client, store, key, body("same", "delta", LJ_50=5))
    second = put(client, store, key, body("same", "delta", LJ_50=5))
    assert first.status_code == second.status_code == 200
    assert first.json == second.json
    assert listing(app, store, "LJ-50")[0] == 5


def test_same_request_id_with_another_body_is_409(app, client, store, tea, key):
    put(client, store, key, body("same", "delta", LJ_50=5))
    response = put(client, store, key, body("same", "delta", LJ_50=6))
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert listing(app, store, "LJ-50")[0] == 5


def test_a_bad_row_refuses_the_whole_batch_with_per_row_problems(app, client, store, tea, key):
    set_listing(app, store, "LJ-100", stock_on_hand=5, reserved=4)
    response = put(client, store, key, {"request_id": "bad", "mode": "absolute", "items": [
        {"sku": "LJ-50", "stock": 10}, {"sku": "NOPE", "stock": 1},
        {"sku": "LJ-50", "stock": 2}, {"sku": "X", "stock": "many"}]})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.json
    assert problem["status"] == 422 and problem["title"]
    assert [(e["row"], e["detail"]) for e in problem["errors"]] == [
        (1, "unknown sku for this store"), (2, "sku appears twice in the batch"),
        (3, "stock must be an integer")]
    assert listing(app, store, "LJ-50") is None


def test_on_hand_below_reserved_is_refused_clearly(app, client, store, tea, key):
    set_listing(app, store, "LJ-100", stock_on_hand=5, reserved=4)
    response = put(client, store, key, body("low", LJ_50=9, LJ_100=3))
    assert response.status_code == 422
    (error,) = response.json["errors"]
    assert error["sku"] == "LJ-100" and "below the 4 reserved" in error["detail"]
    assert listing(app, store, "LJ-100")[:2] == (5, 4)
    assert listing(app, store, "LJ-50") is None


def test_wrong_key_is_401(client, store, tea, key):
    assert put(client, store, "sk_wrong", body()).status_code == 401
    assert put(client, store, None, body()).status_code == 401


def test_another_stores_key_is_404(app, client, store, other_store, tea):
    other_key = new_key(app, other_store)
    response = put(client, store, other_key, body(LJ_50=1))
    assert response.status_code == 404
    assert listing(app, store, "LJ-50") is None


def test_revoked_key_is_401(app, client, store, tea, key):
    with in_app(app) as session:
        row = session.scalar(db.select(StoreApiKey))
        service.revoke_api_key(row)
        session.commit()
    assert put(client, store, key, body(LJ_50=1)).status_code == 401


def test_more_than_1000_rows_is_refused(client, store, tea, key):
    items = [{"sku": f"S{i}", "stock": 1} for i in range(1001)]
    response = put(client, store, key, {"request_id": "big", "items": items})
    assert response.status_code == 413


def test_malformed_bodies_get_400(client, store, tea, key):
    assert put(client, store, key, {"items": []}).status_code == 400
    assert put(client, store, key, {"request_id": "x", "mode": "swap", "items": [
        {"sku": "LJ-50", "stock": 1}]}).status_code == 400
    response = client.put(f"/api/v1/stores/{store.slug}/stock", data="not json",
                          headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 400


def test_keys_are_stored_hashed_and_shown_once(app, client, store, manager):
    client.set_cookie("lang", "en")
    login(client, manager, store=store)
    page = client.post(f"/s/{store.slug}/manage/api-keys", data={"name": "till"})
    html = page.get_data(as_text=True)
    with in_app(app) as session:
        row = session.scalar(db.select(StoreApiKey))
    start = html.index('id="new-key">') + len('id="new-key">')
    plain = html[start:html.index("<", start)]
    assert service.hash_api_key(plain) == row.key_hash
    assert plain not in client.get(f"/s/{store.slug}/manage/api-keys").get_data(as_text=True)


def test_manager_cannot_revoke_another_stores_key(app, client, store, other_store, manager):
    new_key(app, other_store)
    with in_app(app) as session:
        other_id = session.scalar(db.select(StoreApiKey.id))
    login(client, manager, store=store)
    assert client.post(f"/s/{store.slug}/manage/api-keys/{other_id}/revoke").status_code == 404


def test_hq_creates_and_revokes_a_stores_key(app, client, chain, store, hq_user, tea):
    client.set_cookie("lang", "en")
    login(client, hq_user, chain=chain)
    form = client.get(f"/hq/{chain.slug}/api-keys").get_data(as_text=True)
    assert 'name="store"' in form and "<select" not in form  # a slug, not a list of stores
    html = client.post(f"/hq/{chain.slug}/api-keys",
                       data={"store": store.slug, "name": "ERP"}).get_data(as_text=True)
    start = html.index('id="new-key">') + len('id="new-key">')
    plain = html[start:html.index("<", start)]
    api = app.test_client()
    assert put(api, store, plain, body("a", LJ_50=1)).status_code == 200
    with in_app(app) as session:
        key_id = session.scalar(db.select(StoreApiKey.id))
    client.post(f"/hq/{chain.slug}/api-keys/{key_id}/revoke")
    assert put(api, store, plain, body("b", LJ_50=2)).status_code == 401


def test_hq_cannot_revoke_or_create_keys_for_another_chains_store(app, client, chain, hq_user,
                                                                   other_chain_store):
    new_key(app, other_chain_store)
    with in_app(app) as session:
        other_id = session.scalar(db.select(StoreApiKey.id))
    login(client, hq_user, chain=chain)
    assert client.post(f"/hq/{chain.slug}/api-keys/{other_id}/revoke").status_code == 404
    client.set_cookie("lang", "en")
    response = client.post(f"/hq/{chain.slug}/api-keys",
                           data={"store": other_chain_store.slug, "name": "x"})
    # The same answer as for a slug no store has: no hint that the other chain's store exists.
    assert response.status_code == 400
    assert f"No store of this chain has the slug {other_chain_store.slug}" in \
        response.get_data(as_text=True)
    with in_app(app) as session:
        assert session.scalar(db.select(db.func.count()).select_from(StoreApiKey)) == 1


def make_keys(app, store, count):
    with in_app(app) as session:
        row = session.get(type(store), store.id)
        for i in range(count):
            service.create_api_key(row, f"till {i:03d}")
        session.commit()


def test_hq_key_list_pages_through_every_key_and_finds_a_stores(app, client, chain, store,
                                                                 other_store, hq_user):
    make_keys(app, store, 45)
    make_keys(app, other_store, 15)
    client.set_cookie("lang", "en")
    login(client, hq_user, chain=chain)
    first = client.get(f"/hq/{chain.slug}/api-keys").get_data(as_text=True)
    assert "Showing 1–50 of 60" in first and first.count("<tr>") == 1 + 50
    second = client.get(f"/hq/{chain.slug}/api-keys?page=2").get_data(as_text=True)
    assert "Showing 51–60 of 60" in second and "till 000" in second
    found = client.get(f"/hq/{chain.slug}/api-keys?q={other_store.slug}").get_data(as_text=True)
    assert found.count("<tr>") == 1 + 15 and "Showing" not in found


def test_hq_key_for_an_unknown_slug_is_refused_with_a_message(app, client, chain, hq_user):
    client.set_cookie("lang", "en")
    login(client, hq_user, chain=chain)
    response = client.post(f"/hq/{chain.slug}/api-keys", data={"store": "nope", "name": "x"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "No store of this chain has the slug nope" in html and 'value="nope"' in html


def test_store_key_list_pages_through_every_key(app, client, store, manager):
    make_keys(app, store, 55)
    client.set_cookie("lang", "en")
    login(client, manager, store=store)
    first = client.get(f"/s/{store.slug}/manage/api-keys").get_data(as_text=True)
    assert "Showing 1–50 of 55" in first
    second = client.get(f"/s/{store.slug}/manage/api-keys?page=2").get_data(as_text=True)
    assert "Showing 51–55 of 55" in second and "till 000" in second
