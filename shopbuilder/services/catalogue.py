"""The write side of the catalogue: products, publishing, store listings, CSV, stock sync.

Read pages (home, category, product) live in ``storefront_catalogue``; search in
``search``. Everything here runs inside the caller's tenant scope and leaves
the commit to the caller unless it says otherwise, so a view can do several
things in one transaction.

Stock is changed only by conditional UPDATEs (``... WHERE reserved <= :new``),
never by read-modify-write in Python, so an order reserving stock at the same
moment can never leave ``reserved > stock_on_hand``; the CHECK constraints on
``store_listing`` are the last line of defence.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from .. import clock
from ..extensions import db
from ..models import (
    Category,
    Chain,
    Product,
    Publication,
    StockSyncRequest,
    Store,
    StoreApiKey,
    StoreListing,
    Variant,
)
from ..money import parse_yuan, yuan_text
from .search import effective_price, listing_join, sold_in_store
from .storefront_catalogue import note_chain_changed, note_store_changed

log = logging.getLogger(__name__)

SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
MAX_SYNC_ROWS = 1000
MAX_IMPORT_ROWS = 50_000
_CHUNK = 500


class CatalogueError(ValueError):
    """Bad input, with messages fit to show the person who typed it."""

    def __init__(self, messages):
        if not isinstance(messages, list | tuple):
            messages = [messages]
        self.messages = list(messages)
        super().__init__("; ".join(str(m) for m in self.messages))


def _chunks(items: list, size: int = _CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- categories --------------------------------------------------------------------------------


def category_tree(chain_id: int) -> list[tuple[Category, int]]:
    """Every category of the chain, depth-first, with its depth (for indented lists)."""
    rows = db.session.scalars(
        select(Category).where(Category.chain_id == chain_id)
        .order_by(Category.position, Category.name)
    ).all()
    children: dict[int | None, list[Category]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    out: list[tuple[Category, int]] = []

    def walk(parent_id, depth):
        for row in children.get(parent_id, []):
            out.append((row, depth))
            if depth < 20:
                walk(row.id, depth + 1)

    walk(None, 0)
    return out


def category_subtree_ids(chain_id: int, category_id: int) -> list[int]:
    ids, seen = [category_id], {category_id}
    tree = category_tree(chain_id)
    changed = True
    while changed:
        changed = False
        for row, _depth in tree:
            if row.parent_id in seen and row.id not in seen:
                seen.add(row.id)
                ids.append(row.id)
                changed = True
    return ids


def save_category(chain: Chain, name: str, slug: str, parent_id: int | None,
                  position: int = 0, category: Category | None = None) -> Category:
    name, slug = (name or "").strip(), (slug or "").strip().lower()
    errors = []
    if not name:
        errors.append(_l("A category needs a name."))
    if not re.match(r"^[a-z0-9][a-z0-9-]{0,63}$", slug):
        errors.append(_l("Use lower-case letters, digits and dashes for the slug."))
    parent = None
    if parent_id:
        parent = db.session.get(Category, parent_id)
        if parent is None:
            errors.append(_l("That parent category does not exist."))
        elif category is not None and parent.id in category_subtree_ids(chain.id, category.id):
            errors.append(_l("A category cannot be moved under itself."))
    taken = db.session.scalar(select(Category.id).where(
        Category.chain_id == chain.id, Category.slug == slug,
        Category.id != (category.id if category is not None else -1),
    ))
    if taken:
        errors.append(_l("Another category already uses this slug."))
    if errors:
        raise CatalogueError(errors)
    if category is None:
        category = Category(chain_id=chain.id)
        db.session.add(category)
    category.name, category.slug = name, slug
    category.parent_id = parent.id if parent is not None else None
    category.position = position
    db.session.flush()
    return category


def delete_category(category: Category) -> None:
    if db.session.scalar(select(Category.id).where(Category.parent_id == category.id).limit(1)):
        raise CatalogueError(_l("Move or delete its sub-categories first."))
    if db.session.scalar(select(Product.id).where(Product.category_id == category.id).limit(1)):
        raise CatalogueError(_l("Products still use this category."))
    db.session.delete(category)
    db.session.flush()


# -- products and variants ----------------------------------------------------------------------


def parse_options(text: str) -> dict:
    """``"size=500g; colour=red"`` -> ``{"size": "500g", "colour": "red"}``."""
    options = {}
    for part in re.split(r"[;；\n]", text or ""):
        part = part.strip()
        if not part:
            continue
        if "=" not in part and "：" not in part and ":" not in part:
            raise CatalogueError(_l("Write options as name=value, e.g. size=500g."))
        name, value = re.split(r"[=:：]", part, maxsplit=1)
        if not name.strip() or not value.strip():
            raise CatalogueError(_l("Write options as name=value, e.g. size=500g."))
        options[name.strip()[:40]] = value.strip()[:80]
    return options


def format_options(options: dict) -> str:
    return "; ".join(f"{k}={v}" for k, v in (options or {}).items())


@dataclass
class VariantInput:
    sku: str
    price: str
    options: str = ""
    barcode: str = ""
    compare_at: str = ""
    id: int | None = None


def save_product(chain_id: int, *, title: str, description: str, category_id: int | None,
                 status: str, variants: list[VariantInput], product: Product | None = None,
                 store_id: int | None = None) -> Product:
    """Create or update a product and its variants; raises CatalogueError listing every problem.

    Variants left out of ``variants`` are deleted unless an order or listing
    refers to them, in which case the caller gets an error instead.
    """
    errors: list = []
    title = (title or "").strip()
    if not title:
        errors.append(_l("A product needs a title."))
    if len(title) > 200:
        errors.append(_l("The title is too long (200 characters at most)."))
    if status not in Product.STATUSES:
        errors.append(_l("Unknown status."))
    if category_id and db.session.get(Category, category_id) is None:
        errors.append(_l("That category does not exist."))
    rows = [v for v in variants if (v.sku or "").strip() or (v.price or "").strip()]
    if not rows:
        errors.append(_l("A product needs at least one variant with a SKU and a price."))
    seen: set[str] = set()
    parsed = []
    for number, row in enumerate(rows, start=1):
        sku = (row.sku or "").strip()
        if not SKU_PATTERN.match(sku):
            errors.append(_l("Variant %(n)s: the SKU must be letters, digits, '-', '_', '.' or "
                             "'/' (64 at most).", n=number))
            continue
        if sku.lower() in seen:
            errors.append(_l("Variant %(n)s: SKU %(sku)s appears twice.", n=number, sku=sku))
        seen.add(sku.lower())
        try:
            price_fen = parse_yuan(row.price)
        except ValueError:
            errors.append(_l("Variant %(n)s: the price must be an amount in yuan, such as "
                             "12.80.", n=number))
            continue
        compare_at = None
        if (row.compare_at or "").strip():
            try:
                compare_at = parse_yuan(row.compare_at)
            except ValueError:
                errors.append(_l("Variant %(n)s: the compare-at price must be an amount in "
                                 "yuan.", n=number))
                continue
        try:
            options = parse_options(row.options)
        except CatalogueError as exc:
            errors.append(_l("Variant %(n)s: %(problem)s", n=number, problem=exc.messages[0]))
            continue
        parsed.append((row, sku, price_fen, compare_at, options))
    existing = {v.id: v for v in (product.variants if product is not None else [])}
    if parsed:
        for vid, sku in _skus_taken_anywhere(chain_id, [p[1] for p in parsed]):
            if vid not in existing:
                errors.append(_l("SKU %(sku)s is already used by another product of the chain.",
                                 sku=sku))
    if errors:
        raise CatalogueError(list(dict.fromkeys(str(e) for e in errors)))
    try:
        return _write_product(chain_id, product, store_id, title, description, category_id,
                              status, parsed, existing)
    except IntegrityError as exc:
        # Someone saved the same SKU (in any case) a moment ago: the unique index caught it.
        raise CatalogueError(_l("A SKU of this product was just taken by another product; "
                                "please check the SKUs.")) from exc


def _write_product(chain_id, product, store_id, title, description, category_id, status,
                   parsed, existing) -> Product:
    """The writing half of :func:`save_product`, once every field has been checked."""
    if product is None:
        product = Product(chain_id=chain_id, store_id=store_id)
        db.session.add(product)
    product.title = title
    product.description = (description or "").strip()
    product.category_id = category_id or None
    product.status = status
    db.session.flush()
    product.variants  # noqa: B018 -- load the collection before adding to it
    kept = set()
    for position, (row, sku, price_fen, compare_at, options) in enumerate(parsed):
        variant = existing.get(row.id) if row.id else None
        if variant is None:
            variant = next((v for v in existing.values() if v.sku.lower() == sku.lower()), None)
        if variant is None:
            variant = Variant(chain_id=chain_id, product_id=product.id, sku=sku,
                              price_fen=price_fen)
            product.variants.append(variant)
        variant.sku, variant.price_fen, variant.compare_at_fen = sku, price_fen, compare_at
        variant.options, variant.barcode = options, (row.barcode or "").strip()[:64] or None
        variant.position = position
        kept.add(id(variant))
    for variant in list(existing.values()):
        if id(variant) not in kept:
            used = db.session.scalar(
                select(func.count()).select_from(StoreListing)
                .where(StoreListing.variant_id == variant.id, StoreListing.reserved > 0)
            )
            if used:
                raise CatalogueError(_l("Variant %(sku)s has reserved stock in a store and cannot "
                                        "be removed.", sku=variant.sku))
            db.session.execute(
                delete(StoreListing).where(StoreListing.variant_id == variant.id)
                .execution_options(synchronize_session=False)
            )
            product.variants.remove(variant)
            db.session.delete(variant)
    db.session.flush()
    return product


def _skus_taken_anywhere(chain_id: int, skus: list[str]) -> list[tuple[int, str]]:
    """SKUs are unique per chain, including other stores' local products the scope hides."""
    from ..tenancy import TenantScope, scope

    with scope(TenantScope(chain_id, None)):
        return list(db.session.execute(
            select(Variant.id, Variant.sku).where(
                Variant.chain_id == chain_id,
                func.lower(Variant.sku).in_([s.lower() for s in skus]),
            )
        ).all())


