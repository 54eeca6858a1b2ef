"""Chains (HQ) and their stores, the tenants of the platform."""

from __future__ import annotations

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import Timestamped

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"


class Chain(Timestamped, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), default="CNY", nullable=False)
    locale: Mapped[str] = mapped_column(String(10), default="zh_CN", nullable=False)
    #: Royalty HQ takes from each store sale, in basis points (1/100 of a percent).
    royalty_bp: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    #: Chain-wide settings (theme, deadlines, ...); see the settings modules for keys.
    settings: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)

    stores: Mapped[list[Store]] = relationship(back_populates="chain", lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"<Chain {self.slug}>"


class Store(Timestamped, db.Model):
    """One franchise or owned outlet; the tenant that owns a shop."""

    STATUSES = ("active", "suspended")
    #: The store finder reads a latitude/longitude box of one chain (nearest stores first),
    #: so 100,000 stores cost what 10 do.
    __table_args__ = (Index("ix_store_chain_lat_lng", "chain_id", "lat", "lng"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chain_id: Mapped[int] = mapped_column(ForeignKey("chain.id"), index=True, nullable=False)
    slug: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="active", nullable=False)
    custom_domain: Mapped[str | None] = mapped_column(String(253), unique=True)
    address: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    city: Mapped[str] = mapped_column(String(64), default="", nullable=False, index=True)
    phone: Mapped[str] = mapped_column(String(32), default="", nullable=False)
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    #: Opening hours as {"mon": [["09:00", "21:00"]], ...}; empty means unknown.
    opening_hours: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    #: None means "the chain's locale".
    locale: Mapped[str | None] = mapped_column(String(10))
    #: Store-level overrides of chain settings (theme, plugin settings...).
    settings: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)

    chain: Mapped[Chain] = relationship(back_populates="stores", lazy="joined")

    @property
    def is_suspended(self) -> bool:
        return self.status == "suspended"

    @property
    def effective_locale(self) -> str:
        return self.locale or self.chain.locale

    def __repr__(self) -> str:
        return f"<Store {self.slug}>"

