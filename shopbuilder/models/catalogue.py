"""The catalogue: HQ's master products, their variants, and what each store sells.

A chain of 5,000 products x 3 variants and 2,000 stores must not need 30
million rows before any store changes anything. So a product reaches stores
through a few ``Publication`` rows (all stores, a city, or one store each), its
price comes from the variant (or the publication's default), and a
``StoreListing`` row exists only where a store has stock or an override.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from ..extensions import db
from ..textsearch import index_text
from .base import ChainOwned, StoreOptional, StoreOwned, Timestamped, UTCDateTime


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
    #: Title, description and SKUs as search tokens (CJK bigrams, lower-case words), kept
    #: in sync by :mod:`shopbuilder.services.search` on every flush; full-text indexed.
    search_text: Mapped[str] = mapped_column(Text, default="", nullable=False)

    category: Mapped[Category | None] = relationship(lazy="select")
    variants: Mapped[list[Variant]] = relationship(
        back_populates="product", order_by="Variant.position", lazy="selectin"
    )
    images: Mapped[list[ProductImage]] = relationship(
        back_populates="product", order_by="ProductImage.position", lazy="selectin",
        cascade="all, delete-orphan",
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


# SKUs are unique per chain whatever their case ("LJ-50" and "lj-50" are one code on a
# till's scanner and in a CSV): the services check it, this index makes two saves at once
# unable to slip past the check. (chain_id, sku) stays for exact lookups.
Index("uq_variant_chain_sku_lower", Variant.chain_id, func.lower(Variant.sku), unique=True)


class Publication(ChainOwned, Timestamped, db.Model):
    """Makes a master product available to stores (商品下发).

    ``target`` is ``all`` (every store of the chain), ``city`` (stores whose
    city equals ``city``) or ``store`` (the one store ``store_id``).
    """

    TARGETS = ("all", "city", "store")
    # "Does a publication reach this store?" is asked per product, one branch per
    # target (services/search.py:publication_reaches): (chain, "all", product),
    # (chain, "city", product) + the city, (chain, "store", product, store) are all
    # seeks on this one index, so a product published to 2,000 chosen stores costs
    # what one published to all does; (chain, "all") alone serves whole-chain pages.
    __table_args__ = (
        Index("ix_publication_reach", "chain_id", "target", "product_id", "store_id"),
    )

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


class ProductImage(ChainOwned, Timestamped, db.Model):
    """One picture of a product, re-encoded by us and named by its content hash.

    The file name is the SHA-256 of the stored bytes, so a URL never changes
    meaning and can be cached for a year.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True, nullable=False)
    position: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    #: Paths under MEDIA_FOLDER.
    path: Mapped[str] = mapped_column(String(255), nullable=False)
    thumb_path: Mapped[str] = mapped_column(String(255), nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)

    product: Mapped[Product] = relationship(back_populates="images")


class StoreApiKey(StoreOwned, Timestamped, db.Model):
    """A key a store's till or ERP uses for the stock sync API.

    Only the SHA-256 of the key is stored: keys are 32 random bytes, so a fast
    hash is as safe as a slow one (nobody can brute-force 256 bits) and lets a
    request find its key by an indexed lookup.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    #: The first characters of the key, shown so people can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class StockSyncRequest(StoreOwned, Timestamped, db.Model):
    """The answer given to one stock sync ``request_id``, replayed on a retry."""

    __table_args__ = (UniqueConstraint("store_id", "request_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(100), nullable=False)
    #: SHA-256 of the canonical request body: same id with another body is a 409.
    body_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[int] = mapped_column(Integer, nullable=False)
    response: Mapped[dict] = mapped_column(JSON, nullable=False)


# -- full-text search index -------------------------------------------------------------------
# SQLite: an FTS5 table mirroring product.search_text, kept in step by triggers so every
# writer (ORM, bulk insert, raw SQL) updates it. PostgreSQL: a GIN index over the tsvector of
# the same text. ``search_text`` is already tokenised (CJK bigrams), so both engines only
# split on spaces.
SQLITE_SEARCH_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS product_fts USING fts5("
    "search_text, content='product', content_rowid='id', tokenize='unicode61')",
    "CREATE TRIGGER IF NOT EXISTS product_fts_ai AFTER INSERT ON product BEGIN "
    "INSERT INTO product_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS product_fts_ad AFTER DELETE ON product BEGIN "
    "INSERT INTO product_fts(product_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS product_fts_au AFTER UPDATE OF search_text ON product BEGIN "
    "INSERT INTO product_fts(product_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO product_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
]
POSTGRES_SEARCH_DDL = [
    "CREATE INDEX IF NOT EXISTS ix_product_search_tsv ON product "
    "USING gin (to_tsvector('simple', search_text))",
]

for _statement in SQLITE_SEARCH_DDL:
    event.listen(
        Product.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite")
    )
for _statement in POSTGRES_SEARCH_DDL:
    event.listen(
        Product.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql")
    )
event.listen(
    Product.__table__, "before_drop",
    DDL("DROP TABLE IF EXISTS product_fts").execute_if(dialect="sqlite"),
)


def refresh_search_text(product: Product) -> None:
    product.search_text = index_text(
        product.title or "", product.description or "", [v.sku for v in product.variants if v.sku]
    )


@event.listens_for(Session, "before_flush")
def _keep_search_text_in_sync(session, flush_context, instances) -> None:
    """Recompute a product's tokens whenever it or one of its variants changes."""
    touched: list[Product] = []
    with session.no_autoflush:
        for obj in list(session.new) + list(session.dirty) + list(session.deleted):
            product = None
            if isinstance(obj, Product):
                product = obj if obj not in session.deleted else None
            elif isinstance(obj, Variant):
                product = obj.__dict__.get("product")
                if product is None and obj.product_id is not None:
                    product = session.get(Product, obj.product_id)
            if product is not None and product not in session.deleted and product not in touched:
                touched.append(product)
        for product in touched:
            _refresh_product_tokens(session, product)


def _refresh_product_tokens(session, product: Product) -> None:
    variants = [v for v in product.variants if v not in session.deleted]
    for obj in session.new:
        if isinstance(obj, Variant) and obj not in variants and (
            obj.__dict__.get("product") is product
            or (obj.product_id is not None and obj.product_id == product.id)
        ):
            variants.append(obj)
    product.search_text = index_text(
        product.title or "", product.description or "", [v.sku for v in variants if v.sku]
    )
