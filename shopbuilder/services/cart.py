"""Carts: one per customer per store, or an anonymous one found by a signed cookie.

The anonymous cart's token lives in the ``cart`` cookie, signed with the app's
secret so a visitor cannot guess another visitor's cart. At sign-in the
anonymous cart is merged into the customer's own (quantities add up) and
deleted.
"""

from __future__ import annotations

import functools
import logging
import secrets
from dataclasses import dataclass, replace
from types import SimpleNamespace

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, case, literal, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, lazyload, selectinload

from .. import clock
from ..extensions import db
from ..models import Cart, CartLine, Product, Publication, StoreListing, Variant
from . import search

log = logging.getLogger(__name__)

COOKIE_NAME = "cart"
MAX_QUANTITY = 99


#: Pricing needs a variant's product, never the product's other variants or its images,
#: which the product would otherwise load eagerly (two queries per cart line).
_PRODUCT_ONLY = joinedload(Variant.product).options(
    lazyload(Product.variants), lazyload(Product.images)
)
_LINES_FOR_PRICING = selectinload(Cart.lines).joinedload(CartLine.variant).options(_PRODUCT_ONLY)


class CartError(ValueError):
    """A cart change that cannot be made; the message is shown to the customer."""


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="shopbuilder.cart")


def sign_token(token: str) -> str:
    return _serializer().dumps(token)


def read_token(cookie_value: str | None) -> str | None:
    if not cookie_value:
        return None
    try:
        token = _serializer().loads(cookie_value)
    except BadSignature:
        return None
    return token if isinstance(token, str) and 16 <= len(token) <= 64 else None


def visitor_token() -> str | None:
    """The anonymous cart token of this request's visitor (from the signed cookie), or None.

    With the customer's id, ``find_cart(store, customer_id, visitor_token())`` finds the
    cart the visitor sees in ``store``; plugins need not know the cookie's name or signing.
    """
    return read_token(request.cookies.get(COOKIE_NAME))


def new_token() -> str:
    return secrets.token_urlsafe(24)


def find_cart(store, customer_id: int | None = None, token: str | None = None) -> Cart | None:
    if customer_id is not None:
        stmt = select(Cart).where(Cart.store_id == store.id, Cart.customer_id == customer_id)
    elif token:
        stmt = select(Cart).where(Cart.store_id == store.id, Cart.token == token)
    else:
        return None
    return db.session.scalar(stmt.options(_LINES_FOR_PRICING))


def get_or_create_cart(store, customer_id: int | None = None, token: str | None = None) -> Cart:
    cart = find_cart(store, customer_id, token)
    if cart is not None:
        return cart
    cart = Cart(
        chain_id=store.chain_id, store_id=store.id, customer_id=customer_id,
        token=None if customer_id is not None else token,
    )
    db.session.add(cart)
    try:
        db.session.flush()
    except IntegrityError:
        # Two first requests of one visitor raced; the other one's cart wins.
        db.session.rollback()
        cart = find_cart(store, customer_id, token)
        if cart is None:
            raise
    return cart


def listing_for(store, variant_id: int) -> StoreListing | None:
    return db.session.scalar(
        select(StoreListing).where(
            StoreListing.store_id == store.id, StoreListing.variant_id == variant_id
        )
    )


#: The most specific publication sets the price: store, then city, then all (as the catalogue
#: does in ``search.publication_price``; the newest one breaks a tie).
_SPECIFICITY = case(
    (Publication.target == "store", 0), (Publication.target == "city", 1), else_=2
)


def publication_price(store, product_id: int) -> tuple[bool, int | None]:
    """Whether ``product_id`` reaches ``store`` through a publication, and its price there."""
    best = db.session.execute(
        select(Publication.price_fen)
        .where(search.publication_reaches(store, product_id))
        .order_by(_SPECIFICITY, Publication.id.desc())
        .limit(1)
    ).first()
    if best is None:
        return False, None
    return True, best.price_fen


