"""Customers' bearer tokens: issued at sign-in, expiring, revocable, valid chain-wide."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, g

from .. import clock
from ..extensions import db
from ..models import ApiToken, Customer


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(customer: Customer, store=None) -> tuple[str, ApiToken]:
    """A new token for ``customer``; only its hash is kept, so show it once."""
    token = secrets.token_urlsafe(32)
    ttl = timedelta(seconds=current_app.config["API_TOKEN_TTL"])
    row = ApiToken(
        chain_id=customer.chain_id, customer_id=customer.id, token_hash=token_hash(token),
        expires_at=clock.now() + ttl, store_id=store.id if store is not None else None,
    )
    db.session.add(row)
    db.session.commit()
    return token, row


def _live_token(token: str) -> ApiToken | None:
    # The tenant guard narrows this to the request's chain: another chain's token is unknown.
    row = db.session.scalar(db.select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= clock.now():
        return None
    return row


def customer_for_token(token: str) -> Customer | None:
    if g.get("chain") is None or len(token) > 200:
        return None
    row = _live_token(token)
    if row is None:
        return None
    customer = db.session.get(Customer, row.customer_id)
    if customer is None or customer.chain_id != g.chain.id:
        return None
    g.api_token = row
    return customer


def revoke_token(token: str) -> bool:
    row = _live_token(token)
    if row is None:
        return False
    row.revoked_at = clock.now()
    db.session.commit()
    return True


def revoke_all(customer: Customer) -> int:
    rows = db.session.scalars(db.select(ApiToken).where(
        ApiToken.customer_id == customer.id, ApiToken.revoked_at.is_(None)))
    count = 0
    for row in rows:
        row.revoked_at = clock.now()
        count += 1
    db.session.commit()
    return count