def product_page(chain_id: int, q: str = "", page: int = 1, per_page: int = 25,
                 store_id: int | None = None, category_id: int | None = None):
    """A page of master (or one store's local) products, newest first, for the consoles."""
    stmt = select(Product).where(Product.chain_id == chain_id)
    stmt = stmt.where(Product.store_id == store_id if store_id else Product.store_id.is_(None))
    if category_id:
        stmt = stmt.where(Product.category_id == category_id)
    q = (q or "").strip()
    if q:
        like = f"%{q.lower()}%"
        sku_match = select(Variant.id).where(
            Variant.product_id == Product.id, func.lower(Variant.sku).like(like)
        ).exists()
        stmt = stmt.where(or_(func.lower(Product.title).like(like), sku_match))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.scalars(
        stmt.order_by(Product.id.desc()).limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).all()
    return rows, total


# -- publishing (商品下发) ----------------------------------------------------------------------


def stores_for_target(chain_id: int, target: str, city: str | None = None,
                      store_ids: Iterable[int] | None = None):
    """SQL select of the ids of the chain's stores a publication target would reach."""
    stmt = select(Store.id).where(Store.chain_id == chain_id)
    if target == "city":
        stmt = stmt.where(Store.city == (city or ""))
    elif target == "store":
        stmt = stmt.where(Store.id.in_(list(store_ids or [])))
    elif target != "all":
        raise CatalogueError(_l("Choose all stores, a city or some stores."))
    return stmt


def count_reach(chain_id: int, target: str, city: str | None = None,
                store_ids: Iterable[int] | None = None) -> int:
    ids = stores_for_target(chain_id, target, city, store_ids)
    return db.session.scalar(select(func.count()).select_from(ids.subquery())) or 0


