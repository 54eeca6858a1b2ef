"""A store's own choice to turn a plugin on or off (HQ policy lives on the chain)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import StoreOwned, Timestamped, UTCDateTime, utcnow


class StorePlugin(StoreOwned, Timestamped, db.Model):
    """One row per (store, plugin) the store manager has chosen; no row means "chain default".

    A table rather than a key in ``store.settings``: "how many stores enable X"
    over 100,000 stores is one indexed ``GROUP BY`` instead of parsing every
    store's JSON, and a toggle cannot overwrite a concurrent edit of the
    store's other settings (a JSON column is rewritten whole).
    """

    __tablename__ = "store_plugin"
    __table_args__ = (
        UniqueConstraint("store_id", "plugin"),
        Index("ix_store_plugin_plugin_chain", "plugin", "chain_id", "enabled"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plugin: Mapped[str] = mapped_column(String(64), nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )

    def __repr__(self) -> str:
        return f"<StorePlugin {self.plugin} store={self.store_id} {self.enabled}>"
