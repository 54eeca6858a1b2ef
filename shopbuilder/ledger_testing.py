"""Ledger test helpers: a stand-in order, and seed factories for the isolation tests.

``shopbuilder.testing`` imports this module (one line at its end) so that
``tests/test_isolation_models.py`` can build a row of each ledger model.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from .models import LedgerEntry, LedgerHead, LedgerTransaction
from .models.ledger import GENESIS_HASH
from .testing import seed_factory, unique


@dataclass
class LedgerOrder:
    """What the ledger reads of an order, for posting to it without placing one."""

    id: int
    chain_id: int
    store_id: int
    number: str
    total_fen: int
    goods_fen: int
    delivery_fen: int = 0


def _number() -> int:
    return int(unique("")) + 1_000_000


@seed_factory(LedgerHead)
def _seed_ledger_head(session, store):
    # One head per chain: the second store of a chain gets the same row.
    session.flush()
    head = session.scalar(select(LedgerHead).where(LedgerHead.chain_id == store.chain_id))
    return head or LedgerHead(chain_id=store.chain_id, last_seq=0, last_txn=0,
                              last_hash=GENESIS_HASH)


@seed_factory(LedgerTransaction)
def _seed_ledger_transaction(session, store):
    number = _number()
    return LedgerTransaction(chain_id=store.chain_id, number=number, kind="seed",
                             event_key=f"seed:-:{number}", store_id=store.id,
                             first_seq=number, last_seq=number)


@seed_factory(LedgerEntry)
def _seed_ledger_entry(session, store):
    number = _number()
    return LedgerEntry(chain_id=store.chain_id, seq=number, txn=number, kind="seed",
                       account="escrow", store_id=store.id, amount_fen=0, memo="seed",
                       prev_hash=GENESIS_HASH, hash=GENESIS_HASH)
