"""Column types and mixins shared by every model."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Integer, TypeDecorator
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from .. import clock


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every database.

    SQLite drops the offset, so values are normalised to UTC on the way in
    and given ``tzinfo=UTC`` on the way out; naive datetimes are refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use shopbuilder.clock.now()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return clock.now()


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class ChainOwned:
    """A row that belongs to one chain; queries in a tenant request see only that chain's."""

    @declared_attr
    def chain_id(cls) -> Mapped[int]:
        return mapped_column(Integer, ForeignKey("chain.id"), index=True, nullable=False)


class StoreOptional(ChainOwned):
    """A chain row that one store may own (a store-local product, a store role).

    In a store request such rows are seen when they are chain-wide (no store)
    or this store's own.
    """

    @declared_attr
    def store_id(cls) -> Mapped[int | None]:
        return mapped_column(Integer, ForeignKey("store.id"), index=True, nullable=True)


class StoreOwned(ChainOwned):
    """A row that belongs to one store; queries in a store request see only that store's."""

    @declared_attr
    def store_id(cls) -> Mapped[int]:
        return mapped_column(Integer, ForeignKey("store.id"), index=True, nullable=False)
