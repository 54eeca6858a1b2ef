"""The settlement ledger: double entry, append-only, hash-chained per chain.

Rows are only ever written by :mod:`shopbuilder.services.ledger`; see
``docs/ledger.md`` for the account scheme and what each business event posts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import ChainOwned, UTCDateTime, utcnow

#: ``prev_hash`` of a chain's first entry.
GENESIS_HASH = "0" * 64


class LedgerHead(ChainOwned, db.Model):
    """One row per chain: the end of its hash chain, and the lock posters queue on.

    Appending locks this row first (``SELECT ... FOR UPDATE`` on PostgreSQL, a
    write to it on SQLite), so two posters can never both extend the same
    entry. It also remembers the last sequence number and hash, which is how
    ``verify`` notices entries deleted from the end of the chain.
    """

    __tablename__ = "ledger_head"
    __table_args__ = (UniqueConstraint("chain_id", name="uq_ledger_head_chain"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_txn: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH, nullable=False)


class LedgerTransaction(ChainOwned, db.Model):
    """One business event (a payment, a settlement, a refund...) and its entries' range.

    ``event_key`` (``<kind>:<order id or ->:<caller key>``) is unique per chain:
    recording the same event twice finds this row and posts nothing.
    """

    __tablename__ = "ledger_transaction"
    __table_args__ = (
        UniqueConstraint("chain_id", "number", name="uq_ledger_txn_number"),
        UniqueConstraint("chain_id", "event_key", name="uq_ledger_txn_event"),
        Index("ix_ledger_txn_order", "chain_id", "order_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Transaction number within the chain (1, 2, 3...).
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    event_key: Mapped[str] = mapped_column(String(200), nullable=False)
    store_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("store.id"), index=True)
    #: The order's id; no foreign key, orders live in another module.
    order_id: Mapped[int | None] = mapped_column(Integer)
    first_seq: Mapped[int] = mapped_column(Integer, nullable=False)
    last_seq: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class LedgerEntry(ChainOwned, db.Model):
    """One posting line: ``amount_fen`` into (+, credit) or out of (-, debit) an account.

    ``hash`` is sha256 over the canonical serialisation of every column below
    except ``id`` plus ``prev_hash`` (see :func:`shopbuilder.services.ledger.entry_hash`).
    ``store_id`` is a plain column filtered explicitly by the views: chain-wide
    entries (no store) exist, so this is not a ``StoreOwned`` row.
    """

    __tablename__ = "ledger_entry"
    __table_args__ = (
        UniqueConstraint("chain_id", "seq", name="uq_ledger_entry_seq"),
        Index("ix_ledger_entry_balance", "chain_id", "store_id", "account"),
        Index("ix_ledger_entry_order", "chain_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Position in the chain's hash chain: 1, 2, 3... with no gaps.
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    #: :attr:`LedgerTransaction.number` of the transaction this line belongs to.
    txn: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    account: Mapped[str] = mapped_column(String(80), nullable=False)
    store_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("store.id"))
    order_id: Mapped[int | None] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    memo: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)

    def __repr__(self) -> str:
        return f"<LedgerEntry {self.chain_id}#{self.seq} {self.account} {self.amount_fen}>"
