"""Redis configured but down: the shops keep working without the cache."""

from __future__ import annotations

import socket

import pytest

from shopbuilder.extensions import db
from shopbuilder.models import Store
from shopbuilder.testing import PASSWORD, in_app


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends


@pytest.fixture
def app_config():
    # What SHOPBUILDER_REDIS_URL sets (shopbuilder.config.ENVIRONMENT): REDIS_URL.
    return {"REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0", "RATELIMIT_ENABLED": True}


def test_store_pages_answer_while_redis_is_down(app, client, store, customer, caplog):
    with in_app(app):
        db.session.get(Store, store.id).custom_domain = "tea.example.cn"
        db.session.commit()

    home = client.get(f"/s/{store.slug}/")
    again = client.get(f"/s/{store.slug}/")  # the page cache would have kept it
    by_domain = client.get("/login", base_url="http://tea.example.cn")
    signed_in = client.post(f"/s/{store.slug}/login",
                            data={"email": customer.email, "password": PASSWORD})

    assert home.status_code == again.status_code == 200
    assert store.name in home.get_data(as_text=True)
    assert by_domain.status_code == 200 and 'href="/register"' in by_domain.get_data(
        as_text=True)
    assert signed_in.status_code == 302  # rate limits fall back to memory
    # Logged once, when Redis was first found down (already while the fixtures ran).
    logged = caplog.get_records("setup") + caplog.get_records("call")
    assert any("Redis cache unavailable" in r.getMessage() for r in logged)


def test_the_configured_redis_cache_is_the_forgiving_one(app):
    from shopbuilder.cachebackend import ForgivingRedisCache
    from shopbuilder.extensions import cache

    with app.app_context():
        assert isinstance(cache.cache, ForgivingRedisCache)
        assert cache.get("anything") is None and cache.set("k", "v") is False
