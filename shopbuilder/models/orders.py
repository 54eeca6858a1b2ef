"""Carts, orders and everything that happens to an order: payments, refunds, deadlines.

Money columns are integer fen. An order's ``state`` changes only through
:mod:`shopbuilder.services.orders`, which guards every change with a
conditional UPDATE on the state it expects, so two racing callers never both
apply one transition.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .accounts import Customer
from .base import StoreOwned, Timestamped, UTCDateTime, utcnow
from .catalogue import Variant
from .tenancy import Store

# -- carts ----------------------------------------------------------------------------------


class Cart(StoreOwned, Timestamped, db.Model):
    """One cart per customer per store; an anonymous cart is found by its cookie token."""

    __table_args__ = (
        UniqueConstraint("store_id", "customer_id"),
        UniqueConstraint("store_id", "token"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    #: Random token of an anonymous cart (kept in a signed cookie); None once it has an owner.
    token: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    lines: Mapped[list[CartLine]] = relationship(
        back_populates="cart", order_by="CartLine.id", lazy="selectin",
        cascade="all, delete-orphan",
    )


class CartLine(StoreOwned, db.Model):
    __table_args__ = (
        UniqueConstraint("cart_id", "variant_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("cart.id"), index=True, nullable=False)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id"), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)

    cart: Mapped[Cart] = relationship(back_populates="lines")
    variant: Mapped[Variant] = relationship(lazy="joined")


# -- orders ---------------------------------------------------------------------------------


class OrderState:
    """The states of an order (DESIGN.md, "Orders, money and time")."""

    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    AWAITING_GROUP = "awaiting_group"
    READY_FOR_PICKUP = "ready_for_pickup"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"

    ALL = (
        PENDING_PAYMENT, PAID, AWAITING_GROUP, READY_FOR_PICKUP, SHIPPED, COMPLETED,
        CANCELLED, REFUNDED,
    )
    #: States in which money has been taken and not (fully) given back.
    PAID_STATES = (PAID, AWAITING_GROUP, READY_FOR_PICKUP, SHIPPED, COMPLETED)
    ENDS = (CANCELLED, REFUNDED)


class Order(StoreOwned, Timestamped, db.Model):
    """A customer's order at one store, with its money in fen and how it is fulfilled."""

    __table_args__ = (
        UniqueConstraint("store_id", "number"),
        UniqueConstraint("store_id", "idempotency_key"),
        Index("ix_order_store_state_created", "store_id", "state", "created_at"),
        CheckConstraint("total_fen >= 0", name="total_not_negative"),
        CheckConstraint("refunded_fen <= paid_fen", name="refund_within_paid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Human-friendly, unique per store: ``WL-20261127-0001``.
    number: Mapped[str] = mapped_column(String(40), nullable=False)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    state: Mapped[str] = mapped_column(String(24), default=OrderState.PENDING_PAYMENT,
                                       nullable=False)
    currency: Mapped[str] = mapped_column(String(3), default="CNY", nullable=False)
    goods_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    delivery_fen: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    adjustment_fen: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    total_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    paid_fen: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    refunded_fen: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    #: The price adjustments applied, as ``[{"code", "label", "amount_fen"}]``.
    adjustments: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    fulfilment_code: Mapped[str] = mapped_column(String(32), nullable=False)
    fulfilment_data: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    payment_provider: Mapped[str] = mapped_column(String(32), nullable=False)
    contact_name: Mapped[str] = mapped_column(String(120), default="", nullable=False)
    contact_phone: Mapped[str] = mapped_column(String(32), default="", nullable=False)
    address: Mapped[str] = mapped_column(Text, default="", nullable=False)
    note: Mapped[str] = mapped_column(Text, default="", nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    #: Why a paid order waits (``awaiting_group``), from ``shopbuilder_order_hold_after_payment``.
    hold_reason: Mapped[str | None] = mapped_column(String(255))
    #: ``reserved`` (placed), ``committed`` (goods left the store) or ``released``.
    stock_state: Mapped[str] = mapped_column(String(16), default="reserved", nullable=False)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    store: Mapped[Store] = relationship(lazy="joined")
    customer: Mapped[Customer | None] = relationship(lazy="select")
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", lazy="selectin"
    )
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.id", lazy="select"
    )

    @property
    def refundable_fen(self) -> int:
        return self.paid_fen - self.refunded_fen

    @property
    def is_paid(self) -> bool:
        return self.state in OrderState.PAID_STATES

    def __repr__(self) -> str:
        return f"<Order {self.number} {self.state}>"


class OrderLine(StoreOwned, db.Model):
    """What was bought, frozen at the price and title of the moment."""

    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id"), index=True, nullable=False)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id"), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    variant_label: Mapped[str] = mapped_column(String(200), default="", nullable=False)
    sku: Mapped[str] = mapped_column(String(64), default="", nullable=False)
    unit_price_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    line_total_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    #: Units put back on the shelf by an after-sale return.
    restocked: Mapped[int] = mapped_column(Integer, default=0, nullable=False)

    order: Mapped[Order] = relationship(back_populates="lines")


