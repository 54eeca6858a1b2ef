"""What a store sells, read side: visible products, their price and stock at this store.

A master product reaches a store through a ``Publication`` (all stores, the
store's city, or the store itself); a store's own local products are visible
to it alone. A product shows when it is ``active`` and has at least one
variant the store has not unlisted. A variant's price at a store is, first
found: the store's ``StoreListing.price_fen``, the most specific publication's
``price_fen`` (store, then city, then all), the variant's ``price_fen``.
Availability is ``stock_on_hand - reserved`` (no listing row: nothing in stock).

Each function answers with one or two SQL statements whatever the number of
products, variants or stores (aggregates and outer joins, no per-row loads),
and caches plain data per store, never across stores. Nothing depends on the
language (titles are not translated; prices are formatted by the templates),
so one entry serves zh_CN and en. Cache keys carry two version tokens, one per
chain (catalogue changes) and one per store (its listings), replaced after a
commit that touched those rows, so a change shows on the next request of the
process (everywhere at once with Redis; within ``CATALOGUE_CACHE_SECONDS``
per process with the in-memory cache).
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app, has_app_context
from sqlalchemy import and_, case, event, func, or_, select, union_all
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from ..extensions import cache, db
from ..models import (
    Category,
    Chain,
    Product,
    ProductImage,
    Publication,
    Store,
    StoreListing,
    StorePlugin,
    Variant,
)
from .product_images import THUMB_EDGE
from .search import publication_reaches

log = logging.getLogger(__name__)

SORTS = ("default", "price_asc", "price_desc", "newest")
PER_PAGE = 24


@dataclass(frozen=True)
class CategoryView:
    id: int
    slug: str
    name: str
    parent_id: int | None
    position: int


@dataclass(frozen=True)
class ImageView:
    """One picture of a product: the large file (at most 1600 px) and its 400 px thumbnail."""

    path: str
    thumb: str
    width: int
    height: int

    @property
    def thumb_width(self) -> int:
        """The thumbnail's real width, for ``srcset`` (it keeps the picture's proportions)."""
        longest = max(self.width, self.height, 1)
        return max(1, round(self.width * min(1.0, THUMB_EDGE / longest)))


@dataclass(frozen=True)
class ProductCard:
    id: int
    title: str
    image: str | None
    category_id: int | None
    price_fen: int
    max_price_fen: int
    compare_at_fen: int | None
    available: int
    created_at: datetime | None
    #: The main picture's thumbnail: what a card shows (the full picture is 1600 px).
    thumb: str | None = None

    @property
    def price_varies(self) -> bool:
        return self.max_price_fen != self.price_fen

    @property
    def in_stock(self) -> bool:
        return self.available > 0


@dataclass(frozen=True)
class VariantView:
    id: int
    sku: str
    label: str
    options: dict
    price_fen: int
    compare_at_fen: int | None
    available: int

    @property
    def in_stock(self) -> bool:
        return self.available > 0


@dataclass(frozen=True)
class ProductView:
    id: int
    title: str
    description: str
    image: str | None
    category_id: int | None
    created_at: datetime | None
    variants: tuple[VariantView, ...] = field(default_factory=tuple)
    #: Every picture in the order HQ set; the first is ``image``.
    images: tuple[ImageView, ...] = ()

    @property
    def thumb(self) -> str | None:
        return self.images[0].thumb if self.images else None

    @property
    def price_fen(self) -> int:
        return min(v.price_fen for v in self.variants)

    @property
    def max_price_fen(self) -> int:
        return max(v.price_fen for v in self.variants)

    @property
    def available(self) -> int:
        return sum(max(v.available, 0) for v in self.variants)


@dataclass(frozen=True)
class Page:
    items: tuple[ProductCard, ...]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


# -- the SQL -------------------------------------------------------------------------------------


def _publications(store, products=None):
    """Per product: the default price of the most specific publication reaching the store.

    A subquery ``(product_id, price)``. The most specific publication (store, then
    city, then all) decides even when it has no price (then the variant's price
    applies), as in search, the consoles and the cart.

    One SELECT per target, glued by UNION ALL, so each is an index seek however
    many stores a product was published to one by one (a single OR makes SQLite
    scan every publication of the chain in product order). ``products`` (a product
    id or a select of ids) narrows it: databases do not push an outer filter into a
    grouped subquery, and grouping every publication of the chain for one product
    page would cost what the whole catalogue does.
    """
    reaching = union_all(*(
        select(Publication.product_id, Publication.target, Publication.price_fen)
        .where(branch)
        for branch in publication_reaches(store, products).clauses
    )).subquery("reaching")

    def has(target):
        return func.max(case((reaching.c.target == target, 1), else_=0)) == 1

    def price_for(target):
        return func.min(case((reaching.c.target == target, reaching.c.price_fen)))

    stmt = select(
        reaching.c.product_id.label("product_id"),
        case(
            (has("store"), price_for("store")),
            (has("city"), price_for("city")),
            else_=price_for("all"),
        ).label("price"),
    )
    return stmt.group_by(reaching.c.product_id).subquery("pubs")


def _sellable(store, pubs):
    """Columns and conditions shared by every read: one row per sellable variant."""
    listing_join = and_(StoreListing.variant_id == Variant.id, StoreListing.store_id == store.id)
    price = func.coalesce(StoreListing.price_fen, pubs.c.price, Variant.price_fen)
    compare_at = func.coalesce(StoreListing.compare_at_fen, Variant.compare_at_fen)
    available = func.coalesce(StoreListing.stock_on_hand - StoreListing.reserved, 0)
    conditions = (
        Product.chain_id == store.chain_id,
        Product.status == "active",
        or_(
            Product.store_id == store.id,
            and_(Product.store_id.is_(None), pubs.c.product_id.is_not(None)),
        ),
        or_(StoreListing.listed.is_(None), StoreListing.listed.is_(True)),
    )

    def joined(stmt):
        return (
            stmt.select_from(Product)
            .join(Variant, Variant.product_id == Product.id)
            .outerjoin(pubs, pubs.c.product_id == Product.id)
            .outerjoin(StoreListing, listing_join)
            .where(*conditions)
        )

    return joined, price, compare_at, available


def _query_listing(store, category_ids, sort, page, per_page) -> Page:
    in_category = None
    if category_ids is not None:
        in_category = select(Product.id).where(
            Product.chain_id == store.chain_id, Product.category_id.in_(category_ids)
        )
    pubs = _publications(store, in_category)
    joined, price, compare_at, available = _sellable(store, pubs)
    min_price = func.min(price).label("price")
    stmt = joined(select(
        Product.id, Product.title, Product.image, Product.category_id, Product.created_at,
        min_price, func.max(price).label("max_price"), func.min(compare_at).label("compare"),
        func.sum(case((available > 0, available), else_=0)).label("available"),
        # The number of products on every page, so one statement answers the page.
        func.count().over().label("total"),
    ))
    if category_ids is not None:
        stmt = stmt.where(Product.category_id.in_(category_ids))
    stmt = stmt.group_by(
        Product.id, Product.title, Product.image, Product.category_id, Product.created_at
    )
    order = {
        "price_asc": (min_price.asc(), Product.id.asc()),
        "price_desc": (min_price.desc(), Product.id.asc()),
        "newest": (Product.created_at.desc(), Product.id.desc()),
    }.get(sort, (Product.id.asc(),))
    rows = db.session.execute(
        stmt.order_by(*order).limit(per_page).offset((page - 1) * per_page)
    ).all()
    pictures = _images([r.id for r in rows if r.image])
    items = tuple(
        ProductCard(
            id=r.id, title=r.title, image=r.image, category_id=r.category_id,
            price_fen=int(r.price), max_price_fen=int(r.max_price),
            compare_at_fen=r.compare if r.compare and r.compare > r.price else None,
            available=int(r.available or 0), created_at=r.created_at,
            thumb=pictures[r.id][0].thumb if pictures.get(r.id) else None,
        )
        for r in rows
    )
    # Past the last page there are no rows to carry the total; such a page is empty anyway.
    total = int(rows[0].total) if rows else 0
    return Page(items=items, total=total, page=page, per_page=per_page)


def _query_product(store, product_id: int) -> ProductView | None:
    pubs = _publications(store, product_id)
    joined, price, compare_at, available = _sellable(store, pubs)
    rows = db.session.execute(
        joined(select(
            Product.id, Product.title, Product.description, Product.image, Product.category_id,
            Product.created_at, Variant.id.label("variant_id"), Variant.sku, Variant.options,
            price.label("price"), compare_at.label("compare"), available.label("available"),
        ))
        .where(Product.id == product_id)
        .order_by(Variant.position, Variant.id)
    ).all()
    if not rows:
        return None
    first = rows[0]
    variants = tuple(
        VariantView(
            id=r.variant_id, sku=r.sku, options=dict(r.options or {}),
            label=" / ".join(str(v) for v in (r.options or {}).values()) or r.sku,
            price_fen=int(r.price), compare_at_fen=r.compare if r.compare and r.compare > r.price
            else None, available=int(r.available),
        )
        for r in rows
    )
    return ProductView(
        id=first.id, title=first.title, description=first.description, image=first.image,
        category_id=first.category_id, created_at=first.created_at, variants=variants,
        images=_images([first.id]).get(first.id, ()) if first.image else (),
    )


def _images(product_ids: list[int]) -> dict[int, tuple[ImageView, ...]]:
    """Each product's pictures in order, in one statement (none when no product has one).

    Only products whose ``image`` is set have pictures, so callers pass just those
    and pages without pictures cost no extra statement.
    """
    if not product_ids:
        return {}
    found: dict[int, list[ImageView]] = {}
    for pid, path, thumb, width, height in db.session.execute(
        select(ProductImage.product_id, ProductImage.path, ProductImage.thumb_path,
               ProductImage.width, ProductImage.height)
        .where(ProductImage.product_id.in_(product_ids))
        .order_by(ProductImage.product_id, ProductImage.position, ProductImage.id)
    ):
        found.setdefault(pid, []).append(ImageView(path, thumb, width, height))
    return {pid: tuple(images) for pid, images in found.items()}


def _query_categories(store) -> tuple[CategoryView, ...]:
    rows = db.session.execute(
        select(Category.id, Category.slug, Category.name, Category.parent_id, Category.position)
        .where(Category.chain_id == store.chain_id)
        .order_by(Category.position, Category.id)
    ).all()
    return tuple(CategoryView(*r) for r in rows)


# -- caching -------------------------------------------------------------------------------------


#: How long a version token lives: a week, far longer than any entry keyed by it (catalogue
#: pieces and whole pages live ``CATALOGUE_CACHE_SECONDS``, 60 s by default). Never 0 ("no
#: expiry"): cachelib's in-process cache, once over its threshold, first drops what it takes
#: for expired, entries without expiry among them, then those that expire soonest. Tokens
#: without a timeout were the first to go, and every store's cache emptied at once; with the
#: longest timeout of all, a token goes last, after the pages it keys. An expired token is
#: only made anew: its store's entries are missed once, nothing stale is shown.
VERSION_TOKEN_SECONDS = 7 * 24 * 3600


def version_token_timeout() -> int:
    """A version token's timeout: a week, or longer than the cached entries if they live longer."""
    entry_seconds = int(current_app.config.get("CATALOGUE_CACHE_SECONDS", 60))
    return max(VERSION_TOKEN_SECONDS, 2 * entry_seconds)


