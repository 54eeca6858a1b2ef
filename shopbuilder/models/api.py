"""What the JSON API keeps: customers' bearer tokens and replayable order requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import ChainOwned, StoreOwned, Timestamped, UTCDateTime


class ApiToken(ChainOwned, Timestamped, db.Model):
    """A customer's bearer token, valid at every store of the chain (never another chain).

    Only the SHA-256 of the token is stored: a leaked table gives no usable token.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Where the token was issued (which store's mini program), for support and export.
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"))


class ApiIdempotencyKey(StoreOwned, Timestamped, db.Model):
    """The first answer to a request sent with an ``Idempotency-Key``, replayed on retries."""

    __table_args__ = (UniqueConstraint("store_id", "customer_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[int] = mapped_column(Integer, nullable=False)
    body: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