def stores_reached(product: Product) -> int:
    """How many stores currently see ``product`` through its publications."""
    pubs = db.session.scalars(
        select(Publication).where(Publication.product_id == product.id)
    ).all()
    if not pubs:
        return 0
    if any(p.target == "all" for p in pubs):
        return count_reach(product.chain_id, "all")
    cities = {p.city for p in pubs if p.target == "city"}
    store_ids = {p.store_id for p in pubs if p.target == "store"}
    stmt = select(func.count()).select_from(Store).where(
        Store.chain_id == product.chain_id,
        or_(Store.city.in_(cities or [""]) if cities else False,
            Store.id.in_(store_ids) if store_ids else False),
    )
    return db.session.scalar(stmt) or 0


def publish(product: Product, target: str, *, city: str | None = None,
            store_ids: Iterable[int] | None = None, price_fen: int | None = None) -> int:
    """Make ``product`` available to the target stores; returns how many stores it reaches.

    One row per target (all / city / store), so publishing to every store is one
    row, and to 2,000 chosen stores 2,000 small rows, never a row per variant.
    Re-publishing to the same target updates its default price; a store's own
    price overrides (``StoreListing.price_fen``) are never touched.
    """
    if product.store_id is not None:
        raise CatalogueError(_l("A store's own product cannot be published to other stores."))
    if price_fen is not None and price_fen < 0:
        raise CatalogueError(_l("The price cannot be negative."))
    chain_id = product.chain_id
    if target == "all":
        _upsert_publication(product, "all", price_fen=price_fen)
    elif target == "city":
        city = (city or "").strip()
        if not city or not count_reach(chain_id, "city", city):
            raise CatalogueError(_l("No store is in that city."))
        _upsert_publication(product, "city", city=city, price_fen=price_fen)
    elif target == "store":
        wanted = set(db.session.scalars(stores_for_target(chain_id, "store", store_ids=store_ids)))
        if not wanted:
            raise CatalogueError(_l("Choose at least one store."))
        existing = dict(db.session.execute(
            select(Publication.store_id, Publication.id).where(
                Publication.product_id == product.id, Publication.target == "store"
            )
        ).all())
        now = clock.now()
        new_rows = [
            {"chain_id": chain_id, "product_id": product.id, "target": "store",
             "store_id": sid, "price_fen": price_fen, "created_at": now}
            for sid in sorted(wanted - existing.keys())
        ]
        for chunk in _chunks(new_rows):
            db.session.execute(insert(Publication), chunk)
        again = [existing[sid] for sid in wanted & existing.keys()]
        for chunk in _chunks(again):
            db.session.execute(
                update(Publication).where(Publication.id.in_(chunk)).values(price_fen=price_fen)
                .execution_options(synchronize_session=False)
            )
    else:
        raise CatalogueError(_l("Choose all stores, a city or some stores."))
    # The rows for chosen stores are bulk inserts, which the unit of work never sees.
    note_chain_changed(db.session, chain_id)
    if product.status == "draft":
        product.status = "active"
    db.session.flush()
    return stores_reached(product)


def _upsert_publication(product: Product, target: str, city: str | None = None,
                        price_fen: int | None = None) -> None:
    stmt = select(Publication).where(
        Publication.product_id == product.id, Publication.target == target
    )
    if target == "city":
        stmt = stmt.where(Publication.city == city)
    row = db.session.scalars(stmt.limit(1)).first()
    if row is None:
        row = Publication(chain_id=product.chain_id, product_id=product.id, target=target,
                          city=city)
        db.session.add(row)
    row.price_fen = price_fen


def unpublish(product: Product, publication_id: int | None = None) -> int:
    """Remove one publication, or all of them (the product disappears from every store).

    Store listings (stock, overrides) stay, so publishing again restores them.
    """
    stmt = delete(Publication).where(Publication.product_id == product.id)
    if publication_id is not None:
        stmt = stmt.where(Publication.id == publication_id)
    result = db.session.execute(stmt.execution_options(synchronize_session=False))
    note_chain_changed(db.session, product.chain_id)
    return result.rowcount or 0


def _like(q: str) -> str:
    """A LIKE pattern for ``q`` anywhere, with the user's own ``%`` and ``_`` taken literally."""
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _store_matches(q: str):
    like = _like(q)
    return or_(func.lower(Store.name).like(like, escape="\\"),
               func.lower(Store.slug).like(like, escape="\\"),
               func.lower(Store.city).like(like, escape="\\"))


def store_page(chain_id: int, q: str = "", page: int = 1, per_page: int = 100):
    """A page of the chain's stores ``(id, name, slug, city)`` matching ``q`` (name, slug, city).

    Returns ``(rows, total)``: pickers show a page and say how many match, instead of
    listing every store of a 2,000-store chain (or silently stopping at a limit).
    """
    stmt = select(Store.id, Store.name, Store.slug, Store.city).where(Store.chain_id == chain_id)
    q = (q or "").strip()
    if q:
        stmt = stmt.where(_store_matches(q))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.execute(
        stmt.order_by(Store.city, Store.name, Store.id)
        .limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).all()
    return rows, total


def store_ids_matching(chain_id: int, q: str) -> list[int]:
    """Every store of the chain matching ``q`` ("all stores matching this search")."""
    q = (q or "").strip()
    stmt = select(Store.id).where(Store.chain_id == chain_id)
    if q:
        stmt = stmt.where(_store_matches(q))
    return list(db.session.scalars(stmt))


def stores_by_slugs(chain_id: int, text_: str) -> tuple[list[int], list[str]]:
    """Store ids for slugs pasted one per line (or separated by commas or spaces).

    Returns ``(ids, unknown slugs)``; a slug of another chain's store is unknown here.
    """
    slugs = list(dict.fromkeys(
        s.strip().lower() for s in re.split(r"[\s,;，；]+", text_ or "") if s.strip()
    ))
    found: dict[str, int] = {}
    for chunk in _chunks(slugs):
        found.update({slug.lower(): sid for sid, slug in db.session.execute(
            select(Store.id, Store.slug).where(Store.chain_id == chain_id,
                                               func.lower(Store.slug).in_(chunk))
        )})
    return [found[s] for s in slugs if s in found], [s for s in slugs if s not in found]


