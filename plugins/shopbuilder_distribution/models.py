"""Distribution tables: grades, distributors, bindings, commissions and withdrawals.

Everything belongs to a chain (``ChainOwned``): a customer is a member of the
chain, so a distributor earns on purchases in any of its stores that have the
plugin on, and a binding never crosses chains. ``Distributor.balance_fen`` is
the row a withdrawal races on: it changes only through conditional UPDATEs in
:mod:`shopbuilder_distribution.service`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopbuilder.extensions import db
from shopbuilder.models import ChainOwned, Customer, Timestamped, UTCDateTime

#: Marks the tables as this plugin's: core autogenerate leaves them alone, and
#: ``flask db migrate -x plugin=distribution`` writes only them (``docs/plugins.md``).
PLUGIN = {"plugin": "distribution"}


class DistributorStatus:
    PENDING = "pending"  # applied, waiting for HQ or the store
    ACTIVE = "active"
    REJECTED = "rejected"
    SUSPENDED = "suspended"  # earns nothing new; keeps what it earned


class CommissionState:
    #: The order is paid; the money is still in escrow and the after-sale window may be open.
    FROZEN = "frozen"
    #: The order settled; credited in the ledger, waiting out the chain's extra freeze days.
    SETTLED = "settled"
    #: Added to the distributor's withdrawable balance.
    AVAILABLE = "available"
    #: Refunded (or cancelled) before settlement: never paid.
    CANCELLED = "cancelled"


class WithdrawalState:
    PENDING = "pending"
    PAID = "paid"
    REJECTED = "rejected"


class Grade(ChainOwned, Timestamped, db.Model):
    """A distributor tier with its own rates (basis points of what the customer paid)."""

    __tablename__ = "distribution_grade"
    __table_args__ = (
        CheckConstraint("rate_bp >= 0 AND rate_bp <= 5000", name="rate_range"),
        CheckConstraint("second_rate_bp >= 0 AND second_rate_bp <= 5000",
                        name="second_rate_range"),
        UniqueConstraint("chain_id", "name"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), nullable=False)
    #: What the distributor who brought the customer earns (level 1).
    rate_bp: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    #: What this grade earns as the recruiter of that distributor (level 2).
    second_rate_bp: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    position: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class ProductCommission(ChainOwned, db.Model):
    """A fixed commission per unit of a product, instead of the grade's rate."""

    __tablename__ = "distribution_product_commission"
    __table_args__ = (
        UniqueConstraint("chain_id", "product_id"),
        CheckConstraint("fixed_fen >= 0 AND second_fixed_fen >= 0", name="fixed_not_negative"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), nullable=False)
    fixed_fen: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    second_fixed_fen: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class Distributor(ChainOwned, Timestamped, db.Model):
    """A customer who shares links and earns commission (分销员).

    ``parent_id`` is the distributor who recruited this one. Commission goes to
    this distributor (level 1) and to ``parent`` (level 2) and never further up:
    the service never reads ``parent.parent``.
    """

    __tablename__ = "distribution_distributor"
    __table_args__ = (
        UniqueConstraint("chain_id", "customer_id"),
        UniqueConstraint("chain_id", "code"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
        Index("ix_distribution_distributor_status", "chain_id", "status"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    code: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), default=DistributorStatus.PENDING,
                                        nullable=False)
    grade_id: Mapped[int | None] = mapped_column(ForeignKey("distribution_grade.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("distribution_distributor.id"),
                                                  index=True)
    #: The store where the customer applied (its manager may decide the application).
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"), index=True)
    note: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    #: Withdrawable commission in fen; may go below zero after a clawback.
    balance_fen: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    withdrawn_fen: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str] = mapped_column(String(64), default="", nullable=False)

    customer: Mapped[Customer] = relationship(lazy="joined")
    grade: Mapped[Grade | None] = relationship(lazy="joined")

    @property
    def account(self) -> str:
        return f"commission:{self.id}"


class Binding(ChainOwned, db.Model):
    """Which distributor a customer belongs to in this chain, and until when."""

    __tablename__ = "distribution_binding"
    __table_args__ = (
        UniqueConstraint("chain_id", "customer_id"),
        Index("ix_distribution_binding_distributor", "chain_id", "distributor_id"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distribution_distributor.id"),
                                                nullable=False)
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: None: permanent.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"))

    customer: Mapped[Customer] = relationship(lazy="joined")


class Commission(ChainOwned, Timestamped, db.Model):
    """What one distributor earns on one order, at level 1 or 2 (never 3)."""

    __tablename__ = "distribution_commission"
    __table_args__ = (
        UniqueConstraint("order_id", "level"),
        CheckConstraint("level IN (1, 2)", name="two_levels_only"),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
        Index("ix_distribution_commission_state", "state", "available_at"),
        Index("ix_distribution_commission_distributor", "chain_id", "distributor_id", "state"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True, nullable=False)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id"), nullable=False)
    order_number: Mapped[str] = mapped_column(String(40), nullable=False)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distribution_distributor.id"),
                                                nullable=False)
    level: Mapped[int] = mapped_column(Integer, nullable=False)
    #: What the customer paid for the goods (after discounts, without delivery).
    base_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    #: The commission as computed at payment (what a full settlement pays).
    full_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    #: What it is expected to pay now (less partial refunds before settlement).
    amount_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    #: Credited at settlement, less clawbacks since (what it is worth now).
    net_fen: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    #: The part of ``net_fen`` already added to the balance.
    credited_fen: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    #: The order's ``refunded_fen`` when this row last followed it: the worker tick
    #: reconciles rows whose order was refunded since (``service.tick``).
    refund_seen_fen: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    state: Mapped[str] = mapped_column(String(16), default=CommissionState.FROZEN,
                                       nullable=False)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    available_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    distributor: Mapped[Distributor] = relationship(lazy="joined")


class Withdrawal(ChainOwned, Timestamped, db.Model):
    """A distributor's request to be paid (提现), settled offline by HQ."""

    __tablename__ = "distribution_withdrawal"
    __table_args__ = (
        CheckConstraint("amount_fen > 0 AND fee_fen >= 0 AND fee_fen <= amount_fen",
                        name="amount_and_fee"),
        Index("ix_distribution_withdrawal_state", "chain_id", "state"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distribution_distributor.id"),
                                                nullable=False, index=True)
    amount_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    fee_fen: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    state: Mapped[str] = mapped_column(String(16), default=WithdrawalState.PENDING,
                                       nullable=False)
    reference: Mapped[str] = mapped_column(String(120), default="", nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str] = mapped_column(String(64), default="", nullable=False)

    distributor: Mapped[Distributor] = relationship(lazy="joined")

    @property
    def net_fen(self) -> int:
        return self.amount_fen - self.fee_fen
