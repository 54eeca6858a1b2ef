"""Writing a new order: its number, its rows and its stock, in as few round trips as can be.

Placing an order writes the store's day counter, the order, its lines, its pending
payment, its first event and its pay deadline, and reserves each line's stock.
Through SQLAlchemy and psycopg each statement costs PostgreSQL about 0.3 ms of the
shop process's time (the round trip, the driver, the result), which made these
writes a third of placing an order. On PostgreSQL they are one statement:
data-modifying CTEs (``WITH ... INSERT ... RETURNING``) take the number, insert the
order with it, insert the children with the order's id and run the stock's
conditional UPDATEs. SQLite has no data-modifying CTEs and no round trips to save,
so it runs the same writes as separate statements.

The statement is built and compiled once per number of rows of each kind; the order comes
back as an ORM object attached to the session as if it had been loaded, so the
page and the plugins' hooks use it as they would an order flushed by the ORM.
"""

from __future__ import annotations

import functools
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, Text, bindparam, cast, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import make_transient_to_detached

from ..extensions import db
from ..models import Deadline, Order, OrderCounter, OrderEvent, OrderLine, Payment, StoreListing
from . import stock

NUMBER_TIMEZONE = ZoneInfo("Asia/Shanghai")

#: The rows a new order starts with, in the order they are written.
CHILDREN = (OrderLine, Payment, OrderEvent, Deadline)


def order_number_prefix(store) -> str:
    """``west-lake`` -> ``WL``; a store may set its own in ``settings["orders"]["prefix"]``."""
    custom = (store.settings or {}).get("orders", {}).get("prefix")
    if custom:
        return str(custom)[:8]
    letters = "".join(part[:1] for part in store.slug.split("-") if part).upper()
    return letters[:4] or f"S{store.id}"


def number_day(now: datetime) -> str:
    """The day an order number counts in: the calendar day in China."""
    return now.astimezone(NUMBER_TIMEZONE).strftime("%Y%m%d")


def format_number(prefix: str, day: str, value: int) -> str:
    """``WL-20261127-0001``: at least four digits, more on a day of ten thousand orders."""
    return f"{prefix}-{day}-{value:04d}"


def insert_order(store, values: dict, children: dict[type, list[dict]], now: datetime,
                 reserve: list[tuple[int, int]]) -> Order:
    """Insert the order (``values``, no number) placed ``now``, numbered, and its ``children``,
    and reserve its stock: ``reserve`` lists ``(variant_id, quantity)``.

    ``children`` maps each model of :data:`CHILDREN` to its rows, without
    ``order_id`` and the owner columns, which are filled in here. Returns the
    order, persistent in the session. Raises ``IntegrityError`` when the store
    already has an order with the same idempotency key, and
    :class:`~shopbuilder.services.stock.OutOfStock` for a line the store cannot
    hold; the caller rolls the transaction back.

    The day counter is written first and the listings after the order: the
    counter's lock already makes the store's orders take turns until the
    commit, so holding the listings' locks as long costs no one anything.
    """
    owner = {"chain_id": store.chain_id, "store_id": store.id}
    day = number_day(now)
    prefix = order_number_prefix(store)
    order_row = _complete(Order.__table__,
                          {**values, **owner, "created_at": now, "updated_at": now},
                          leave="number")
    rows = {model: [_complete(model.__table__, {**row, **owner}, leave="order_id")
                    for row in children.get(model, ())]
            for model in CHILDREN}
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # Not named like columns: an UPDATE in the statement would SET those.
        params = {"owner_chain_id": store.chain_id, "owner_store_id": store.id, "day": day,
                  "number_prefix": f"{prefix}-{day}-",
                  **_named("order", [order_row])}
        for model in CHILDREN:
            params.update(_named(model.__tablename__, rows[model]))
        for i, (variant_id, quantity) in enumerate(reserve):
            params.update({f"r{i}_store_id": store.id, f"r{i}_variant_id": variant_id,
                           f"r{i}_quantity": quantity})
        counts = tuple(len(rows[model]) for model in CHILDREN)
        order_id, number, *held = connection.execute(
            _placing_statement(counts, len(reserve)), params).one()
        stock.note_stock_changed(store.id)
        for (variant_id, quantity), count in zip(reserve, held, strict=True):
            if count != 1:
                raise stock.OutOfStock(variant_id, quantity)
    else:
        counter = connection.execute(_counter_upsert(connection.dialect.name),
                                     {**owner, "day": day, "value": 1}).scalar_one()
        number = format_number(prefix, day, counter)
        order_id = connection.execute(_insert(Order), {**order_row, "number": number}).scalar_one()
        for model in CHILDREN:
            if rows[model]:
                connection.execute(_insert(model),
                                   [{**row, "order_id": order_id} for row in rows[model]])
        for variant_id, quantity in reserve:
            stock.reserve(store.id, variant_id, quantity)
    order = Order(**order_row, id=order_id, number=number)
    order.store = store
    make_transient_to_detached(order)
    db.session.add(order)
    return order