def _chain_key(chain_id: int) -> str:
    return f"sf:v:c:{chain_id}"


def _store_key(store_id: int) -> str:
    return f"sf:v:s:{store_id}"


def slug_key(slug: str) -> str:
    return f"sf:slug:{slug}"


def version_tokens(store) -> str:
    """The chain's and the store's catalogue version tokens: part of every cache key."""
    return version_tokens_for(store.chain_id, store.id)


def version_tokens_for(chain_id: int, store_id: int) -> str:
    keys = [_chain_key(chain_id), _store_key(store_id)]
    found = cache.get_many(*keys)
    missing = {k: uuid.uuid4().hex[:12] for k, v in zip(keys, found, strict=True) if not v}
    if missing:
        cache.set_many(missing, timeout=version_token_timeout())
    values = [v or missing[k] for k, v in zip(keys, found, strict=True)]
    return ".".join(values)


def _cached(store, name: str, compute):
    key = f"sf:{store.id}:{request_version_tokens(store)}:{name}"
    value = cache.get(key)
    if value is None:
        value = compute()
        timeout = current_app.config.get("CATALOGUE_CACHE_SECONDS", 60)
        cache.set(key, value, timeout=timeout)
    return value


def request_version_tokens(store) -> str:
    # Read once per request: a page asks for several cached pieces of the same store.
    from flask import g, has_request_context

    if not has_request_context():
        return version_tokens(store)
    memo = g.setdefault("_sf_versions", {})
    if store.id not in memo:
        memo[store.id] = version_tokens(store)
    return memo[store.id]


