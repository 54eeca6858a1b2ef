"""A contract test per endpoint: status, content type and body match the description."""

from __future__ import annotations

from api_support import DEMO_CHAIN, DEMO_STORE


def test_index_points_to_the_description(client, contract, demo):
    response = client.get("/api/v1/")
    assert response.status_code == 200
    assert response.get_json()["openapi"] == "/api/v1/openapi.json"


def test_store_information_matches_contract(client, contract):
    response = client.get(f"/api/v1/stores/{DEMO_STORE}")
    contract.check(response, "api_store_detail")
    body = response.get_json()
    assert body["chain"]["slug"] == DEMO_CHAIN
    assert body["opening_hours"]["mon"] == [["09:00", "21:00"]]


def test_store_finder_matches_contract_and_puts_nearest_first(client, contract):
    # A point beside the riverside store (滨江).
    path = f"/api/v1/chains/{DEMO_CHAIN}/stores?lat=30.2085&lng=120.2111"
    response = client.get(path)
    contract.check(response, "api_store_finder")
    items = response.get_json()["items"]
    assert [s["slug"] for s in items] == ["riverside", "west-lake", "old-town"]
    assert items[0]["distance_m"] < 50 < items[1]["distance_m"] < items[2]["distance_m"]


def test_store_finder_filters_by_city_and_pages_with_a_cursor(client, contract):
    first = client.get(f"/api/v1/chains/{DEMO_CHAIN}/stores?city=杭州&limit=1").get_json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = client.get(
        f"/api/v1/chains/{DEMO_CHAIN}/stores?city=杭州&limit=1&cursor={first['next_cursor']}")
    contract.check(second, "api_store_finder")
    body = second.get_json()
    assert body["next_cursor"] is None
    assert {first["items"][0]["slug"], body["items"][0]["slug"]} == {"west-lake", "riverside"}


def test_categories_match_contract(client, contract):
    path = f"/api/v1/stores/{DEMO_STORE}/categories"
    response = client.get(path)
    contract.check(response, "api_categories")
    assert [c["slug"] for c in response.get_json()["items"]] == ["green-tea", "oolong", "teaware"]


def test_product_listing_matches_contract_and_walks_every_page(client, contract):
    path = f"/api/v1/stores/{DEMO_STORE}/products?limit=3&sort=price_asc"
    seen, prices = [], []
    while path:
        response = client.get(path)
        contract.check(response, "api_products")
        body = response.get_json()
        seen += [p["id"] for p in body["items"]]
        prices += [p["price_fen"] for p in body["items"]]
        cursor = body["next_cursor"]
        path = (f"/api/v1/stores/{DEMO_STORE}/products?limit=3&sort=price_asc&cursor={cursor}"
                if cursor else None)
    assert len(seen) == len(set(seen)) == 8
    assert prices == sorted(prices)


def test_product_listing_filters_by_category(client, contract, spec):
    categories = client.get(f"/api/v1/stores/{DEMO_STORE}/categories").get_json()["items"]
    teaware = next(c["id"] for c in categories if c["slug"] == "teaware")
    path = f"/api/v1/stores/{DEMO_STORE}/products?category={teaware}"
    response = client.get(path)
    contract.check(response, "api_products")
    assert {p["category_id"] for p in response.get_json()["items"]} == {teaware}


def test_search_matches_contract_and_finds_chinese(client, contract):
    path = f"/api/v1/stores/{DEMO_STORE}/search?q=龙井"
    response = client.get(path)
    contract.check(response, "api_search")
    assert [p["title"] for p in response.get_json()["items"]] == ["西湖龙井 明前特级"]


def test_product_detail_has_variants_price_here_and_availability(client, contract):
    listing = client.get("/api/v1/stores/old-town/products?sort=price_desc").get_json()
    product_id = next(p["id"] for p in listing["items"] if p["title"] == "西湖龙井 明前特级")
    path = f"/api/v1/stores/old-town/products/{product_id}"
    response = client.get(path)
    contract.check(response, "api_product_detail")
    variants = response.get_json()["variants"]
    assert [(v["sku"], v["price_fen"], v["available"]) for v in variants] == [
        ("LJ-50", 12800, 8), ("LJ-100", 23800, 8)]


def test_sign_in_matches_contract(client, contract, demo):
    path = f"/api/v1/stores/{DEMO_STORE}/auth/token"
    response = client.post(path, json={"email": demo["email"], "password": demo["password"]})
    contract.check(response, "api_sign_in")
    assert response.get_json()["token_type"] == "Bearer"


def test_me_and_sign_out_match_contract(client, contract, auth):
    path = f"/api/v1/stores/{DEMO_STORE}/me"
    response = client.get(path, headers=auth)
    contract.check(response, "api_me")
    assert response.get_json()["email"] == "customer@example.com"
    path = f"/api/v1/stores/{DEMO_STORE}/auth/token"
    response = client.delete(path, headers=auth)
    contract.check(response, "api_sign_out")


def test_error_answers_match_contract(client, contract, demo):
    for operation_id, method, path, kwargs in [
        ("api_store_detail", "GET", "/api/v1/stores/no-such-store", {}),
        ("api_product_detail", "GET", f"/api/v1/stores/{DEMO_STORE}/products/999999", {}),
        ("api_products", "GET", f"/api/v1/stores/{DEMO_STORE}/products?limit=500", {}),
        ("api_me", "GET", f"/api/v1/stores/{DEMO_STORE}/me", {}),
        ("api_sign_in", "POST", f"/api/v1/stores/{DEMO_STORE}/auth/token",
         {"json": {"email": "x"}}),
        ("api_sign_in", "POST", f"/api/v1/stores/{DEMO_STORE}/auth/token",
         {"data": "{", "content_type": "application/json"}),
        ("api_sign_in", "POST", f"/api/v1/stores/{DEMO_STORE}/auth/token",
         {"data": "email=x", "content_type": "application/x-www-form-urlencoded"}),
    ]:
        response = client.open(path, method=method, **kwargs)
        assert response.mimetype == "application/problem+json", (method, path)
        contract.check(response, operation_id)


def test_store_finder_pages_through_many_stores_nearest_first(app, client, demo):
    import random

    from shopbuilder.extensions import db
    from shopbuilder.models import Chain, Store
    from shopbuilder.testing import in_app

    rng = random.Random(7)
    with in_app(app):
        chain = db.session.scalar(db.select(Chain).where(Chain.slug == DEMO_CHAIN))
        for i in range(40):
            db.session.add(Store(chain_id=chain.id, slug=f"extra-{i}", name=f"Extra {i}",
                                 lat=31 + rng.uniform(-1.5, 1.5),
                                 lng=121 + rng.uniform(-1.5, 1.5)))
        db.session.add(Store(chain_id=chain.id, slug="nowhere", name="No coordinates"))
        db.session.commit()
    path = f"/api/v1/chains/{DEMO_CHAIN}/stores?lat=31.0&lng=121.0&limit=7"
    seen = []
    while path:
        body = client.get(path).get_json()
        seen += body["items"]
        cursor = body["next_cursor"]
        path = (f"/api/v1/chains/{DEMO_CHAIN}/stores?lat=31.0&lng=121.0&limit=7&cursor={cursor}"
                if cursor else None)
    assert len(seen) == 44 and len({s["slug"] for s in seen}) == 44
    distances = [s["distance_m"] for s in seen[:-1]]
    assert distances == sorted(distances)
    assert seen[-1]["slug"] == "nowhere" and seen[-1]["distance_m"] is None
