"""The catalogue: HQ's master products, their variants, and what each store sells.

A chain of 5,000 products x 3 variants and 2,000 stores must not need 30
million rows before any store changes anything. So a product reaches stores
through a few ``Publication`` rows (all stores, a city, or one store each), its
price comes from the variant (or the publication's default), and a
``StoreListing`` row exists only where a store has stock or an override.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import ChainOwned, StoreOptional, StoreOwned, Timestamped


class Category(ChainOwned, db.Model):
    __table_args__ = (UniqueConstraint("chain_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), index=True)
    slug: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    position: Mapped[int] = mapped_column(Integer, default=0, nullable=False)

    parent: Mapped[Category | None] = relationship(remote_side="Category.id", lazy="select")


class Product(StoreOptional, Timestamped, db.Model):
    """A product of the master catalogue (``store_id`` NULL) or a store's local goods."""

    STATUSES = ("draft", "active", "archived")

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), index=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="active", nullable=False)
    #: Path of the main image under the media folder, if any.
    image: Mapped[str | None] = mapped_column(String(255))

    category: Mapped[Category | None] = relationship(lazy="select")
    variants: Mapped[list[Variant]] = relationship(
        back_populates="product", order_by="Variant.position", lazy="selectin"
    )


class Variant(ChainOwned, db.Model):
    """A sellable version of a product (size, weight...), with the chain's default price."""

    __table_args__ = (
        UniqueConstraint("chain_id", "sku"),
        CheckConstraint("price_fen >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True, nullable=False)
    sku: Mapped[str] = mapped_column(String(64), nullable=False)
    barcode: Mapped[str | None] = mapped_column(String(64))
    #: Option values such as {"size": "500g"}.
    options: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    price_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    compare_at_fen: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0, nullable=False)

    product: Mapped[Product] = relationship(back_populates="variants", lazy="joined")

    @property
    def label(self) -> str:
        return " / ".join(str(v) for v in self.options.values()) or self.sku


class Publication(ChainOwned, Timestamped, db.Model):
    """Makes a master product available to stores (商品下发).

    ``target`` is ``all`` (every store of the chain), ``city`` (stores whose
    city equals ``city``) or ``store`` (the one store ``store_id``).
    """

    TARGETS = ("all", "city", "store")

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True, nullable=False)
    target: Mapped[str] = mapped_column(String(8), nullable=False)
    city: Mapped[str | None] = mapped_column(String(64), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"), index=True)
    #: Default price for the stores it reaches; NULL means the variant's price.
    price_fen: Mapped[int | None] = mapped_column(Integer)


class StoreListing(StoreOwned, db.Model):
    """A variant as one store sells it: stock and the store's own overrides.

    Only exists once a store has stock or changes something; NULL columns
    inherit from the publication and variant. What a customer can buy is
    ``stock_on_hand - reserved``.
    """

    __table_args__ = (
        UniqueConstraint("store_id", "variant_id"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("stock_on_hand >= 0", name="stock_not_negative"),
        CheckConstraint("reserved <= stock_on_hand", name="reserved_within_stock"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id"), index=True, nullable=False)
    price_fen: Mapped[int | None] = mapped_column(Integer)
    compare_at_fen: Mapped[int | None] = mapped_column(Integer)
    stock_on_hand: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    reserved: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    #: NULL inherits "listed"; False hides the variant in this store.
    listed: Mapped[bool | None] = mapped_column(Boolean)
    low_stock_threshold: Mapped[int | None] = mapped_column(Integer)

    variant: Mapped[Variant] = relationship(lazy="joined")

    @property
    def available(self) -> int:
        return self.stock_on_hand - self.reserved