def _complete(table, row: dict, leave: str) -> dict:
    """``row`` with every other column set (its Python default, else None) but ``leave``.

    The ORM would apply the defaults at a flush; a hand-written insert must, and
    a complete row is what the ORM object attached afterwards has to hold.
    ``leave`` is the column the writing fills in (the order's number, a child's order).
    """
    unknown = set(row) - set(table.columns.keys())
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(sorted(unknown))}")
    full = dict(row)
    for column in table.columns:
        if column.primary_key or column.key in full or column.key == leave:
            continue
        default = column.default
        if default is None:
            full[column.key] = None
        else:
            full[column.key] = default.arg(None) if default.is_callable else default.arg
    return full


def _named(prefix: str, rows: list[dict]) -> dict:
    """Rows as the statement's parameters: ``order_line0_title``, ``payment0_token``..."""
    return {f"{prefix}{i}_{key}": value
            for i, row in enumerate(rows) for key, value in row.items() if key not in _SHARED}


@functools.cache
def _insert(model):
    """SQLite's inserts, built once (every order runs them); the order's returns its id."""
    table = model.__table__
    return insert(table).returning(table.c.id) if model is Order else insert(table)


@functools.cache
def _counter_upsert(dialect: str):
    """The day counter's next value (insert 1 or add 1), built once per dialect."""
    table = OrderCounter.__table__
    dml = postgresql if dialect == "postgresql" else sqlite
    return (
        dml.insert(table)
        .on_conflict_do_update(index_elements=["store_id", "day"],
                               set_={"value": table.c.value + 1})
        .returning(table.c.value)
    )


@functools.cache
def _placing_statement(child_counts: tuple[int, ...], reserve_count: int):
    """PostgreSQL: number, order, children and stock in one statement.

    ``child_counts``: how many rows of each model of :data:`CHILDREN` the order has.

    Returns the order's id and number, then 1 or 0 per reservation (held or
    not). PostgreSQL leaves the order of data-modifying CTEs open in general;
    what matters here is fixed by what reads what: the order's insert reads the
    counter's new value, so the counter's row is locked first; the result reads
    the order and then each reservation; the children, read by nothing, are
    written at the end of the statement.
    """
    chain_id = bindparam("owner_chain_id", type_=Integer)
    store_id = bindparam("owner_store_id", type_=Integer)
    counter = _counter_upsert("postgresql").values(
        chain_id=chain_id, store_id=store_id, day=bindparam("day"), value=1,
    ).cte("day_counter")
    value = cast(counter.c.value, Text)
    number = bindparam("number_prefix", type_=Text) + func.lpad(
        value, func.greatest(4, func.length(value)), "0")
    orders = Order.__table__
    placed = (
        insert(orders)
        .from_select(
            ["number", "chain_id", "store_id", *_own_columns(orders)],
            select(number, chain_id, store_id, *_params("order0", orders))
            .select_from(counter),
        )
        .returning(orders.c.id, orders.c.number)
        .cte("placed")
    )
    children = []
    for model, count in zip(CHILDREN, child_counts, strict=True):
        table = model.__table__
        for i in range(count):
            children.append(
                insert(table).from_select(
                    ["order_id", "chain_id", "store_id", *_own_columns(table)],
                    select(placed.c.id, chain_id, store_id, *_params(f"{table.name}{i}", table))
                    .select_from(placed),
                ).cte(f"{table.name}{i}")
            )
    held = []
    for i in range(reserve_count):
        reserved = (stock.reserve_statement(f"r{i}_")
                    .returning(StoreListing.variant_id).cte(f"reserve{i}"))
        held.append(select(func.count()).select_from(reserved).scalar_subquery())
    return select(placed.c.id, placed.c.number, *held).add_cte(*children)


_SHARED = {"id", "number", "order_id", "chain_id", "store_id"}


def _own_columns(table) -> list[str]:
    return [c.key for c in table.columns if c.key not in _SHARED]


def _params(prefix: str, table) -> list:
    return [bindparam(f"{prefix}_{c.key}", type_=c.type)
            for c in table.columns if c.key not in _SHARED]