def publications_page(product: Product, q: str = "", page: int = 1, per_page: int = 50):
    """A page of ``product``'s publications with the store's name, and how many there are.

    ``q`` finds a store publication by the store's name, slug or city, or a city
    publication by its city, so one of 2,000 chosen stores can be found and removed.
    """
    stmt = (
        select(Publication, Store.name, Store.slug)
        .outerjoin(Store, Store.id == Publication.store_id)
        .where(Publication.product_id == product.id)
    )
    q = (q or "").strip()
    if q:
        stmt = stmt.where(or_(_store_matches(q),
                              func.lower(Publication.city).like(_like(q), escape="\\")))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    order = case((Publication.target == "all", 0), (Publication.target == "city", 1), else_=2)
    rows = db.session.execute(
        stmt.order_by(order, Publication.city, Store.name, Publication.id)
        .limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).all()
    return rows, total


def api_key_page(q: str = "", page: int = 1, per_page: int = 50):
    """A page of the API keys the scope sees (the chain's, or one store's), newest first.

    ``q`` narrows by key name or the store's name or slug. Returns
    ``(rows of (key, store name), total)``.
    """
    stmt = select(StoreApiKey, Store.name).join(Store, Store.id == StoreApiKey.store_id)
    q = (q or "").strip()
    if q:
        stmt = stmt.where(or_(
            func.lower(StoreApiKey.name).like(_like(q), escape="\\"),
            func.lower(Store.name).like(_like(q), escape="\\"),
            func.lower(Store.slug).like(_like(q), escape="\\"),
        ))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.execute(
        stmt.order_by(StoreApiKey.id.desc()).limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).all()
    return rows, total


def cities_of_chain(chain_id: int) -> list[tuple[str, int]]:
    return list(db.session.execute(
        select(Store.city, func.count()).where(Store.chain_id == chain_id, Store.city != "")
        .group_by(Store.city).order_by(Store.city)
    ).all())


# -- store listings -----------------------------------------------------------------------------


def ensure_listings(store: Store, variant_ids: Iterable[int]) -> None:
    """Create missing listing rows (stock 0, everything inherited) without racing anyone.

    ``INSERT ... ON CONFLICT DO NOTHING`` means two requests creating the same
    row at once both succeed and one row exists.
    """
    ids = sorted(set(variant_ids))
    if not ids:
        return
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    table = StoreListing.__table__
    have = {vid for vid, *_ in _store_listings(store, ids, ())}
    for chunk in _chunks(ids):
        missing = [vid for vid in chunk if vid not in have]
        if missing:
            # executemany form: compiled once and cached, batched by SQLAlchemy.
            db.session.execute(
                dialect_insert(table).on_conflict_do_nothing(
                    index_elements=["store_id", "variant_id"]
                ),
                [{"chain_id": store.chain_id, "store_id": store.id, "variant_id": vid,
                  "stock_on_hand": 0, "reserved": 0} for vid in missing],
            )


def listing_rows(store: Store, q: str = "", page: int = 1, per_page: int = 50,
                 low_only: bool = False):
    """A page of the variants ``store`` sells with their listing (or None) and price."""
    price = effective_price(store).label("price")
    stmt = (
        select(Variant, Product, StoreListing, price)
        .join(Product, Product.id == Variant.product_id)
        .outerjoin(StoreListing, listing_join(store))
        .where(sold_in_store(store))
    )
    q = (q or "").strip()
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(or_(func.lower(Product.title).like(like),
                              func.lower(Variant.sku).like(like)))
    if low_only:
        stmt = stmt.where(
            func.coalesce(StoreListing.stock_on_hand, 0) - func.coalesce(StoreListing.reserved, 0)
            <= func.coalesce(StoreListing.low_stock_threshold, LOW_STOCK_DEFAULT)
        )
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.execute(
        stmt.order_by(Product.title, Variant.position, Variant.id)
        .limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).all()
    return rows, total


LOW_STOCK_DEFAULT = 5


def variant_in_store(store: Store, variant_id: int) -> Variant | None:
    return db.session.scalar(
        select(Variant).join(Product, Product.id == Variant.product_id)
        .where(Variant.id == variant_id, sold_in_store(store))
    )


def variants_sold_by_sku(store: Store, skus: list[str]) -> dict[str, int]:
    """``{lower-case sku: variant id}`` for the SKUs ``store`` sells.

    Exact SKUs are found through the (chain_id, sku) unique index; only the
    misses are retried case-insensitively. Whether the store sells a product
    is then asked once per product, not once per row.
    """
    found: dict[str, tuple[int, int]] = {}
    for chunk in _chunks(list(dict.fromkeys(skus))):
        for vid, sku, pid in db.session.execute(
            select(Variant.id, Variant.sku, Variant.product_id)
            .where(Variant.chain_id == store.chain_id, Variant.sku.in_(chunk))
        ):
            found[sku.lower()] = (vid, pid)
    missing = [s.lower() for s in skus if s.lower() not in found]
    for chunk in _chunks(list(dict.fromkeys(missing))):
        for vid, sku, pid in db.session.execute(
            select(Variant.id, Variant.sku, Variant.product_id)
            .where(Variant.chain_id == store.chain_id, func.lower(Variant.sku).in_(chunk))
        ):
            found[sku.lower()] = (vid, pid)
    product_ids = sorted({pid for _vid, pid in found.values()})
    sold: set[int] = set()
    if len(product_ids) > _CHUNK:
        # One pass over the chain's products beats long IN lists (see _store_listings).
        sold.update(db.session.scalars(select(Product.id).where(sold_in_store(store))))
    else:
        for chunk in _chunks(product_ids):
            sold.update(db.session.scalars(
                select(Product.id).where(Product.id.in_(chunk), sold_in_store(store))
            ))
    return {sku: vid for sku, (vid, pid) in found.items() if pid in sold}


