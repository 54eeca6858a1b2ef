"""The pickup plugin's tables (its own Alembic branch, ``migrations/``).

* :class:`PickupSlot`: one row per store and time slot that someone booked,
  counting the bookings; a conditional UPDATE (``booked < capacity``) takes a
  place, so two customers racing for the last place cannot both get it.
* :class:`PickupOrder`: the pickup side of one order: its slot, its code (as a
  keyed hash), when it became ready, reminders, and who collected it.
* :class:`PickupLine`: picked quantities per order line (partial pickup); a
  conditional UPDATE (``picked + n <= quantity``) makes two clerks verifying at
  once unable to hand the same goods out twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopbuilder.extensions import db
from shopbuilder.models import StoreOwned, Timestamped, UTCDateTime

PLUGIN = {"plugin": "pickup"}


class PickupSlot(StoreOwned, db.Model):
    __tablename__ = "pickup_slot"
    __table_args__ = (
        UniqueConstraint("store_id", "starts_at"),
        CheckConstraint("booked >= 0", name="booked_not_negative"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    booked: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class PickupOrder(StoreOwned, Timestamped, db.Model):
    """Pickup facts of one order. ``state``: booked, ready, collected, expired, cancelled."""

    __tablename__ = "pickup_order"
    __table_args__ = (
        UniqueConstraint("order_id"),
        # Unique among open codes of the chain; NULL once the code is used or void.
        UniqueConstraint("chain_id", "open_code_hash"),
        Index("ix_pickup_order_state_ready", "state", "ready_at"),
        Index("ix_pickup_order_store_slot", "store_id", "slot_start"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id"), nullable=False)
    slot_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    slot_end: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    slot_booked: Mapped[bool] = mapped_column(default=True, nullable=False)
    state: Mapped[str] = mapped_column(String(12), default="booked", nullable=False)
    #: HMAC-SHA256 of the code under the app secret (hex); the code itself is never stored.
    code_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    open_code_hash: Mapped[str | None] = mapped_column(String(64))
    #: Random salt from which the code is derived (HMAC), so the customer can see it again.
    code_nonce: Mapped[str | None] = mapped_column(String(64))
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    collected_by: Mapped[str] = mapped_column(String(120), default="", nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order = relationship("Order", lazy="joined")
    lines: Mapped[list[PickupLine]] = relationship(
        back_populates="pickup", order_by="PickupLine.id", lazy="selectin"
    )

    @property
    def picked_any(self) -> bool:
        return any(line.picked for line in self.lines)


class PickupLine(StoreOwned, db.Model):
    __tablename__ = "pickup_line"
    __table_args__ = (
        UniqueConstraint("pickup_id", "order_line_id"),
        CheckConstraint("picked >= 0 AND picked <= quantity", name="picked_within_quantity"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pickup_id: Mapped[int] = mapped_column(ForeignKey("pickup_order.id"), index=True,
                                           nullable=False)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id"), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    picked: Mapped[int] = mapped_column(Integer, default=0, nullable=False)

    pickup: Mapped[PickupOrder] = relationship(back_populates="lines")
    order_line = relationship("OrderLine", lazy="joined")

    @property
    def remaining(self) -> int:
        return self.quantity - self.picked


class PickupCollection(StoreOwned, db.Model):
    """One hand-over at the counter: who, when, which quantities (the 核销 record)."""

    __tablename__ = "pickup_collection"
    __table_args__ = ({"info": PLUGIN},)

    id: Mapped[int] = mapped_column(primary_key=True)
    pickup_id: Mapped[int] = mapped_column(ForeignKey("pickup_order.id"), index=True,
                                           nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), nullable=False)
    user_name: Mapped[str] = mapped_column(String(120), default="", nullable=False)
    #: {order_line_id: quantity} handed over this time.
    quantities: Mapped[dict] = mapped_column(db.JSON, default=dict, nullable=False)
    complete: Mapped[bool] = mapped_column(default=False, nullable=False)
