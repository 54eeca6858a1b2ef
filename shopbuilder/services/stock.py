"""Stock reservations that can never oversell, on SQLite and PostgreSQL alike.

Every change is one conditional UPDATE on the store's listing row
(``... WHERE stock_on_hand - reserved >= :q``): the database checks and
changes in one step, so concurrent buyers cannot both take the last unit, and
no ``SELECT ... FOR UPDATE`` is needed (SQLite ignores it). The caller owns the
transaction: a reservation and the order that needs it commit together.
"""

from __future__ import annotations

import functools

from sqlalchemy import Integer, bindparam, or_, update

from ..extensions import db
from ..models import StoreListing
from . import storefront_catalogue


class OutOfStock(Exception):
    """Not enough stock for a line; ``variant_id`` names it."""

    def __init__(self, variant_id: int, quantity: int):
        super().__init__(f"variant {variant_id}: fewer than {quantity} available")
        self.variant_id = variant_id
        self.quantity = quantity


def _execute(stmt, store_id: int, params: dict | None = None) -> int:
    result = db.session.execute(stmt.execution_options(synchronize_session=False), params)
    note_stock_changed(store_id)
    return result.rowcount


def note_stock_changed(store_id: int) -> None:
    """Tell the storefront that ``store_id``'s stock changed (its pages show availability).

    Also for writers that change listings in a statement of their own (the order writer).
    """
    # The worker runs unscoped, so the storefront cannot tell the store from the scope.
    storefront_catalogue.note_store_changed(db.session, store_id)


def _listing(store_id: int, variant_id: int):
    return update(StoreListing).where(
        StoreListing.store_id == store_id, StoreListing.variant_id == variant_id
    )


@functools.cache
def reserve_statement(prefix: str = "b_"):
    """The reservation's conditional UPDATE, its parameters named ``<prefix>store_id``...

    Built once per prefix on the table itself, so that it also serves inside the
    order writer's statement (which reserves several lines, hence the prefix):
    every order runs it, and building it costs more than running it.
    """
    listing = StoreListing.__table__
    # Named apart from the columns: an UPDATE reserves the column names for its SET.
    quantity = bindparam(f"{prefix}quantity", type_=Integer)
    return (
        update(listing)
        .where(
            listing.c.store_id == bindparam(f"{prefix}store_id", type_=Integer),
            listing.c.variant_id == bindparam(f"{prefix}variant_id", type_=Integer),
            listing.c.stock_on_hand - listing.c.reserved >= quantity,
            or_(listing.c.listed.is_(None), listing.c.listed.is_(True)),
        )
        .values(reserved=listing.c.reserved + quantity)
    )


def reserve(store_id: int, variant_id: int, quantity: int) -> None:
    """Hold ``quantity`` units for an order, or raise :class:`OutOfStock`."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    params = {"b_store_id": store_id, "b_variant_id": variant_id, "b_quantity": quantity}
    if _execute(reserve_statement(), store_id, params) != 1:
        raise OutOfStock(variant_id, quantity)


def release(store_id: int, variant_id: int, quantity: int) -> None:
    """Give reserved units back (cancelled or refunded before the goods left)."""
    stmt = (
        _listing(store_id, variant_id)
        .where(StoreListing.reserved >= quantity)
        .values(reserved=StoreListing.reserved - quantity)
    )
    if _execute(stmt, store_id) != 1:
        raise RuntimeError(f"cannot release {quantity} of variant {variant_id}: not reserved")


def commit(store_id: int, variant_id: int, quantity: int) -> None:
    """The goods left the store: take reserved units off the shelf for good."""
    stmt = (
        _listing(store_id, variant_id)
        .where(StoreListing.reserved >= quantity, StoreListing.stock_on_hand >= quantity)
        .values(
            reserved=StoreListing.reserved - quantity,
            stock_on_hand=StoreListing.stock_on_hand - quantity,
        )
    )
    if _execute(stmt, store_id) != 1:
        raise RuntimeError(f"cannot commit {quantity} of variant {variant_id}: not reserved")


def restock(store_id: int, variant_id: int, quantity: int) -> None:
    """Returned goods go back on the shelf."""
    stmt = _listing(store_id, variant_id).values(
        stock_on_hand=StoreListing.stock_on_hand + quantity
    )
    if _execute(stmt, store_id) != 1:
        raise RuntimeError(f"no listing of variant {variant_id} to restock")


def commit_order(order) -> None:
    for line in order.lines:
        commit(order.store_id, line.variant_id, line.quantity)