class OrderEvent(StoreOwned, db.Model):
    """One line of an order's timeline: who did what, when, from which state to which."""

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id"), index=True, nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    #: ``customer:3``, ``staff:7``, ``system``, ``provider:sandbox``, ``plugin:groupbuy``.
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str | None] = mapped_column(String(24))
    #: A short code such as ``placed``, ``paid``, ``refund``, ``note``.
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    reason: Mapped[str] = mapped_column(Text, default="", nullable=False)
    data: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)

    order: Mapped[Order] = relationship(back_populates="events")


class OrderCounter(StoreOwned, db.Model):
    """The last order number handed out per store per day (an upsert makes it race-safe)."""

    __table_args__ = (UniqueConstraint("store_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[str] = mapped_column(String(8), nullable=False)
    value: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class Deadline(StoreOwned, db.Model):
    """Something that must happen to an order by ``due_at`` unless the order moved on.

    ``kind`` is ``pay``, ``fulfil``, ``pickup``, ``confirm`` or ``after_sale``;
    the worker's :func:`shopbuilder.services.deadlines.tick` claims due rows
    with a conditional UPDATE (``open`` -> ``done``) so two workers never apply
    one twice.
    """

    __table_args__ = (
        UniqueConstraint("order_id", "kind"),
        Index("ix_deadline_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id"), index=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: ``open``, ``done`` (applied) or ``void`` (the order moved on first).
    state: Mapped[str] = mapped_column(String(8), default="open", nullable=False)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(64), default="", nullable=False)

    order: Mapped[Order] = relationship(lazy="joined")


# -- money ----------------------------------------------------------------------------------


class Payment(StoreOwned, Timestamped, db.Model):
    """One attempt to pay an order through a provider."""

    STATES = ("pending", "succeeded", "failed")
    __table_args__ = (
        UniqueConstraint("token"),
        UniqueConstraint("provider", "provider_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id"), index=True, nullable=False)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    #: Our reference, given to the provider (``out_trade_no``) and used in the hosted page URL.
    token: Mapped[str] = mapped_column(String(64), nullable=False)
    amount_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    state: Mapped[str] = mapped_column(String(12), default="pending", nullable=False)
    #: The provider's transaction id once paid.
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    refunded_fen: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(lazy="joined")


class Refund(StoreOwned, Timestamped, db.Model):
    """Money given back through the provider of a payment (in full or in part)."""

    __table_args__ = (UniqueConstraint("order_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id"), index=True, nullable=False)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), index=True, nullable=False)
    amount_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    reason: Mapped[str] = mapped_column(Text, default="", nullable=False)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    after_sale_id: Mapped[int | None] = mapped_column(ForeignKey("after_sale_request.id"))
    #: The refund form's hidden key: the same submission twice refunds once.
    idempotency_key: Mapped[str | None] = mapped_column(String(64))


class PaymentNotice(StoreOwned, db.Model):
    """A provider notification's nonce, kept so a replayed notification is refused."""

    __table_args__ = (UniqueConstraint("provider", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    nonce: Mapped[str] = mapped_column(String(64), nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class AfterSaleRequest(StoreOwned, Timestamped, db.Model):
    """A customer's request for a refund or a return (售后), decided by the store or HQ."""

    KINDS = ("refund", "return")
    #: ``closed``: the order was refunded in full by other means (a deadline, the store)
    #: while the request was open, so nothing was left to decide.
    STATES = ("open", "approved", "rejected", "closed")

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id"), index=True, nullable=False)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    amount_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    state: Mapped[str] = mapped_column(String(8), default="open", nullable=False, index=True)
    restock: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    #: What comes back with a return, ``{"<order line id>": units}``: asked by the
    #: customer, then what the store actually put back on the shelf once approved.
    return_lines: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    decision_note: Mapped[str] = mapped_column(Text, default="", nullable=False)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(lazy="joined")
