"""HTTP behaviour: problem+json errors, ETags, CORS per store, rate limits, cursors, docs."""

from __future__ import annotations

import pytest
from api_support import DEMO_CHAIN, DEMO_STORE

from shopbuilder import settings
from shopbuilder.extensions import db
from shopbuilder.models import Store
from shopbuilder.testing import in_app


def test_validation_error_names_each_field_and_why(client, demo):
    response = client.post(f"/api/v1/stores/{DEMO_STORE}/auth/token",
                           json={"email": "not-an-email", "extra": 1})
    assert response.status_code == 422
    body = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert body["code"] == "validation_failed"
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert fields == {"email": "不是有效的邮箱地址。", "password": "缺少必填字段。",
                      "extra": "未知字段。"}  # the demo store speaks Chinese


def test_field_messages_follow_the_language_with_their_numbers(client, auth):
    path = f"/api/v1/stores/{DEMO_STORE}/cart/items"
    chinese = client.post(path, headers=auth, json={"variant_id": 1, "quantity": 0})
    assert chinese.get_json()["errors"] == [
        {"field": "quantity", "in": "body", "message": "必须在 1 到 99 之间。"}]
    english = client.post(path + "?lang=en", headers=auth, json={"variant_id": "x" * 3})
    assert english.get_json()["errors"] == [
        {"field": "variant_id", "in": "body", "message": "Not a valid integer."}]
    english = client.post(path + "?lang=en", headers=auth, json={"variant_id": 1, "quantity": 0})
    assert english.get_json()["errors"][0]["message"] == (
        "Must be greater than or equal to 1 and less than or equal to 99.")