class StockBelowReserved(CatalogueError):
    pass


def set_stock(store: Store, variant_id: int, stock: int, expected: int | None = None) -> None:
    """Set on-hand stock, refusing to go below what orders have reserved.

    With ``expected``, only if the stock on hand is still that figure (checked in the
    same conditional UPDATE, so a till's sync in between is never overwritten).
    """
    if stock < 0:
        raise CatalogueError(_l("Stock cannot be negative."))
    ensure_listings(store, [variant_id])
    stmt = (
        update(StoreListing)
        .where(StoreListing.store_id == store.id, StoreListing.variant_id == variant_id,
               StoreListing.reserved <= stock)
        .values(stock_on_hand=stock)
        .execution_options(synchronize_session=False)
    )
    if expected is not None:
        stmt = stmt.where(StoreListing.stock_on_hand == expected)
    if db.session.execute(stmt).rowcount == 1:
        return
    on_hand, reserved = _listing_states(store, [variant_id]).get(variant_id, (0, 0))
    if expected is not None and on_hand != expected:
        raise StockChangedMeanwhile(_l(
            "The stock on hand changed from %(was)s to %(now)s while you were editing (a till "
            "sync or another person). Nothing was saved; check the new figure and save again.",
            was=expected, now=on_hand))
    raise StockBelowReserved(_l("Orders have reserved more than %(stock)s; stock stays "
                                "unchanged.", stock=stock))


class StockChangedMeanwhile(CatalogueError):
    """The stock on hand is no longer what the person saw when they edited it."""


def update_listing(store: Store, variant_id: int, *, price: str | None = None,
                   stock: str | None = None, listed: bool | None = None,
                   low_stock: str | None = None, may_price: bool = True,
                   compare_at: str | None = None, stock_was: str | None = None) -> None:
    """Apply the store console's inline edit; a blank price or compare-at means "inherit".

    ``stock_was`` is the on-hand figure the form showed. The stock is written only
    when the person changed it, and only if it is still that figure: a till may have
    synced a newer count meanwhile, which an old screen must not overwrite. Then
    nothing is saved and :class:`StockChangedMeanwhile` says what the figure is now.
    """
    values: dict = {}
    errors = []
    for name, column, message in (
        ("price", "price_fen", _l("The price must be an amount in yuan, such as 12.80.")),
        ("compare_at", "compare_at_fen",
         _l("The compare-at price must be an amount in yuan, such as 12.80.")),
    ):
        raw = {"price": price, "compare_at": compare_at}[name]
        if raw is None or not may_price:
            continue
        raw = raw.strip()
        if raw == "":
            values[column] = None
        else:
            try:
                values[column] = parse_yuan(raw)
            except ValueError:
                errors.append(message)
    new_stock = None
    if stock is not None and stock.strip() != "":
        if not stock.strip().isdigit():
            errors.append(_l("Stock must be a whole number, 0 or more."))
        else:
            new_stock = int(stock)
    was = None
    if stock_was is not None and stock_was.strip().isdigit():
        was = int(stock_was)
        if new_stock == was:
            new_stock = None  # not edited: leave whatever the till says now
    if low_stock is not None:
        low_stock = low_stock.strip()
        if low_stock == "":
            values["low_stock_threshold"] = None
        elif low_stock.isdigit():
            values["low_stock_threshold"] = int(low_stock)
        else:
            errors.append(_l("The low-stock threshold must be a whole number."))
    if listed is not None:
        values["listed"] = listed
    if errors:
        raise CatalogueError(errors)
    ensure_listings(store, [variant_id])
    if new_stock is not None:
        set_stock(store, variant_id, new_stock, expected=was)
    if values:
        db.session.execute(
            update(StoreListing)
            .where(StoreListing.store_id == store.id, StoreListing.variant_id == variant_id)
            .values(**values).execution_options(synchronize_session=False)
        )


# -- CSV export / import ------------------------------------------------------------------------

#: The columns of the export, in order. An import needs ``sku`` and takes any of the
#: others in any order, so the older ``sku,price,stock,listed`` files stay valid.
CSV_HEADER = ["sku", "price", "stock", "listed", "compare_at"]
_TRUE = {"1", "yes", "y", "true", "on", "是", "上架"}
_FALSE = {"0", "no", "n", "false", "off", "否", "下架"}