def invalidate_chain(chain_id: int) -> None:
    """Every store of the chain reads the catalogue afresh (a product, price, category...)."""
    cache.set(_chain_key(chain_id), uuid.uuid4().hex[:12], timeout=version_token_timeout())


def invalidate_store(store_id: int) -> None:
    """One store reads its listings afresh (its stock or overrides changed).

    Rarely needed by hand: ORM changes, ORM bulk statements and Core statements
    on the catalogue tables are noticed on commit (the store or chain comes from
    the tenant scope), and bulk writers that may run outside the store's scope
    call :func:`note_store_changed`. The page cache (``storefront.pagecache``)
    is keyed by the same tokens, so it is renewed too.
    """
    cache.set(_store_key(store_id), uuid.uuid4().hex[:12], timeout=version_token_timeout())


# -- the public functions ------------------------------------------------------------------------


def categories(store) -> tuple[CategoryView, ...]:
    return _cached(store, "categories", lambda: _query_categories(store))


def category_by_slug(store, slug: str) -> CategoryView | None:
    return next((c for c in categories(store) if c.slug == slug), None)


def descendant_ids(store, category_id: int) -> list[int]:
    """The category and every category below it (the tree is small: HQ keeps a few dozen)."""
    children: dict[int | None, list[int]] = {}
    for c in categories(store):
        children.setdefault(c.parent_id, []).append(c.id)
    found, todo = [], [category_id]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def listing(store, category_id: int | None = None, sort: str = "default", page: int = 1,
            per_page: int = PER_PAGE) -> Page:
    """One page of the products the store sells, optionally in a category and its children."""
    sort = sort if sort in SORTS else "default"
    page = max(1, int(page))
    ids = descendant_ids(store, category_id) if category_id is not None else None
    name = f"list:{category_id}:{sort}:{page}:{per_page}"
    return _cached(store, name, lambda: _query_listing(store, ids, sort, page, per_page))


