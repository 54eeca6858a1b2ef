"""Product search for one store, in Chinese and English, on SQLite and PostgreSQL.

Neither engine splits Chinese into words, so we do the splitting ourselves and
index the result: a run of CJK characters becomes its single characters and its
overlapping bigrams ("龙井茶" -> 龙 井 茶 龙井 井茶), other text becomes
lower-case words, and a SKU also gives its letters and digits run together
("LJ-50" -> lj 50 lj50). The tokens land in ``product.search_text``; SQLite
indexes it with FTS5 (``product_fts``, kept in step by triggers) and PostgreSQL
with a GIN index over ``to_tsvector('simple', search_text)``. Bigrams need no
dictionary (unlike jieba) and find any two-character substring, which is what
shoppers type; the cost is a larger index, fine for a catalogue.

A query is tokenised the same way, except that a CJK run of two or more
characters asks for its bigrams only (more precise) and the last English word
matches as a prefix ("choc" finds "chocolate"). All tokens must match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Select, and_, case, func, literal_column, or_, select, text

from ..extensions import db
from ..models import Product, Publication, Store, StoreListing, Variant
from ..textsearch import CJK_RANGES, index_text, tokens

__all__ = ["index_text", "search_products", "tokens"]

PER_PAGE = 24
SORTS = ("relevance", "price_asc", "price_desc", "newest")


# -- what a store sells, and at what price ------------------------------------------------------


def publication_reaches(store: Store, products=None):
    """SQL condition: a ``Publication`` row reaches ``store`` (for ``products``, if given).

    ``products`` is a product id column (a correlated subquery), one id, or a
    select of ids. The chain and the products are repeated inside each branch of
    the OR, so each branch is a seek on ``ix_publication_reach`` (chain, target,
    product, store) on both databases. A product published to 2,000 chosen stores
    is then as cheap to check as one published to all; with the product outside
    the OR the database reads all 2,000 of its rows.
    """
    common = [Publication.chain_id == store.chain_id]
    if isinstance(products, Select):
        common.append(Publication.product_id.in_(products))
    elif products is not None:
        common.append(Publication.product_id == products)
    return or_(
        and_(*common, Publication.target == "all"),
        and_(*common, Publication.target == "city", Publication.city == store.city),
        and_(*common, Publication.target == "store", Publication.store_id == store.id),
    )


def sold_in_store(store: Store):
    """SQL condition on ``Product``: active and either this store's own or published to it."""
    published = select(Publication.id).where(publication_reaches(store, Product.id)).exists()
    return and_(
        Product.chain_id == store.chain_id,
        Product.status == "active",
        or_(Product.store_id == store.id, and_(Product.store_id.is_(None), published)),
    )


def publication_price(store: Store, product_id_column=None):
    """Scalar subquery: the default price of the most specific publication reaching ``store``.

    The most specific publication decides even when it has no price of its own
    (then the variant's price applies), as in the cart (``services.cart``).
    """
    product_id_column = product_id_column if product_id_column is not None else Product.id
    specificity = case(
        (Publication.target == "store", 0), (Publication.target == "city", 1), else_=2
    )
    return (
        select(Publication.price_fen)
        .where(publication_reaches(store, product_id_column))
        .order_by(specificity, Publication.id.desc())
        .limit(1)
        .correlate_except(Publication)
        .scalar_subquery()
    )


def effective_price(store: Store):
    """SQL expression for a variant's price in ``store``: override, publication, variant."""
    return func.coalesce(
        StoreListing.price_fen, publication_price(store, Variant.product_id), Variant.price_fen
    )


def listing_join(store: Store):
    return and_(StoreListing.variant_id == Variant.id, StoreListing.store_id == store.id)


# -- the search itself -------------------------------------------------------------------------


@dataclass
class SearchHit:
    product: Product
    min_price_fen: int
    max_price_fen: int


@dataclass
class SearchPage:
    hits: list[SearchHit]
    total: int
    page: int
    per_page: int
    query: str

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def _match_clause(dialect: str, query_tokens: list[str], prefix_last: bool):
    """(where-condition, rank expression; lower rank = better)."""
    if dialect == "postgresql":
        terms = [f"'{t}'" for t in query_tokens]
        if prefix_last and terms:
            terms[-1] += ":*"
        tsquery = func.to_tsquery("simple", " & ".join(terms))
        vector = func.to_tsvector("simple", Product.search_text)
        return vector.op("@@")(tsquery), -func.ts_rank(vector, tsquery)
    terms = [f'"{t}"' for t in query_tokens]
    if prefix_last and terms:
        terms[-1] += "*"
    match = " AND ".join(terms)
    fts = (
        select(
            literal_column("rowid").label("id"),
            literal_column("bm25(product_fts)").label("rank"),
        )
        .select_from(text("product_fts"))
        .where(text("product_fts MATCH :fts_query").bindparams(fts_query=match))
        .subquery("fts")
    )
    return fts, fts.c.rank


