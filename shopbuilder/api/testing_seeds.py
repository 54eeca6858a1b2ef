"""Seed factories for the API's own models, for the generic tenant-isolation tests."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from .. import clock
from ..models import ApiIdempotencyKey, ApiToken, Customer
from ..testing import PASSWORD, register_api_credentials, seed, seed_factory, unique


@seed_factory(ApiToken)
def _seed_token(session, store):
    customer = seed(session, Customer, store)
    return ApiToken(chain_id=store.chain_id, customer_id=customer.id, store_id=store.id,
                    token_hash=hashlib.sha256(unique("token").encode()).hexdigest(),
                    expires_at=clock.now() + timedelta(days=1))


@seed_factory(ApiIdempotencyKey)
def _seed_idempotency_key(session, store):
    customer = seed(session, Customer, store)
    return ApiIdempotencyKey(chain_id=store.chain_id, store_id=store.id,
                             customer_id=customer.id, key=unique("key"),
                             request_hash="0" * 64, status=201, body={})


@register_api_credentials
def _customer_bearer_token(client, account, store):
    """A customer signs in on the API; staff have no API account (None: not asked)."""
    if getattr(account, "kind", None) != "customer":
        return None
    response = client.post(f"/api/v1/stores/{store.slug}/auth/token",
                           json={"email": account.email, "password": PASSWORD})
    assert response.status_code == 201, response.get_data(as_text=True)
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}