def featured(store, limit: int = 8) -> tuple[ProductCard, ...]:
    return listing(store, sort="default", per_page=limit).items


def newest(store, limit: int = 8) -> tuple[ProductCard, ...]:
    return listing(store, sort="newest", per_page=limit).items


def product(store, product_id: int) -> ProductView | None:
    """The product as this store sells it, or None when the store does not sell it."""
    found = _cached(store, f"product:{product_id}", lambda: _query_product(store, product_id) or 0)
    return found or None


# -- invalidation ----------------------------------------------------------------------------------

_CHAIN_WIDE = (Product, Variant, Publication, Category, ProductImage)


def _note(session, chains: set, stores: set, obj) -> None:
    if isinstance(obj, StoreListing | StorePlugin):
        # Stock and prices, or which plugins (slots, pages) the store shows.
        stores.add(obj.store_id)
    elif isinstance(obj, _CHAIN_WIDE):
        chains.add(obj.chain_id)
    elif isinstance(obj, Store):
        # Its settings (theme, plugins), status or language: pages keyed by the store's
        # token must be drawn again, and its slug may now name another store.
        if obj.id is not None:
            stores.add(obj.id)
        slugs = session.info.setdefault("sf_slugs", set())
        slugs.add(obj.slug)
        slugs.update(s for s in sa_inspect(obj).attrs.slug.history.deleted or () if s)
    elif isinstance(obj, Chain) and obj.id is not None:
        chains.add(obj.id)