def _best_publication(product_id):
    """The most specific publication of ``product_id`` reaching the store: (price, found).

    The condition reads the store's chain_id, city and id: bind parameters stand in
    for them.
    """
    any_store = SimpleNamespace(chain_id=bindparam("chain_id"), city=bindparam("city"),
                                id=bindparam("store_id"))
    return (
        select(Publication.price_fen, literal(1).label("found"))
        .where(search.publication_reaches(any_store, product_id))
        .order_by(_SPECIFICITY, Publication.id.desc()).limit(1).subquery()
    )


@functools.cache
def _listing_and_publication_query():
    """Built once: constructing this statement cost more than running it, on every line.

    The publications are found with the catalogue's own condition, which repeats the
    chain and the product in each branch of its OR so that each branch is one seek on
    ``ix_publication_reach``: a product published store by store to 2,000 stores
    reads one row per line, not 2,000.
    """
    best = _best_publication(bindparam("product_id"))
    return (
        select(StoreListing, best.c.price_fen, best.c.found)
        .select_from(best)
        .outerjoin(StoreListing, (StoreListing.store_id == bindparam("store_id"))
                   & (StoreListing.variant_id == bindparam("variant_id")))
        # Only the listing's own columns are read; its variant is the one in hand.
        .options(lazyload("*"))
    )


@functools.cache
def _variant_pricing_query():
    """Built once: a variant with its product, the store's listing and the best publication.

    The publications' product is the variant's, found by a subquery the database
    runs once, so the catalogue's condition keeps its one seek per branch.
    """
    best = _best_publication(select(Variant.product_id)
                             .where(Variant.id == bindparam("variant_id")).scalar_subquery())
    return (
        select(Variant, StoreListing, best.c.price_fen, best.c.found)
        .outerjoin(StoreListing, (StoreListing.store_id == bindparam("store_id"))
                   & (StoreListing.variant_id == Variant.id))
        .outerjoin(best, true())
        .where(Variant.id == bindparam("variant_id"))
        # The listing's variant is the one in the row.
        .options(_PRODUCT_ONLY, lazyload(StoreListing.variant))
    )


def _listing_and_publication(store, variant: Variant):
    """The store's listing and the publications reaching the store, in one round trip."""
    row = db.session.execute(
        _listing_and_publication_query(),
        {"chain_id": store.chain_id, "city": store.city, "store_id": store.id,
         "product_id": variant.product_id, "variant_id": variant.id},
    ).first()
    if row is None:
        return listing_for(store, variant.id), False, None
    return row[0], True, row[1]


@dataclass
class PricedLine:
    variant: Variant
    quantity: int
    unit_price_fen: int
    available: int
    sellable: bool

    @property
    def line_total_fen(self) -> int:
        return self.unit_price_fen * self.quantity

    @property
    def title(self) -> str:
        return self.variant.product.title

    @property
    def problem(self) -> str | None:
        if not self.sellable:
            return "unavailable"
        if self.available < self.quantity:
            return "short"
        return None


def price_variant(store, variant: Variant) -> PricedLine:
    """The price and availability of one variant in ``store`` (listing > publication > chain)."""
    product: Product = variant.product
    if product.store_id is not None:
        return _priced(store, variant, listing_for(store, variant.id), None, False)
    listing, reaches, pub_price = _listing_and_publication(store, variant)
    return _priced(store, variant, listing, pub_price, reaches)


def price_variant_id(store, variant_id: int) -> PricedLine | None:
    """:func:`price_variant` for a variant not loaded yet: one statement loads and prices it.

    For buying one product straight away, where the variant, its product, the
    store's listing and the publications would otherwise be two round trips.
    None when there is no such variant in the store (another store's own product
    is one the tenancy guard does not even load).
    """
    row = db.session.execute(
        _variant_pricing_query(),
        {"chain_id": store.chain_id, "city": store.city, "store_id": store.id,
         "variant_id": variant_id},
    ).first()
    if row is None or row[0].product is None:
        return None
    variant, listing, pub_price, found = row
    return _priced(store, variant, listing, pub_price, bool(found))