def export_listings_csv(store: Store) -> str:
    """Every variant the store sells: SKU, price in this store, stock, listed, compare-at."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    price = effective_price(store).label("price")
    compare_at = func.coalesce(StoreListing.compare_at_fen, Variant.compare_at_fen)
    stmt = (
        select(Variant.sku, price, StoreListing.stock_on_hand, StoreListing.listed,
               compare_at.label("compare_at"))
        .join(Product, Product.id == Variant.product_id)
        .outerjoin(StoreListing, listing_join(store))
        .where(sold_in_store(store))
        .order_by(Variant.sku)
    )
    for sku, price_fen, stock, listed, compare_at_fen in db.session.execute(stmt):
        writer.writerow([
            sku, yuan_text(price_fen), stock or 0,
            0 if listed is False else 1, yuan_text(compare_at_fen),
        ])
    return out.getvalue()


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    applied: bool = False


def import_listings_csv(store: Store, data: str | bytes, *, dry_run: bool) -> ImportResult:
    """Check every row of ``sku,price,stock,listed[,compare_at]``, then apply all or none.

    An empty cell leaves that value as it is; ``inherit`` (or ``-``) in ``price``
    or ``compare_at`` removes the store's own value. Errors carry the line number
    of the file (the header is line 1).
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                data = data.decode("gb18030")
            except UnicodeDecodeError:
                return ImportResult(errors=[(0, str(_l("The file is not UTF-8 or GB18030 text.")))])
    data = data.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(data))
    result = ImportResult()
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        result.errors.append((1, str(_l("The file is empty."))))
        return result
    header = [h.strip().lower() for h in header]
    if "sku" not in header or not set(header) <= set(CSV_HEADER):
        result.errors.append((1, str(_l(
            "The first line must be: sku,price,stock,listed (compare_at may follow)"))))
        return result
    col = {name: header.index(name) for name in header}
    parsed: list[tuple[int, str, dict]] = []
    seen: dict[str, int] = {}
    try:
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(parsed) >= MAX_IMPORT_ROWS:
                result.errors.append((number, str(_l("Too many rows (%(n)s at most).",
                                                     n=MAX_IMPORT_ROWS))))
                break
            cells = {name: (row[i].strip() if i < len(row) else "") for name, i in col.items()}
            sku = cells.get("sku", "")
            changes: dict = {}
            problem = None
            if not sku:
                problem = _l("The SKU is missing.")
            elif sku.lower() in seen:
                problem = _l("SKU %(sku)s is also on line %(line)s.", sku=sku,
                             line=seen[sku.lower()])
            price = cells.get("price", "")
            if problem is None and price:
                if price.lower() in ("inherit", "-"):
                    changes["price_fen"] = None
                else:
                    try:
                        changes["price_fen"] = parse_yuan(price.lstrip("¥￥"))
                    except ValueError:
                        problem = _l("The price %(value)s is not an amount in yuan.", value=price)
            compare_at = cells.get("compare_at", "")
            if problem is None and compare_at:
                if compare_at.lower() in ("inherit", "-"):
                    changes["compare_at_fen"] = None
                else:
                    try:
                        changes["compare_at_fen"] = parse_yuan(compare_at.lstrip("¥￥"))
                    except ValueError:
                        problem = _l("The compare-at price %(value)s is not an amount in yuan.",
                                     value=compare_at)
            stock = cells.get("stock", "")
            if problem is None and stock:
                if not stock.isdigit():
                    problem = _l("The stock %(value)s is not a whole number 0 or more.",
                                 value=stock)
                else:
                    changes["stock_on_hand"] = int(stock)
            listed = cells.get("listed", "").lower()
            if problem is None and listed:
                if listed in _TRUE:
                    changes["listed"] = True
                elif listed in _FALSE:
                    changes["listed"] = False
                else:
                    problem = _l("Listed must be 1 or 0 (yes or no), not %(value)s.",
                                 value=cells["listed"])
            if problem is not None:
                result.errors.append((number, str(problem)))
                continue
            seen[sku.lower()] = number
            parsed.append((number, sku, changes))
    except csv.Error as exc:
        result.errors.append((reader.line_num, str(_l("Unreadable CSV: %(error)s", error=exc))))
    result.rows = len(parsed) + len(result.errors)

    # Which SKUs does this store sell, and what have orders reserved?
    by_sku = variants_sold_by_sku(store, [p[1] for p in parsed])
    listings: dict[int, tuple[int, int]] = {}
    for vid, lid, reserved in _store_listings(store, by_sku.values(), ("id", "reserved")):
        listings[vid] = (lid, reserved)
    ready: list[tuple[int, dict]] = []
    for number, sku, changes in parsed:
        vid = by_sku.get(sku.lower())
        if vid is None:
            result.errors.append((number, str(_l("SKU %(sku)s is not sold in this store.",
                                                 sku=sku))))
            continue
        reserved = listings.get(vid, (None, 0))[1]
        if changes.get("stock_on_hand") is not None and changes["stock_on_hand"] < reserved:
            result.errors.append((number, str(_l(
                "Stock %(stock)s is below the %(reserved)s reserved by open orders.",
                stock=changes["stock_on_hand"], reserved=reserved))))
            continue
        if vid in listings:
            result.updated += 1
        else:
            result.created += 1
        ready.append((vid, changes))
    result.errors.sort()
    if result.errors or dry_run:
        return result
    _apply_listing_changes(store, ready, set(listings))
    result.applied = True
    return result


def _apply_listing_changes(store: Store, ready: list[tuple[int, dict]],
                           existing: set[int]) -> None:
    """Bulk-apply checked rows; refuse everything if an order reserved more meanwhile."""
    rows = [(vid, changes) for vid, changes in ready if changes]
    if not write_listings(store, rows, existing):
        raise StockBelowReserved(_l(
            "Orders reserved stock while the file was imported; nothing was changed. "
            "Try again."))


def write_listings(store: Store, rows: list[tuple[int, dict]], existing: set[int]) -> bool:
    """Apply ``(variant_id, {column: value})`` rows; False if a stock change was refused.

    Rows whose listing exists (``existing``) are updated by one conditional
    ``executemany`` per shape of change (the cheapest bulk write on both
    databases); the others go through :func:`upsert_listings`, which also copes
    with a listing created by someone else in the meantime. A stock change only
    applies ``WHERE reserved <= :new``; fewer matched rows than sent means an
    order reserved stock since the caller checked, and the caller rolls back.
    """
    table = StoreListing.__table__
    # Core statements on the table: the storefront cache learns of them only from us.
    note_store_changed(db.session, store.id)
    fresh = [(vid, changes) for vid, changes in rows if vid not in existing]
    written = upsert_listings(store, fresh)
    if any("stock_on_hand" in changes and vid not in written for vid, changes in fresh):
        return False
    groups: dict[tuple[str, ...], list[dict]] = {}
    for vid, changes in sorted(rows, key=lambda r: r[0]):
        if vid in existing:
            key = tuple(sorted(changes))
            groups.setdefault(key, []).append(
                {"b_variant": vid, **{f"b_{k}": v for k, v in changes.items()}})
    for key, params in groups.items():
        stmt = update(table).where(
            table.c.store_id == store.id, table.c.variant_id == bindparam("b_variant")
        ).values({name: bindparam(f"b_{name}") for name in key})
        if "stock_on_hand" in key:
            stmt = stmt.where(table.c.reserved <= bindparam("b_stock_on_hand"))
        for chunk in _chunks(params, 1000):
            matched = db.session.execute(stmt, chunk).rowcount
            if matched not in (-1, len(chunk)):
                return False
    return True


def _dialect_insert():
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert


