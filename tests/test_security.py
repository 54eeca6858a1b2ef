"""CSRF on every form, sign-in rate limits, password hashing cost, cookies, sessions."""

from __future__ import annotations

import os
import uuid

import pytest
from werkzeug.security import generate_password_hash

from shopbuilder import config
from shopbuilder.testing import PASSWORD, example_url_values, in_app, login

REDIS_URL = os.environ.get("SHOPBUILDER_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


def html_post_rules(app):
    """POST routes of the HTML surfaces (the JSON API authenticates without cookies)."""
    for rule in app.url_map.iter_rules():
        if "POST" in (rule.methods or ()) and not rule.rule.startswith("/api/"):
            yield rule


def test_every_html_post_route_refuses_a_request_without_csrf_token(app, client, store):
    app.config["WTF_CSRF_ENABLED"] = True
    refused, accepted = [], []
    for rule in html_post_rules(app):
        values = example_url_values(rule, store=store.slug, chain="acme")
        with app.test_request_context():
            url = app.url_for(rule.endpoint, **values)
        response = client.post(url, data={"email": "a@b.test", "password": "x"})
        (refused if response.status_code == 400 else accepted).append(
            f"{url} -> {response.status_code}")
    assert not accepted, "POST routes that did not demand a CSRF token:\n" + "\n".join(accepted)
    assert len(refused) >= 10


def test_forms_carry_a_csrf_token_when_enabled(app, client, store, chain):
    app.config["WTF_CSRF_ENABLED"] = True
    for url in (f"/s/{store.slug}/login", f"/s/{store.slug}/manage/login",
                f"/hq/{chain.slug}/login", "/admin/login"):
        page = client.get(url).get_data(as_text=True)
        assert 'name="csrf_token"' in page, url


def _hammer_login(client, store, attempts):
    return [client.post(f"/s/{store.slug}/manage/login",
                        data={"email": "nobody@x.test", "password": "wrong"}).status_code
            for _ in range(attempts)]


@pytest.mark.parametrize("app_config", [{
    "RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute",
    "RATELIMIT_STORAGE_URI": "memory://",
}])
def test_login_attempts_are_rate_limited_in_memory(client, store):
    assert _hammer_login(client, store, 4) == [200, 200, 200, 429]


def redis_reachable() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


@pytest.mark.parametrize("app_config", [{
    "RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute",
    "RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
}])
def test_login_attempts_are_rate_limited_in_redis(app, client, store):
    if not redis_reachable():
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    assert _hammer_login(client, store, 4) == [200, 200, 200, 429]
    # A second process (another gunicorn worker) shares the count.
    other = app.test_client()
    assert _hammer_login(other, store, 1) == [429]


def test_production_passwords_use_owasp_scrypt_cost():
    assert config.PRODUCTION_PASSWORD_METHOD == "scrypt:131072:8:1"  # N=2**17, r=8, p=1
    assert config.Defaults.PASSWORD_HASH_METHOD == config.PRODUCTION_PASSWORD_METHOD
    hashed = generate_password_hash("long-enough-1", method=config.PRODUCTION_PASSWORD_METHOD)
    assert hashed.startswith("scrypt:131072:8:1$")


def session_cookie(response) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))


def test_session_cookie_is_httponly_and_samesite_lax(client, store, customer):
    cookie = session_cookie(login(client, customer, store=store))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


@pytest.mark.parametrize("app_config", [{"PREFERRED_URL_SCHEME": "https"}])
def test_https_deployments_get_secure_cookies(app, client, store, customer):
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    response = client.post(f"/s/{store.slug}/login", base_url="https://localhost",
                           data={"email": customer.email, "password": PASSWORD})
    assert "Secure" in session_cookie(response)


def test_customer_is_signed_in_across_the_chains_stores_only(
        client, store, other_store, other_chain_store, customer):
    login(client, customer, store=store)
    same_chain = client.get(f"/s/{other_store.slug}/account")
    assert same_chain.status_code == 200 and customer.name in same_chain.get_data(as_text=True)
    other_chain = client.get(f"/s/{other_chain_store.slug}/account")
    assert other_chain.status_code == 302
    assert "/login" in other_chain.headers["Location"]


def test_staff_of_one_store_cannot_enter_another_stores_console(client, store, other_store,
                                                                 manager):
    login(client, manager, store=store)
    assert client.get(f"/s/{store.slug}/manage/").status_code == 200
    assert client.get(f"/s/{other_store.slug}/manage/").status_code == 404


def test_suspended_store_closes_its_console_too(app, client, store, manager):
    login(client, manager, store=store)
    with in_app(app) as session:
        session.get(type(store), store.id).status = "suspended"
        session.commit()
    for path in ("manage/", "manage/login", "manage/staff"):
        assert client.get(f"/s/{store.slug}/{path}").status_code == 503, path