def search_products(
    store: Store,
    q: str = "",
    category_id: int | None = None,
    min_fen: int | None = None,
    max_fen: int | None = None,
    sort: str = "relevance",
    page: int = 1,
    per_page: int = PER_PAGE,
    category_ids: list[int] | None = None,
) -> SearchPage:
    """What ``store`` sells matching ``q``, filtered, sorted and paginated.

    ``category_id`` also matches its sub-categories when the caller passes the
    whole subtree as ``category_ids``. Prices compare the variant prices the
    store really charges; a product matches a price range when one of its listed
    variants does.

    The text match and the category narrow the products first; only those
    candidates are priced (a catalogue of 15,000 variants is never priced as a
    whole for a query that matches a few hundred products).
    """
    sort = sort if sort in SORTS else "relevance"
    page = max(1, int(page or 1))
    q = (q or "").strip()[:200]
    query_tokens = tokens(q, query=True)[:32]
    prefix_last = bool(query_tokens) and bool(re.search(r"[^\W_]$", q)) and not re.search(
        rf"[{CJK_RANGES}]$", q
    )
    if q and not query_tokens:
        # Only punctuation was typed: nothing can match.
        return SearchPage([], 0, page, per_page, q)
    wanted = category_ids if category_ids else ([category_id] if category_id else None)
    ranked = sort == "relevance" and bool(query_tokens)
    candidates = _candidates(store, query_tokens, prefix_last, wanted, ranked)
    prices = _candidate_prices(store, candidates, min_fen, max_fen)
    if sort == "price_asc":
        order = [prices.c.min_price.asc(), Product.id.desc()]
    elif sort == "price_desc":
        order = [prices.c.min_price.desc(), Product.id.desc()]
    elif not ranked:  # newest, or relevance with nothing to rank by
        order = [Product.created_at.desc(), Product.id.desc()]
    else:
        order = [prices.c.rank.asc(), Product.id.desc()]
    rows = db.session.execute(
        select(Product, prices.c.min_price, prices.c.max_price,
               # The number of matches on every row: one statement answers the page.
               func.count().over().label("total"))
        .join(prices, prices.c.product_id == Product.id)
        .order_by(*order).limit(per_page).offset((page - 1) * per_page)
    ).all()
    if rows:
        total = rows[0].total
    elif page > 1:  # past the last page: no row carries the total
        total = db.session.scalar(select(func.count()).select_from(prices))
    else:
        total = 0
    hits = [SearchHit(product, lo, hi) for product, lo, hi, _total in rows]
    return SearchPage(hits, total or 0, page, per_page, q)


def _candidates(store: Store, query_tokens: list[str], prefix_last: bool,
                category_ids: list[int] | None, ranked: bool):
    """Subquery ``(id, publication_price, rank)``: sold here, matching the text and category.

    The selective conditions (full-text index, category) come first, and the
    publication price is looked up once per candidate product, not per variant.
    The rank is only computed when the results are sorted by it (``ranked``):
    ``ts_rank`` reads every match's text again.
    """
    dialect = db.session.get_bind().dialect.name
    stmt = select(
        Product.id.label("id"), publication_price(store).label("publication_price")
    ).where(sold_in_store(store))
    if query_tokens:
        clause, rank = _match_clause(dialect, query_tokens, prefix_last)
        if dialect == "postgresql":
            stmt = stmt.where(clause)
        else:
            stmt = stmt.join(clause, clause.c.id == Product.id)
    if ranked:
        stmt = stmt.add_columns(rank.label("rank"))
    else:
        stmt = stmt.add_columns(literal_column("0").label("rank"))
    if category_ids:
        stmt = stmt.where(Product.category_id.in_(category_ids))
    # OFFSET 0: computed once per product as written, not merged into the grouped
    # query around it (which would look the publication price up twice per variant,
    # and where SQLite cannot call bm25()).
    return stmt.offset(0).subquery("candidates")


def _candidate_prices(store: Store, candidates, min_fen: int | None, max_fen: int | None):
    """Subquery ``(product_id, min_price, max_price, rank)`` over the candidates' variants.

    A product is in it when at least one of its variants is listed in the store
    (and, with a price range, priced within it).
    """
    price = func.coalesce(
        StoreListing.price_fen, candidates.c.publication_price, Variant.price_fen
    )
    stmt = (
        select(
            candidates.c.id.label("product_id"),
            func.min(price).label("min_price"),
            func.max(price).label("max_price"),
            func.min(candidates.c.rank).label("rank"),
        )
        .select_from(candidates)
        .join(Variant, Variant.product_id == candidates.c.id)
        .outerjoin(StoreListing, listing_join(store))
        .where(or_(StoreListing.listed.is_(None), StoreListing.listed.is_(True)))
        .group_by(candidates.c.id)
    )
    if min_fen is not None:
        stmt = stmt.where(price >= min_fen)
    if max_fen is not None:
        stmt = stmt.where(price <= max_fen)
    return stmt.subquery("prices")