def upsert_listings(store: Store, rows: list[tuple[int, dict]]) -> set[int]:
    """Write listing changes in batches; returns the variant ids actually written.

    ``INSERT ... ON CONFLICT (store_id, variant_id) DO UPDATE ... WHERE`` creates
    a missing listing or updates the existing one in one statement, batched by
    SQLAlchemy (hundreds of rows per round trip). A stock change only applies
    ``WHERE reserved <= <new on hand>``, so a row an order reserved meanwhile is
    skipped and missing from the result: the caller refuses the batch.
    """
    table = StoreListing.__table__
    note_store_changed(db.session, store.id)
    dialect_insert = _dialect_insert()
    groups: dict[tuple[str, ...], list[dict]] = {}
    for vid, changes in sorted(rows, key=lambda r: r[0]):  # one lock order for everyone
        key = tuple(sorted(changes))
        params = {"chain_id": store.chain_id, "store_id": store.id, "variant_id": vid,
                  "stock_on_hand": 0, "reserved": 0, **changes}
        groups.setdefault(key, []).append(params)
    written: set[int] = set()
    for key, params in groups.items():
        stmt = dialect_insert(table)
        excluded = stmt.excluded
        set_ = {name: excluded[name] for name in key}
        where = None
        if "stock_on_hand" in key:
            where = table.c.reserved <= excluded.stock_on_hand
        stmt = stmt.on_conflict_do_update(
            index_elements=["store_id", "variant_id"], set_=set_, where=where,
        ).returning(table.c.variant_id)
        for chunk in _chunks(params, 1000):
            written.update(db.session.scalars(stmt, chunk))
    return written


# -- API keys -----------------------------------------------------------------------------------

API_KEY_PREFIX = "sk_"


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(store: Store, name: str, user_id: int | None = None) -> tuple[StoreApiKey, str]:
    """A new key for ``store``; the plain key is returned once and never stored."""
    name = (name or "").strip()[:120]
    if not name:
        raise CatalogueError(_l("Give the key a name, such as the till it is for."))
    plain = API_KEY_PREFIX + secrets.token_urlsafe(32)
    row = StoreApiKey(chain_id=store.chain_id, store_id=store.id, name=name,
                      prefix=plain[:10], key_hash=hash_api_key(plain), created_by_id=user_id)
    db.session.add(row)
    db.session.flush()
    return row, plain


def revoke_api_key(row: StoreApiKey) -> None:
    if row.revoked_at is None:
        row.revoked_at = clock.now()


def find_api_key(plain: str) -> StoreApiKey | None:
    """The active key with this value, whatever its store (the caller compares stores)."""
    from ..tenancy import unscoped

    if not plain or len(plain) > 200:
        return None
    with unscoped():
        return db.session.scalar(select(StoreApiKey).where(
            StoreApiKey.key_hash == hash_api_key(plain), StoreApiKey.revoked_at.is_(None)
        ))


# -- stock sync ---------------------------------------------------------------------------------


def problem(status: int, title: str, detail: str = "", **extra) -> tuple[int, dict]:
    """An RFC 9457 problem details body."""
    body = {"type": "about:blank", "title": str(title), "status": status}
    if detail:
        body["detail"] = str(detail)
    body.update(extra)
    return status, body


def _canonical_hash(payload: dict) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


def sync_stock(store: Store, payload) -> tuple[int, dict]:
    """Apply a till's stock batch once per ``request_id``; returns (status, JSON body).

    All rows or none: a batch with any bad row changes nothing and answers 422
    with one error per row. The answer is stored with the request id, so a
    retry (the till lost our answer) gets the same answer and changes nothing.
    """
    if not isinstance(payload, dict):
        return problem(400, "Bad request", "The body must be a JSON object.")
    request_id = payload.get("request_id")
    if not isinstance(request_id, str) or not (1 <= len(request_id) <= 100):
        return problem(400, "Bad request", "request_id must be a string of 1 to 100 characters.")
    body_hash = _canonical_hash(payload)
    replay = _stored_answer(store, request_id, body_hash)
    if replay is not None:
        return replay
    status, body = _validate_and_apply(store, payload)
    if status >= 500:
        db.session.rollback()
        return status, body
    db.session.add(StockSyncRequest(
        chain_id=store.chain_id, store_id=store.id, request_id=request_id,
        body_hash=body_hash, status=status, response=body,
    ))
    try:
        db.session.commit()
    except DBAPIError as exc:
        # Most often the same request id arrived twice at once and the other one
        # won (unique violation); SQLite may also refuse a stale write snapshot.
        db.session.rollback()
        replay = _stored_answer(store, request_id, body_hash)
        if replay is not None:
            return replay
        log.warning("stock sync for store %s not saved, client may retry: %s", store.id, exc)
        return problem(503, "Try again", "The stock changed under us; retry the same request.")
    return status, body


def _stored_answer(store: Store, request_id: str, body_hash: str):
    done = db.session.scalar(select(StockSyncRequest).where(
        StockSyncRequest.store_id == store.id, StockSyncRequest.request_id == request_id
    ))
    if done is None:
        return None
    if done.body_hash != body_hash:
        return problem(409, "Conflict", "This request_id was already used with a different "
                       "body. Use a new request_id for a new batch.", request_id=request_id)
    return done.status, done.response