@pytest.mark.parametrize("path", [
    "/api/v1/stores/no-such-store",
    "/api/v1/stores/no-such-store/products/1",
    f"/api/v1/stores/{DEMO_STORE}/products/2147483648",
    f"/api/v1/stores/{DEMO_STORE}/products/0",
    "/api/v1/no/such/route",
])
def test_unknown_things_are_problem_404_never_html(client, demo, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "not_found"


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("path", ["/api/v1/stores/%00/products", "/api/v1/chains/%00/stores",
                                  "/api/v1/stores/west%00lake/me"])
def test_a_nul_in_a_store_or_chain_slug_is_404_on_every_database(client, demo, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_bodies_too_deep_or_too_large_are_refused_without_an_error(client, demo):
    path = f"/api/v1/stores/{DEMO_STORE}/auth/token"
    deep = client.post(path, data="[" * 30000 + "]" * 30000, content_type="application/json")
    assert deep.status_code == 400 and deep.get_json()["code"] == "bad_request"
    large = client.post(path, data=" " * (65 * 1024), content_type="application/json")
    assert large.status_code == 413 and large.get_json()["code"] == "payload_too_large"


def test_fulfilment_data_takes_only_a_few_plain_values(client, auth):
    path = f"/api/v1/stores/{DEMO_STORE}/orders?lang=en"
    headers = {**auth, "Idempotency-Key": "nested"}
    order = {"fulfilment": "pickup", "payment_provider": "sandbox"}
    nested = client.post(path, headers=headers,
                         json={**order, "fulfilment_data": {"pickup_slot": {"a": [1]}}})
    assert nested.status_code == 422
    assert nested.get_json()["errors"][0]["field"].startswith("fulfilment_data.pickup_slot")
    many = client.post(path, headers=headers,
                       json={**order, "fulfilment_data": {f"k{i}": i for i in range(21)}})
    assert many.get_json()["errors"] == [
        {"field": "fulfilment_data", "in": "body", "message": "At most 20 entries."}]


def test_wrong_method_is_problem_405_with_allow(client, demo):
    response = client.put(f"/api/v1/stores/{DEMO_STORE}/products")
    assert response.status_code == 405
    assert response.get_json()["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_suspended_store_is_problem_503(app, client, demo):
    with in_app(app):
        db.session.scalar(db.select(Store).where(Store.slug == DEMO_STORE)).status = "suspended"
        db.session.commit()
    response = client.get(f"/api/v1/stores/{DEMO_STORE}")
    assert response.status_code == 503
    assert response.get_json()["code"] == "store_closed"


def test_catalogue_reads_answer_304_to_a_matching_etag(client, demo):
    path = f"/api/v1/stores/{DEMO_STORE}/products/1"
    first = client.get(path)
    etag = first.headers["ETag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data
    # Old town has less stock of it: another body, another tag.
    other_store = client.get("/api/v1/stores/old-town/products/1", headers={"If-None-Match": etag})
    assert other_store.status_code == 200


@pytest.mark.parametrize("path", [
    f"/api/v1/stores/{DEMO_STORE}", f"/api/v1/chains/{DEMO_CHAIN}/stores?lat=30.2&lng=120.1",
    f"/api/v1/stores/{DEMO_STORE}/categories", f"/api/v1/stores/{DEMO_STORE}/products?limit=3",
    f"/api/v1/stores/{DEMO_STORE}/search?q=茶",
])
def test_every_catalogue_read_answers_304_to_its_etag(client, demo, path):
    first = client.get(path)
    assert first.headers["Cache-Control"] == "no-cache"  # keep it, but ask again each time
    again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    assert client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_tampered_cursor_is_a_422_on_the_cursor_field(client, demo):
    response = client.get(f"/api/v1/stores/{DEMO_STORE}/products?cursor=abc.def")
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "cursor"


def test_cursor_of_one_store_is_refused_by_another(client, demo):
    cursor = client.get(f"/api/v1/stores/{DEMO_STORE}/products?limit=1").get_json()["next_cursor"]
    response = client.get(f"/api/v1/stores/old-town/products?limit=1&cursor={cursor}")
    assert response.status_code == 422


def test_a_cursor_works_only_for_the_list_and_query_that_made_it(client, auth):
    s = f"/api/v1/stores/{DEMO_STORE}"
    tea = client.get(f"{s}/search?q=茶&limit=1").get_json()
    assert tea["next_cursor"]
    second = client.get(f"{s}/search?q=茶&limit=1&cursor={tea['next_cursor']}")
    assert second.status_code == 200 and second.get_json()["items"] != tea["items"]
    for other in (f"{s}/search?q=龙井&limit=1", f"{s}/products?limit=1", f"{s}/orders?limit=1",
                  f"/api/v1/chains/{DEMO_CHAIN}/stores?limit=1"):
        response = client.get(f"{other}&cursor={tea['next_cursor']}", headers=auth)
        assert response.status_code == 422, other
        assert response.get_json()["errors"][0]["field"] == "cursor"


def _allow_origin(app, slug, origins):
    with in_app(app):
        store = db.session.scalar(db.select(Store).where(Store.slug == slug))
        settings.set_store_values(store, "api", {"cors_origins": origins})
        db.session.commit()


def test_cors_allows_only_the_stores_configured_origins(app, client, demo):
    _allow_origin(app, DEMO_STORE, ["https://mini.example"])
    allowed = client.get(f"/api/v1/stores/{DEMO_STORE}", headers={"Origin": "https://mini.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://mini.example"
    other = client.get(f"/api/v1/stores/{DEMO_STORE}", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    elsewhere = client.get("/api/v1/stores/old-town", headers={"Origin": "https://mini.example"})
    assert "Access-Control-Allow-Origin" not in elsewhere.headers


def test_cors_preflight_lists_methods_and_headers(app, client, demo):
    _allow_origin(app, DEMO_STORE, ["https://mini.example"])
    response = client.options(f"/api/v1/stores/{DEMO_STORE}/auth/token", headers={
        "Origin": "https://mini.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://mini.example"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]


def test_chain_cors_setting_reaches_the_store_finder(app, client, demo):
    from shopbuilder.models import Chain

    with in_app(app):
        chain = db.session.scalar(db.select(Chain).where(Chain.slug == DEMO_CHAIN))
        settings.set_chain_values(chain, "api", {"cors_origins": ["https://mini.example"]})
        db.session.commit()
    response = client.get(f"/api/v1/chains/{DEMO_CHAIN}/stores",
                          headers={"Origin": "https://mini.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://mini.example"


class TestRateLimits:
    @pytest.fixture
    def app_config(self):
        return {"RATELIMIT_ENABLED": True, "API_TOKEN_RATE_LIMIT": "3 per minute",
                "API_ADDRESS_RATE_LIMIT": "6 per minute", "LOGIN_RATE_LIMIT": "100 per minute"}

    def test_a_token_over_its_limit_gets_429_with_retry_after(self, client, auth):
        statuses = [client.get(f"/api/v1/stores/{DEMO_STORE}/me", headers=auth).status_code
                    for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        response = client.get(f"/api/v1/stores/{DEMO_STORE}/me", headers=auth)
        assert response.get_json()["code"] == "rate_limited"
        assert int(response.headers["Retry-After"]) >= 1

    def test_an_address_over_its_limit_gets_429(self, client, demo):
        statuses = [client.get(f"/api/v1/stores/{DEMO_STORE}").status_code for _ in range(7)]
        assert statuses[:6] == [200] * 6 and statuses[6] == 429
        other = client.get(f"/api/v1/stores/{DEMO_STORE}",
                           environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert other.status_code == 200


def test_description_is_openapi_31_and_the_docs_page_is_self_hosted(client, spec):
    assert spec["openapi"] == "3.1.0"
    assert "/api/v1/stores/{store}/products" in spec["paths"]
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "/api/v1/openapi.json" in page
    assert "http://" not in page and "https://" not in page  # nothing from a CDN


def test_problem_titles_follow_the_stores_language_and_lang_overrides(client, demo):
    chinese = client.get(f"/api/v1/stores/{DEMO_STORE}/products/999999").get_json()
    assert chinese["title"] == "未找到。" and chinese["code"] == "not_found"
    english = client.get(f"/api/v1/stores/{DEMO_STORE}/products/999999?lang=en").get_json()
    assert english["title"] == "Not found." and english["code"] == "not_found"


@pytest.fixture
def redis_url():
    import os

    url = os.environ.get("SHOPBUILDER_TEST_REDIS_URL")
    if not url:
        try:
            import redis

            redis.Redis.from_url("redis://127.0.0.1:6379/9", socket_timeout=1).ping()
        except Exception:
            pytest.skip("no Redis at 127.0.0.1:6379 (set SHOPBUILDER_TEST_REDIS_URL)")
        url = "redis://127.0.0.1:6379/9"
    return url


def test_rate_limits_are_shared_by_every_process_through_redis(app, demo, redis_url, tmp_path):
    """Two app instances (two gunicorn workers) count one address together in Redis."""
    import uuid

    from shopbuilder import create_app
    from shopbuilder.testing import make_test_config

    config = {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": redis_url,
              "API_ADDRESS_RATE_LIMIT": "4 per minute"}
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    workers = [create_app(make_test_config(url, str(tmp_path / f"w{i}"), **config))
               for i in range(2)]
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    statuses = [
        workers[i % 2].test_client().get(f"/api/v1/stores/{DEMO_STORE}",
                                         environ_base={"REMOTE_ADDR": address}).status_code
        for i in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]
