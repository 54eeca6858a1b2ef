"""People who sign in: platform and chain staff, and customers.

Staff are platform-wide ``User`` rows given roles per chain or store; a
customer belongs to one chain (so a member can buy at any of its stores) and
remembers the store that won them (``home_store``).
"""

from __future__ import annotations

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from .base import ChainOwned, StoreOptional, Timestamped
from .tenancy import Store


class PasswordMixin:
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)

    def set_password(self, password: str) -> None:
        method = current_app.config["PASSWORD_HASH_METHOD"]
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class User(PasswordMixin, Timestamped, UserMixin, db.Model):
    """A staff member: platform admin, HQ staff, store manager or clerk."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(120), default="", nullable=False)
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    kind = "staff"

    def get_id(self) -> str:
        return f"u{self.id}"


class StaffRole(StoreOptional, Timestamped, db.Model):
    """What a staff user may do: ``hq`` for the chain, ``manager``/``clerk`` for one store."""

    ROLES = ("hq", "manager", "clerk")
    __table_args__ = (UniqueConstraint("user_id", "chain_id", "store_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    #: Given to someone who was not yet staff of the chain: it grants nothing until they
    #: sign in at the chain's consoles (or open their invitation link). So attaching an
    #: address tells HQ nothing about whether it already had an account (docs/hq.md).
    pending: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sa_false(), nullable=False
    )

    user: Mapped[User] = relationship(lazy="joined")
    store: Mapped[Store | None] = relationship(lazy="joined")


class Customer(PasswordMixin, ChainOwned, Timestamped, UserMixin, db.Model):
    """A shopper, member of one chain; signed in at every store of that chain."""

    __table_args__ = (UniqueConstraint("chain_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(120), default="", nullable=False)
    phone: Mapped[str] = mapped_column(String(32), default="", nullable=False)
    home_store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"), index=True)
    locale: Mapped[str | None] = mapped_column(String(10))

    home_store: Mapped[Store | None] = relationship(lazy="select")

    kind = "customer"

    def get_id(self) -> str:
        return f"c{self.id}"

    @staticmethod
    def id_in(account_id: str | None) -> int | None:
        """The customer id in a sign-in's account id (``c42`` -> 42), else None."""
        if account_id and account_id[:1] == "c" and account_id[1:].isdigit():
            return int(account_id[1:])
        return None