def _validate_and_apply(store: Store, payload: dict) -> tuple[int, dict]:
    mode = payload.get("mode", "absolute")
    items = payload.get("items")
    if mode not in ("absolute", "delta"):
        return problem(400, "Bad request", "mode must be 'absolute' or 'delta'.")
    if not isinstance(items, list) or not items:
        return problem(400, "Bad request", "items must be a non-empty list.")
    if len(items) > MAX_SYNC_ROWS:
        return problem(413, "Too many rows",
                       f"A batch has at most {MAX_SYNC_ROWS} rows; split it.")
    errors = []
    rows: list[tuple[int, str, int]] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        sku = item.get("sku") if isinstance(item, dict) else None
        stock = item.get("stock") if isinstance(item, dict) else None
        if not isinstance(sku, str) or not sku.strip():
            errors.append({"row": index, "sku": sku, "detail": "sku is missing"})
            continue
        if isinstance(stock, bool) or not isinstance(stock, int):
            errors.append({"row": index, "sku": sku, "detail": "stock must be an integer"})
            continue
        if mode == "absolute" and stock < 0:
            errors.append({"row": index, "sku": sku, "detail": "stock cannot be negative"})
            continue
        if abs(stock) > 1_000_000_000:
            errors.append({"row": index, "sku": sku, "detail": "stock is out of range"})
            continue
        if sku.lower() in seen:
            errors.append({"row": index, "sku": sku, "detail": "sku appears twice in the batch"})
            continue
        seen.add(sku.lower())
        rows.append((index, sku, stock))
    by_sku = variants_sold_by_sku(store, [r[1] for r in rows])
    ready = []
    for index, sku, stock in rows:
        vid = by_sku.get(sku.lower())
        if vid is None:
            errors.append({"row": index, "sku": sku, "detail": "unknown sku for this store"})
        else:
            ready.append((index, sku, vid, stock))
    current = _listing_states(store, [r[2] for r in ready])
    for index, sku, vid, stock in ready:
        on_hand, reserved = current.get(vid, (0, 0))
        new_value = on_hand + stock if mode == "delta" else stock
        if new_value < reserved or new_value < 0:
            errors.append({
                "row": index, "sku": sku,
                "detail": f"on hand would fall below the {reserved} reserved by open orders"
                if reserved else "on hand would fall below 0",
                "reserved": reserved,
            })
    if errors:
        return _row_problem(errors)
    try:
        if mode == "delta":
            refused = _apply_deltas(store, ready)
        elif write_listings(store, [(vid, {"stock_on_hand": stock})
                                    for _i, _s, vid, stock in ready], set(current)):
            refused = []
        else:
            # An order reserved stock between our check and the write.
            db.session.rollback()
            now = _listing_states(store, [r[2] for r in ready])
            refused = [r for r in ready if r[3] < now.get(r[2], (0, 0))[1]] or list(ready)
        if refused:
            # An order reserved stock between our check and the write.
            db.session.rollback()
            now = _listing_states(store, [r[2] for r in refused])
            for index, sku, vid, _stock in refused:
                reserved = now.get(vid, (0, 0))[1]
                errors.append({
                    "row": index, "sku": sku,
                    "detail": f"on hand would fall below the {reserved} reserved by open orders",
                    "reserved": reserved,
                })
        if errors:
            db.session.rollback()
            return _row_problem(sorted(errors, key=lambda e: e["row"]))
        results = _listing_states(store, [r[2] for r in ready])
    except DBAPIError as exc:
        db.session.rollback()
        log.warning("stock sync for store %s failed, client may retry: %s", store.id, exc)
        return problem(503, "Try again", "The stock changed under us; retry the same request.")
    items_out = []
    for _index, sku, vid, _stock in ready:
        on_hand, reserved = results[vid]
        items_out.append({"sku": sku, "stock_on_hand": on_hand, "reserved": reserved,
                          "available": on_hand - reserved})
    return 200, {"request_id": payload["request_id"], "mode": mode, "updated": len(items_out),
                 "items": items_out}


def _apply_deltas(store: Store, ready: list[tuple[int, str, int, int]]) -> list:
    """Add each row's number to on-hand stock; returns the rows refused.

    Missing listings are created at 0 first. The conditional UPDATE runs as one
    executemany in variant order (one lock order for all writers); if fewer
    rows matched than were sent, an order reserved stock meanwhile and the rows
    whose new value is now below their reservations are reported.
    """
    ensure_listings(store, [r[2] for r in ready])
    note_store_changed(db.session, store.id)
    table = StoreListing.__table__
    new_value = table.c.stock_on_hand + bindparam("b_delta")
    stmt = (
        update(table)
        .where(table.c.store_id == store.id, table.c.variant_id == bindparam("b_variant"),
               table.c.reserved <= new_value, new_value >= 0)
        .values(stock_on_hand=new_value)
    )
    params = [{"b_variant": vid, "b_delta": stock}
              for _i, _s, vid, stock in sorted(ready, key=lambda r: r[2])]
    matched = 0
    for chunk in _chunks(params, 1000):
        matched += db.session.execute(stmt, chunk).rowcount
    if matched == len(params):
        return []
    db.session.rollback()
    now = _listing_states(store, [r[2] for r in ready])
    return [r for r in ready
            if now.get(r[2], (0, 0))[0] + r[3] < max(now.get(r[2], (0, 0))[1], 0)] or list(ready)


def _row_problem(errors: list[dict]) -> tuple[int, dict]:
    errors = sorted(errors, key=lambda e: e["row"])
    return problem(
        422, "Some rows were refused",
        f"{len(errors)} row(s) could not be applied; nothing was changed.",
        errors=errors,
    )


def _listing_states(store: Store, variant_ids: list[int]) -> dict[int, tuple[int, int]]:
    return {vid: (on_hand, reserved) for vid, on_hand, reserved
            in _store_listings(store, variant_ids, ("stock_on_hand", "reserved"))}


def _store_listings(store: Store, variant_ids: Iterable[int], columns: tuple[str, ...]):
    """Rows ``(variant_id, *columns)`` of the store's listings for ``variant_ids``.

    For many ids, read all of the store's listings in one pass instead of long
    ``IN`` lists: right after a bulk insert PostgreSQL's statistics still say
    the table is empty, and it then checks each row against the whole list.
    """
    table = StoreListing.__table__
    wanted = set(variant_ids)
    if not wanted:
        return []
    select_columns = [table.c.variant_id] + [table.c[name] for name in columns]
    base = select(*select_columns).where(table.c.store_id == store.id)
    if len(wanted) > _CHUNK:
        return [row for row in db.session.execute(base) if row[0] in wanted]
    return list(db.session.execute(base.where(table.c.variant_id.in_(sorted(wanted)))))