def note_store_changed(session, store_id: int) -> None:
    """Say that ``store_id``'s stock changed in ``session``: its cache is renewed on commit.

    Bulk writers call it with the store they wrote for, because the tenant scope
    may not name it (the worker and the CLI run unscoped, HQ runs chain-wide).
    """
    session.info.setdefault("sf_stores", set()).add(store_id)


def note_chain_changed(session, chain_id: int) -> None:
    """Say that the chain's catalogue (products, publications...) changed in ``session``."""
    session.info.setdefault("sf_chains", set()).add(chain_id)


def forget_after_commit(session, *keys: str) -> None:
    """Delete the cache entries ``keys`` once ``session`` commits; a rollback deletes none.

    For a plugin's own cached answers about its own rows (distribution's share codes):
    the same after-commit step that renews the stores' tokens.
    """
    session.info.setdefault("sf_keys", set()).update(keys)


@event.listens_for(Session, "after_flush")
def _collect_changes(session, flush_context):
    chains = session.info.setdefault("sf_chains", set())
    stores = session.info.setdefault("sf_stores", set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        _note(session, chains, stores, obj)


def _written_classes(state) -> set:
    """The catalogue classes an INSERT, UPDATE or DELETE statement writes to.

    ORM statements (``insert(Publication)``) name their mappers; Core statements
    on a table (``update(StoreListing.__table__)``, the listing upserts) only
    their table, so that is matched too.
    """
    found = {mapper.class_ for mapper in state.all_mappers}
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    for cls in (StoreListing, StorePlugin, *_CHAIN_WIDE):
        if name == cls.__table__.name:
            found.add(cls)
    return found


@event.listens_for(Session, "do_orm_execute")
def _collect_bulk_changes(state):
    """Statements that bypass the unit of work: note the store or chain of the scope.

    A writer whose scope may not name the store (or chain) it changed also calls
    :func:`note_store_changed` / :func:`note_chain_changed` itself.
    """
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    from ..tenancy import current_scope

    scope = current_scope()
    if scope is None:
        return
    for cls in _written_classes(state):
        if cls in (StoreListing, StorePlugin) and scope.store_id:
            note_store_changed(state.session, scope.store_id)
        elif cls in (StoreListing, StorePlugin, *_CHAIN_WIDE) and scope.chain_id:
            note_chain_changed(state.session, scope.chain_id)


@event.listens_for(Session, "after_commit")
def _apply_changes(session):
    chains = session.info.pop("sf_chains", set())
    stores = session.info.pop("sf_stores", set())
    slugs = session.info.pop("sf_slugs", set())
    keys = session.info.pop("sf_keys", set())
    if not (chains or stores or slugs or keys) or not has_app_context():
        return
    try:
        for chain_id in chains:
            invalidate_chain(chain_id)
        for store_id in stores:
            invalidate_store(store_id)
        if slugs or keys:
            cache.delete_many(*(slug_key(s) for s in slugs), *keys)
    except Exception:  # a cache outage must not fail a committed change
        log.exception("could not invalidate the storefront catalogue cache")


@event.listens_for(Session, "after_rollback")
def _forget_changes(session):
    session.info.pop("sf_chains", None)
    session.info.pop("sf_stores", None)
    session.info.pop("sf_slugs", None)
    session.info.pop("sf_keys", None)
