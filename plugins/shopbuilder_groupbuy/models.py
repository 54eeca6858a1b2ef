"""Group-buy tables: campaigns, their per-store counters, groups and members.

Every counter that decides who gets in (``Group.seats_taken``, ``Group.paid_count``,
``CampaignStore.units_taken``, ``CampaignCustomer.units``) is changed only by conditional
UPDATEs in
:mod:`shopbuilder_groupbuy.service`, never read-modify-write in Python, so many
processes racing for the last seat cannot overfill a group.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopbuilder.extensions import db
from shopbuilder.models import (
    ChainOwned,
    Customer,
    Order,
    StoreOptional,
    StoreOwned,
    Timestamped,
    UTCDateTime,
    Variant,
)


class GroupState:
    #: The leader placed an order but has not paid: nobody else sees the group.
    PENDING = "pending"
    #: The leader paid: others may join until the group is full or time runs out.
    OPEN = "open"
    #: Full (or completed under virtual completion): every paid member's order is released.
    SUCCEEDED = "succeeded"
    #: Time ran out short: every paid member is refunded.
    FAILED = "failed"
    #: The leader never paid, or every paid member left.
    CANCELLED = "cancelled"

    ACTIVE = (PENDING, OPEN)
    ENDS = (SUCCEEDED, FAILED, CANCELLED)


class MemberState:
    #: A seat is held while the member's order waits for payment.
    RESERVED = "reserved"
    #: Paid; the order is ``awaiting_group`` until the group succeeds.
    PAID = "paid"
    #: The group succeeded and the order went on to fulfilment.
    SUCCEEDED = "succeeded"
    #: The payment came in when the group could no longer take it: to be refunded.
    REFUND_DUE = "refund_due"
    #: The member's money went back (group failed, or the member's order was refunded).
    REFUNDED = "refunded"
    #: The unpaid order was cancelled; the seat went back.
    CANCELLED = "cancelled"

    #: Members who hold a seat (count against the group size and the customer's limit).
    SEATED = (RESERVED, PAID, SUCCEEDED)
    #: Members shown on group pages.
    SHOWN = (PAID, SUCCEEDED)


class Campaign(StoreOptional, Timestamped, db.Model):
    """A group-buy offer on one variant, by HQ (``store_id`` None) or by one store.

    An HQ campaign runs in every store (``all_stores``) or in the stores that have a
    :class:`CampaignStore` row with ``chosen`` set. ``unit_cap`` is per store: each
    store sells its own stock.
    """

    __table_args__ = (
        CheckConstraint("group_size >= 2 AND group_size <= 50", name="group_size_range"),
        CheckConstraint("group_price_fen > 0", name="group_price_positive"),
        Index("ix_groupbuy_campaign_variant", "chain_id", "variant_id"),
    )
    __tablename__ = "groupbuy_campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id"), nullable=False)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True, nullable=False)
    group_price_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    #: 团长价: what the leader pays; None means the group price.
    leader_price_fen: Mapped[int | None] = mapped_column(Integer)
    group_size: Mapped[int] = mapped_column(Integer, nullable=False)
    fill_hours: Mapped[int] = mapped_column(Integer, nullable=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: Units each store may sell in this campaign (never above its stock at creation).
    unit_cap: Mapped[int] = mapped_column(Integer, nullable=False)
    per_customer_limit: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    per_order_limit: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    #: 模拟成团: percent of the size that completes the group at its deadline; 0 is off.
    virtual_percent: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    #: Whether group orders earn distribution commission.
    commission_allowed: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    all_stores: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    #: ``active`` or ``stopped``: a stopped campaign opens no new groups; the groups
    #: already open run to their deadline (they may still fill, or are refunded).
    status: Mapped[str] = mapped_column(String(16), default="active", nullable=False)

    variant: Mapped[Variant] = relationship(lazy="joined")

    @property
    def by_hq(self) -> bool:
        return self.store_id is None

    def virtual_needed(self) -> int:
        """Paid members that complete a group at its deadline (the size when off)."""
        if not self.virtual_percent:
            return self.group_size
        return max(1, -(-self.group_size * self.virtual_percent // 100))


class CampaignStore(StoreOwned, db.Model):
    """A store's part in a campaign: whether HQ chose it, and the units it has sold."""

    __tablename__ = "groupbuy_campaign_store"
    __table_args__ = (
        UniqueConstraint("campaign_id", "store_id"),
        CheckConstraint("units_taken >= 0", name="units_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("groupbuy_campaign.id"), nullable=False)
    chosen: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    units_taken: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class CampaignCustomer(ChainOwned, db.Model):
    """The units one customer holds in one campaign: what makes the per-customer limit exact.

    Counted across the chain's stores (a customer belongs to the chain), taken with
    ``units = units + q WHERE units + q <= limit`` in the order's transaction and
    given back when the member's order is cancelled or refunded. Two orders of one
    customer racing in two groups therefore cannot pass the limit together: the
    database serialises the UPDATEs on this row and re-checks the condition.
    """

    __tablename__ = "groupbuy_campaign_customer"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id"),
        CheckConstraint("units >= 0", name="customer_units_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("groupbuy_campaign.id"), nullable=False)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    units: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class Group(StoreOwned, Timestamped, db.Model):
    """One group of a campaign in one store."""

    __tablename__ = "groupbuy_group"
    __table_args__ = (
        CheckConstraint("seats_taken >= 0 AND seats_taken <= size", name="seats_within_size"),
        CheckConstraint("paid_count >= 0 AND paid_count <= size", name="paid_within_size"),
        Index("ix_groupbuy_group_state_expires", "state", "expires_at"),
        Index("ix_groupbuy_group_store_campaign", "store_id", "campaign_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("groupbuy_campaign.id"), index=True, nullable=False
    )
    state: Mapped[str] = mapped_column(String(16), default=GroupState.PENDING, nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    #: Seats held by reserved and paid members.
    seats_taken: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    paid_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    leader_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: ``filled``, ``virtual``, ``expired``, ``leader_unpaid``, ``emptied``.
    outcome: Mapped[str] = mapped_column(String(16), default="", nullable=False)

    campaign: Mapped[Campaign] = relationship(lazy="joined")

    @property
    def deadline_iso(self) -> str:
        """The deadline in UTC, ISO 8601 (``2026-11-28T03:00:00Z``); empty before it is set.

        What the countdown script counts down to: an absolute time stays true in a
        page kept in a cache, where "seconds left" would not.
        """
        if self.expires_at is None:
            return ""
        return self.expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GroupMember(StoreOwned, Timestamped, db.Model):
    """A customer's place in a group, tied to the order that pays for it."""

    __tablename__ = "groupbuy_member"
    __table_args__ = (
        UniqueConstraint("order_id"),
        # ``seat_customer_id`` is the customer while the member holds a seat and NULL after:
        # the database itself refuses a second seat for one customer in one group.
        UniqueConstraint("group_id", "seat_customer_id"),
        CheckConstraint("quantity > 0", name="member_quantity_positive"),
        Index("ix_groupbuy_member_campaign_customer", "campaign_id", "customer_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("groupbuy_group.id"), index=True, nullable=False
    )
    campaign_id: Mapped[int] = mapped_column(ForeignKey("groupbuy_campaign.id"), nullable=False)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    seat_customer_id: Mapped[int | None] = mapped_column(Integer)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id"), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    is_leader: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    state: Mapped[str] = mapped_column(String(16), default=MemberState.RESERVED, nullable=False)
    #: The distributor code the member came with (``?ref=``), kept for attribution.
    ref: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hold_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    group: Mapped[Group] = relationship(lazy="joined")
    customer: Mapped[Customer] = relationship(lazy="joined")
    order: Mapped[Order] = relationship(lazy="select")

    @property
    def initial(self) -> str:
        """What other customers see of a member: one character, never the full name."""
        name = (self.customer.name or self.customer.email or "?").strip()
        return (name[:1] or "?").upper()
