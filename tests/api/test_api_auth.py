"""Bearer tokens: per chain, expiring, revocable, stored only as a hash."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_support import DEMO_STORE, sign_in

from shopbuilder import clock
from shopbuilder.extensions import db
from shopbuilder.models import ApiToken
from shopbuilder.testing import PASSWORD, in_app, make_chain, make_customer, make_store

# The same behaviour on both databases (PostgreSQL skips when unreachable).
pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


def test_token_works_at_every_store_of_the_chain(client, auth):
    for store in ("west-lake", "riverside", "old-town"):
        response = client.get(f"/api/v1/stores/{store}/me", headers=auth)
        assert response.status_code == 200
        assert response.get_json()["email"] == "customer@example.com"


def test_token_of_one_chain_is_refused_at_another_chains_store(app, client, auth):
    rival = make_chain(app, "rival", "Rival Tea")
    make_store(app, rival, "rival-one")
    response = client.get("/api/v1/stores/rival-one/me", headers=auth)
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_customer_of_another_chain_cannot_sign_in_here(app, client, demo):
    rival = make_chain(app, "rival", "Rival Tea")
    make_store(app, rival, "rival-one")
    make_customer(app, rival, email="only-rival@example.com")
    response = client.post(f"/api/v1/stores/{DEMO_STORE}/auth/token",
                           json={"email": "only-rival@example.com", "password": PASSWORD})
    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_credentials"
    assert sign_in(client, "rival-one", "only-rival@example.com", PASSWORD)


def test_wrong_password_is_refused_without_saying_which_part(client, demo):
    response = client.post(f"/api/v1/stores/{DEMO_STORE}/auth/token",
                           json={"email": demo["email"], "password": "nope"})
    unknown = client.post(f"/api/v1/stores/{DEMO_STORE}/auth/token",
                          json={"email": "nobody@example.com", "password": "nope"})
    assert response.status_code == unknown.status_code == 401
    assert response.get_json() == unknown.get_json()


def test_revoked_token_stops_working(client, auth):
    assert client.delete(f"/api/v1/stores/{DEMO_STORE}/auth/token", headers=auth).status_code == 204
    assert client.get(f"/api/v1/stores/{DEMO_STORE}/me", headers=auth).status_code == 401


def test_expired_token_stops_working(app, client, auth):
    with clock.frozen(clock.now() + timedelta(seconds=app.config["API_TOKEN_TTL"] + 1)):
        assert client.get(f"/api/v1/stores/{DEMO_STORE}/me", headers=auth).status_code == 401
    assert client.get(f"/api/v1/stores/{DEMO_STORE}/me", headers=auth).status_code == 200


def test_only_a_hash_of_the_token_is_stored(app, token):
    with in_app(app):
        stored = db.session.scalars(db.select(ApiToken.token_hash)).all()
    assert stored and token not in stored
    assert all(len(h) == 64 for h in stored)


def test_garbage_authorization_is_unauthorized_not_an_error(client, demo):
    for header in ("Bearer", "Bearer " + "x" * 5000, "Basic abc", "Bearer \u00e9\u00e9"):
        response = client.get(f"/api/v1/stores/{DEMO_STORE}/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.mimetype == "application/problem+json"


def test_register_gives_a_token_and_a_second_time_is_a_conflict(client, contract, demo):
    path = f"/api/v1/stores/{DEMO_STORE}/auth/register"
    body = {"name": "李雷", "email": "Li.Lei@Example.com", "password": "long-enough-1"}
    response = client.post(path, json=body)
    contract.check(response, "api_register")
    assert response.status_code == 201
    token = response.get_json()["access_token"]
    me = client.get("/api/v1/stores/old-town/me", headers={"Authorization": f"Bearer {token}"})
    assert me.get_json()["email"] == "li.lei@example.com"
    again = client.post(path, json={**body, "email": "li.lei@example.com"})
    contract.check(again, "api_register")
    assert again.status_code == 409
    short = client.post(path, json={**body, "email": "x@example.com", "password": "short"})
    assert short.status_code == 422
    assert short.get_json()["errors"][0]["field"] == "password"