def _priced(store, variant: Variant, listing: StoreListing | None, pub_price: int | None,
            published_here: bool) -> PricedLine:
    product: Product = variant.product
    if product.store_id is not None:
        reaches, pub_price = product.store_id == store.id, None
    else:
        reaches = published_here
    sellable = (
        reaches and product.status == "active"
        and listing is not None and listing.listed is not False
    )
    price = variant.price_fen
    if pub_price is not None:
        price = pub_price
    if listing is not None and listing.price_fen is not None:
        price = listing.price_fen
    available = listing.available if listing is not None else 0
    return PricedLine(variant, 0, price, available, bool(sellable))


def priced_lines(store, cart: Cart | None) -> list[PricedLine]:
    if cart is None:
        return []
    priced = []
    for line in cart.lines:
        item = line.priced if isinstance(line, BuyNowLine) else price_variant(store, line.variant)
        priced.append(replace(item, quantity=line.quantity))
    return priced


def goods_total(lines: list[PricedLine]) -> int:
    return sum(line.line_total_fen for line in lines)


@dataclass
class BuyNowLine:
    variant: Variant
    quantity: int
    #: The variant as priced when the line was made (its quantity is the line's).
    priced: PricedLine

    @property
    def variant_id(self) -> int:
        return self.variant.id


@dataclass
class BuyNow:
    """A one-product checkout (立即购买) that skips the cart; hooks see it as a cart."""

    store_id: int
    customer_id: int | None
    lines: list[BuyNowLine]
    id: None = None


def buy_now(store, customer_id: int | None, variant_id: int, quantity: int) -> BuyNow:
    if quantity < 1 or quantity > MAX_QUANTITY:
        raise CartError("quantity")
    priced = price_variant_id(store, variant_id)
    if priced is None:
        raise CartError("unknown")
    return BuyNow(store.id, customer_id, [BuyNowLine(priced.variant, quantity, priced)])


def _touch(cart: Cart) -> None:
    cart.updated_at = clock.now()


def add(store, cart: Cart, variant_id: int, quantity: int = 1) -> CartLine:
    """Put ``quantity`` more of a variant in the cart (checked against what the store sells)."""
    if quantity < 1 or quantity > MAX_QUANTITY:
        raise CartError("quantity")
    variant = db.session.get(Variant, variant_id, options=[_PRODUCT_ONLY])
    if variant is None or variant.product is None:  # no such variant, or not this store's
        raise CartError("unknown")
    item = price_variant(store, variant)
    if not item.sellable:
        raise CartError("unavailable")
    line = next((ln for ln in cart.lines if ln.variant_id == variant_id), None)
    if line is None:
        line = CartLine(chain_id=cart.chain_id, store_id=cart.store_id, variant_id=variant_id,
                        quantity=0)
        cart.lines.append(line)
    line.quantity = min(line.quantity + quantity, MAX_QUANTITY)
    _touch(cart)
    return line


def set_quantity(cart: Cart, variant_id: int, quantity: int) -> None:
    line = next((ln for ln in cart.lines if ln.variant_id == variant_id), None)
    if line is None:
        return
    if quantity <= 0:
        cart.lines.remove(line)
    else:
        line.quantity = min(quantity, MAX_QUANTITY)
    _touch(cart)


def clear_variants(cart: Cart, variant_ids) -> None:
    wanted = set(variant_ids)
    for line in [ln for ln in cart.lines if ln.variant_id in wanted]:
        cart.lines.remove(line)
    _touch(cart)


def merge_anonymous(store, customer_id: int, token: str | None) -> Cart | None:
    """Move the anonymous cart ``token`` into the customer's cart (quantities add up)."""
    anonymous = find_cart(store, token=token) if token else None
    if anonymous is None or anonymous.customer_id is not None:
        return None
    own = get_or_create_cart(store, customer_id=customer_id)
    for line in list(anonymous.lines):
        mine = next((ln for ln in own.lines if ln.variant_id == line.variant_id), None)
        if mine is None:
            own.lines.append(CartLine(chain_id=own.chain_id, store_id=own.store_id,
                                      variant_id=line.variant_id, quantity=line.quantity))
        else:
            mine.quantity = min(mine.quantity + line.quantity, MAX_QUANTITY)
    db.session.delete(anonymous)
    _touch(own)
    return own
