"""The plugin's own table, created by its own Alembic branch ``gift_note``."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shopbuilder.extensions import db
from shopbuilder.models import StoreOwned, Timestamped


class GiftNote(StoreOwned, Timestamped, db.Model):
    """A note for one order; store-owned, so a store request only sees its own."""

    __tablename__ = "gift_note"
    # Marks the table as the plugin's: the core's autogenerate leaves it alone.
    __table_args__ = {"info": {"plugin": "gift_note"}}

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The order's id (no foreign key: the plugin must not depend on the core's table layout).
    order_id: Mapped[int] = mapped_column(Integer, unique=True, nullable=False)
    text: Mapped[str] = mapped_column(String(500), nullable=False)
