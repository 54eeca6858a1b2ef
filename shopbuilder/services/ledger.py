"""The settlement ledger: post balanced transactions, record business events, verify the chain.

Every function here joins the caller's database transaction and never commits:
an order changing state and the money it moves are written together or not at
all. Appending takes the chain's head row as a lock (``FOR UPDATE`` on
PostgreSQL; on SQLite, whose ``FOR UPDATE`` does nothing, a write to the head
row, which takes the database's single write lock), and that lock is held until
the caller commits or rolls back, so two posters never extend the chain from
the same entry.

Signs: ``amount_fen > 0`` is a credit (money arrives in the account: escrow
holds more, the store is owed more), ``< 0`` a debit (money leaves it). Every
transaction sums to zero. The account scheme, each business posting and the
rounding rules are in ``docs/ledger.md``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .. import clock, tenancy
from ..extensions import db
from ..models import Chain, Store
from ..models.ledger import GENESIS_HASH, LedgerEntry, LedgerHead, LedgerTransaction

log = logging.getLogger(__name__)

# -- the account scheme (see docs/ledger.md) --------------------------------------------------

#: Customer money received by the chain (through any payment provider); goes negative.
CUSTOMER_PAYMENTS = "customer_payments"
#: Customer money held between payment and settlement (after the after-sale window).
ESCROW = "escrow"
#: What the chain owes a store for its settled sales.
STORE_PAYABLE = "store_payable"
#: HQ's royalty on a store's settled sales.
HQ_ROYALTY = "hq_royalty"
#: Money paid back to customers.
CUSTOMER_REFUNDS = "customer_refunds"
#: Prefix of a distributor's commission account: ``commission:<distributor id>``.
COMMISSION_PREFIX = "commission:"

PAYMENT = "payment"
REFUND = "refund"
SETTLEMENT = "settlement"

ACCOUNT_PATTERN = re.compile(r"^[a-z][a-z_]{0,39}(:[A-Za-z0-9_.-]{1,39})?$")
KIND_PATTERN = re.compile(r"^[a-z][a-z_]{0,31}$")
BASIS_POINTS = 10_000
BATCH = 1000

Posting = tuple[str, int, str]


class LedgerError(ValueError):
    """A posting that would break the ledger's rules; nothing was written."""


class LedgerConflict(RuntimeError):
    """The chain's head moved while we held its lock: a locking bug, never a normal outcome."""


# -- hashing ----------------------------------------------------------------------------------


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(
    *, chain_id, seq, txn, kind, account, store_id, order_id, amount_fen, memo, created_at,
    prev_hash,
) -> str:
    """sha256 of the canonical JSON of an entry's fields and the previous entry's hash.

    Canonical: sorted keys, no spaces, UTF-8, timestamps as UTC ISO-8601 with
    microseconds (what both databases keep). ``v`` names this serialisation so a
    later change can coexist with old entries.
    """
    payload = {
        "v": 1,
        "chain_id": chain_id,
        "seq": seq,
        "txn": txn,
        "kind": kind,
        "account": account,
        "store_id": store_id,
        "order_id": order_id,
        "amount_fen": amount_fen,
        "memo": memo,
        "created_at": _timestamp(created_at),
        "prev_hash": prev_hash,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_of_row(row) -> str:
    return entry_hash(
        chain_id=row.chain_id, seq=row.seq, txn=row.txn, kind=row.kind, account=row.account,
        store_id=row.store_id, order_id=row.order_id, amount_fen=row.amount_fen, memo=row.memo,
        created_at=row.created_at, prev_hash=row.prev_hash,
    )


# -- posting ------------------------------------------------------------------------------------


def _chain_scope(chain_id: int):
    # The ledger always works on one chain it names itself; its queries filter
    # by chain (and store) explicitly, so this never widens what a page shows.
    return tenancy.scope(tenancy.TenantScope(chain_id, None))


def event_key(kind: str, order_id: int | None, key: str | None) -> str:
    return f"{kind}:{'-' if order_id is None else order_id}:{key or ''}"


def _check_postings(postings: Iterable[Posting]) -> list[Posting]:
    lines = []
    for line in postings:
        try:
            account, amount, memo = line
        except (TypeError, ValueError):
            raise LedgerError(f"a posting is (account, amount_fen, memo), not {line!r}") from None
        if not isinstance(account, str) or not ACCOUNT_PATTERN.match(account):
            raise LedgerError(f"invalid account name {account!r}")
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise LedgerError(f"amount for {account} must be integer fen, not {amount!r}")
        memo = "" if memo is None else str(memo)
        if len(memo) > 255:
            raise LedgerError("a memo is at most 255 characters")
        if amount:
            lines.append((account, amount, memo))
    if not lines:
        raise LedgerError("a transaction needs at least one non-zero posting")
    total = sum(amount for _, amount, _ in lines)
    if total != 0:
        raise LedgerError(f"postings sum to {total} fen; a transaction must sum to zero")
    return lines


def _lock_head(chain_id: int):
    """Take the chain's head row as a lock and return ``(last_seq, last_txn, last_hash)``."""
    session = db.session
    table = LedgerHead.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        # SQLite ignores FOR UPDATE; a write takes its (database-wide) write
        # lock, waiting for the busy timeout, and keeps it until commit. The
        # transaction starts here, so what we read next is current.
        touched = session.execute(
            update(table).where(table.c.chain_id == chain_id).values(last_seq=table.c.last_seq)
        ).rowcount
        if not touched:
            session.execute(sqlite_insert(table).values(
                chain_id=chain_id, last_seq=0, last_txn=0, last_hash=GENESIS_HASH,
            ).on_conflict_do_nothing())
    query = (
        select(table.c.last_seq, table.c.last_txn, table.c.last_hash)
        .where(table.c.chain_id == chain_id)
        .with_for_update()
    )
    row = session.execute(query).first()
    if row is None:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        session.execute(insert(table).values(
            chain_id=chain_id, last_seq=0, last_txn=0, last_hash=GENESIS_HASH,
        ).on_conflict_do_nothing())
        row = session.execute(query).first()
    return row


def _append(
    chain_id: int,
    kind: str,
    key: str | None,
    build: Callable[[], list[Posting] | None],
    *,
    order_id: int | None = None,
    store_id: int | None = None,
) -> LedgerTransaction | None:
    """Lock the head, skip a known event, else append what ``build()`` returns.

    ``build`` runs under the lock, so what it reads (escrow left, whether an
    order was settled) cannot change before its postings are written. It may
    return None for "nothing to post".
    """
    if not KIND_PATTERN.match(kind or ""):
        raise LedgerError(f"invalid transaction kind {kind!r}")
    ekey = event_key(kind, order_id, key if key is not None else uuid.uuid4().hex)
    if len(ekey) > 200:
        raise LedgerError("the event key is too long (at most 200 characters)")
    session = db.session
    with _chain_scope(chain_id):
        last_seq, last_txn, last_hash = _lock_head(chain_id)
        existing = session.scalar(
            select(LedgerTransaction).where(
                LedgerTransaction.chain_id == chain_id, LedgerTransaction.event_key == ekey
            )
        )
        if existing is not None:
            log.info("ledger event %s already recorded as transaction %s", ekey, existing.number)
            return existing
        postings = build()
        if postings is None:
            return None
        lines = _check_postings(postings)
        now = clock.now()
        number = last_txn + 1
        prev = last_hash
        seq = last_seq
        for account, amount, memo in lines:
            seq += 1
            fields = dict(
                chain_id=chain_id, seq=seq, txn=number, kind=kind, account=account,
                store_id=store_id, order_id=order_id, amount_fen=amount, memo=memo,
                created_at=now,
            )
            digest = entry_hash(**fields, prev_hash=prev)
            session.add(LedgerEntry(**fields, prev_hash=prev, hash=digest))
            prev = digest
        txn = LedgerTransaction(
            chain_id=chain_id, number=number, kind=kind, event_key=ekey, store_id=store_id,
            order_id=order_id, first_seq=last_seq + 1, last_seq=seq, created_at=now,
        )
        session.add(txn)
        table = LedgerHead.__table__
        # The lock makes this always match; the condition is the belt to its
        # braces (and the unique (chain, seq) constraint a third).
        moved = session.execute(
            update(table)
            .where(table.c.chain_id == chain_id, table.c.last_seq == last_seq)
            .values(last_seq=seq, last_txn=number, last_hash=prev)
        ).rowcount
        if moved != 1:
            raise LedgerConflict(f"chain {chain_id} head moved from #{last_seq} while locked")
        session.flush()
    return txn


def post(
    chain_id: int,
    kind: str,
    postings: Iterable[Posting],
    order_id: int | None = None,
    store_id: int | None = None,
    key: str | None = None,
) -> LedgerTransaction:
    """Append one balanced transaction to the chain's ledger (in the caller's transaction).

    ``postings`` are ``(account, amount_fen, memo)``; they must sum to zero
    (:class:`LedgerError` otherwise; zero lines are dropped). With ``key``, the
    event ``(kind, order_id, key)`` is recorded once: posting it again returns
    the first transaction and writes nothing. Without, every call posts.
    """
    lines = _check_postings(postings)
    return _append(chain_id, kind, key, lambda: lines, order_id=order_id, store_id=store_id)


# -- reading ------------------------------------------------------------------------------------


def _order_sums(chain_id: int, order_id: int, kinds=None) -> dict[str, int]:
    query = (
        select(LedgerEntry.account, func.sum(LedgerEntry.amount_fen))
        .where(LedgerEntry.chain_id == chain_id, LedgerEntry.order_id == order_id)
        .group_by(LedgerEntry.account)
    )
    if kinds:
        query = query.where(LedgerEntry.kind.in_(kinds))
    return {account: int(total) for account, total in db.session.execute(query)}


def balances(chain_id: int, store_id: int | None = None) -> dict[str, int]:
    """Balance per account (credits minus debits, in fen); for one store's entries when given."""
    with _chain_scope(chain_id):
        query = (
            select(LedgerEntry.account, func.sum(LedgerEntry.amount_fen))
            .where(LedgerEntry.chain_id == chain_id)
            .group_by(LedgerEntry.account)
        )
        if store_id is not None:
            query = query.where(LedgerEntry.store_id == store_id)
        return {
            account: int(total)
            for account, total in db.session.execute(query.order_by(LedgerEntry.account))
        }


def account_net(chain_id: int, account: str, order_id: int | None = None) -> int:
    """The balance of one account in fen (credits minus debits); of one order's entries if given.

    For plugins that keep their own view of money they moved through the ledger: a
    distributor's commission on one order, less what refunds clawed back, is
    ``account_net(chain_id, f"{COMMISSION_PREFIX}{distributor_id}", order_id)``. Reads
    the chain's committed and this transaction's entries; 0 for an account never used.
    """
    with _chain_scope(chain_id):
        query = select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
            LedgerEntry.chain_id == chain_id, LedgerEntry.account == account
        )
        if order_id is not None:
            query = query.where(LedgerEntry.order_id == order_id)
        return int(db.session.scalar(query) or 0)


def store_balances(chain_id: int, store_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """``{store_id: {account: balance}}`` for the given stores, in one query."""
    ids = list(store_ids)
    result: dict[int, dict[str, int]] = {sid: {} for sid in ids}
    if not ids:
        return result
    with _chain_scope(chain_id):
        query = (
            select(LedgerEntry.store_id, LedgerEntry.account, func.sum(LedgerEntry.amount_fen))
            .where(LedgerEntry.chain_id == chain_id, LedgerEntry.store_id.in_(ids))
            .group_by(LedgerEntry.store_id, LedgerEntry.account)
        )
        for sid, account, total in db.session.execute(query):
            result[sid][account] = int(total)
    return result


def recent_entries(
    chain_id: int, store_id: int | None = None, before_seq: int | None = None, limit: int = 50
) -> list[LedgerEntry]:
    """The newest entries first (for one store when given), older than ``before_seq``."""
    with _chain_scope(chain_id):
        query = select(LedgerEntry).where(LedgerEntry.chain_id == chain_id)
        if store_id is not None:
            query = query.where(LedgerEntry.store_id == store_id)
        if before_seq is not None:
            query = query.where(LedgerEntry.seq < before_seq)
        return list(db.session.scalars(query.order_by(LedgerEntry.seq.desc()).limit(limit)))


# -- business events ----------------------------------------------------------------------------


def _memo(order, text: str) -> str:
    return f"{text} {order.number}"[:255]


def _check_amount(amount_fen) -> None:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen < 0:
        raise LedgerError(f"an amount is a non-negative integer of fen, not {amount_fen!r}")


def record_payment(order, amount_fen: int, key: str = "") -> LedgerTransaction | None:
    """Customer money for ``order`` arrived: ``customer_payments`` → ``escrow``.

    ``key`` tells payments of one order apart (a provider's transaction id);
    the same payment recorded twice posts once. A zero amount posts nothing.
    """
    _check_amount(amount_fen)
    if amount_fen == 0:
        return None
    lines = [
        (CUSTOMER_PAYMENTS, -amount_fen, _memo(order, "payment for order")),
        (ESCROW, amount_fen, _memo(order, "held for order")),
    ]
    return _append(
        order.chain_id, PAYMENT, key, lambda: lines, order_id=order.id, store_id=order.store_id
    )


def _settlement_of(order) -> LedgerTransaction | None:
    return db.session.scalar(
        select(LedgerTransaction).where(
            LedgerTransaction.chain_id == order.chain_id,
            LedgerTransaction.order_id == order.id,
            LedgerTransaction.kind == SETTLEMENT,
        ).order_by(LedgerTransaction.number).limit(1)
    )


def _is_split_account(account: str) -> bool:
    return account in (STORE_PAYABLE, HQ_ROYALTY) or account.startswith(COMMISSION_PREFIX)


def refund_postings(order, amount_fen: int) -> list[Posting]:
    """What refunding ``amount_fen`` of ``order`` posts now (read under the head lock).

    Before settlement the money comes out of escrow. After settlement, first
    whatever the order still holds in escrow, then the rest is taken back from
    the accounts the settlement credited (store payable, HQ royalty, each
    commission) in proportion to what each received: cumulatively, after
    refunds totalling R of a settled T, account i has given back
    ``floor(R * s_i / T)`` and the store payable gives the remainder. So a
    settled order refunded in full, in any number of parts, leaves every one
    of its accounts at exactly zero.
    """
    sums = _order_sums(order.chain_id, order.id)
    held = sums.get(ESCROW, 0)
    settlement = _settlement_of(order)
    from_escrow = min(amount_fen, max(held, 0))
    rest = amount_fen - from_escrow
    memo = _memo(order, "refund for order")
    lines: list[Posting] = [(CUSTOMER_REFUNDS, amount_fen, memo)]
    if from_escrow:
        lines.append((ESCROW, -from_escrow, memo))
    if not rest:
        return lines
    if settlement is None:
        raise LedgerError(
            f"refund of {amount_fen} fen exceeds the {held} fen order {order.number} holds"
        )
    settled = {
        account: amount
        for account, amount in _order_sums(order.chain_id, order.id, [SETTLEMENT]).items()
        if _is_split_account(account) and amount > 0
    }
    total = sum(settled.values())
    taken_back = {
        account: -amount
        for account, amount in _order_sums(order.chain_id, order.id, [REFUND]).items()
        if account in settled
    }
    already = sum(taken_back.values())
    if already + rest > total:
        raise LedgerError(
            f"refund of {amount_fen} fen exceeds what is left of order {order.number} "
            f"({total - already + from_escrow} fen)"
        )
    after = already + rest
    store_take = rest
    for account in sorted(settled):
        if account == STORE_PAYABLE:
            continue
        take = after * settled[account] // total - taken_back.get(account, 0)
        store_take -= take
        if take:
            lines.append((account, -take, memo))
    if store_take:
        lines.append((STORE_PAYABLE, -store_take, memo))
    return lines


def record_refund(order, amount_fen: int, key: str = "") -> LedgerTransaction | None:
    """Money of ``order`` went back to the customer (see :func:`refund_postings` for whence).

    Partial refunds must each pass their own ``key`` (the refund's id): the
    same key posts once. Refunding more than the order holds is refused.
    """
    _check_amount(amount_fen)
    if amount_fen == 0:
        return None
    return _append(
        order.chain_id, REFUND, key, lambda: refund_postings(order, amount_fen),
        order_id=order.id, store_id=order.store_id,
    )


def royalty_fen(order, settled_fen: int, royalty_bp: int) -> int:
    """HQ's royalty: ``royalty_bp`` of the goods part of what was settled, rounded down.

    Delivery fees go to the store whole (it pays for the delivery). When part
    of the order was refunded, the goods part is taken in proportion:
    ``floor(settled * goods / total * bp / 10000)``, one floor over exact
    integers, so the store keeps every fraction of a fen.
    """
    total = int(order.total_fen or 0)
    if total <= 0 or royalty_bp <= 0 or settled_fen <= 0:
        return 0
    goods = min(max(int(order.goods_fen or 0), 0), total)
    return settled_fen * goods * royalty_bp // (total * BASIS_POINTS)


def _commission_splits(order, store, settled_fen: int) -> list[Posting]:
    from ..plugins import PluginError, call_money_hook

    # A money hook: call_money_hook logs a failure with the plugin's name and raises
    # PluginError, so the settlement aborts with a message that says which plugin failed.
    try:
        results = call_money_hook(
            "shopbuilder_settlement_splits", store, order=order, amount_fen=settled_fen
        )
    except PluginError as exc:
        raise LedgerError(
            f"a plugin failed while splitting order {order.number} "
            f"({exc.plugin_name}): {exc.message}"
        ) from exc
    lines: list[Posting] = []
    for result in results or []:
        if isinstance(result, tuple) and len(result) == 3 and isinstance(result[0], str):
            result = [result]  # one posting returned bare
        for line in result or []:
            try:
                account, amount, memo = line
            except (TypeError, ValueError):
                raise LedgerError(f"a plugin returned a bad split {line!r}") from None
            if not isinstance(account, str) or not account.startswith(COMMISSION_PREFIX):
                raise LedgerError(
                    f"a plugin may only split to commission accounts, not {account!r}"
                )
            if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
                raise LedgerError(f"a commission is a non-negative integer of fen, not {amount!r}")
            lines.append((account, amount, memo or _memo(order, "commission on order")))
    return lines


def settlement_postings(order) -> list[Posting] | None:
    """Split what ``order`` holds in escrow (read under the head lock), or None if nothing."""
    held = _order_sums(order.chain_id, order.id).get(ESCROW, 0)
    if held <= 0:
        return None
    chain = db.session.get(Chain, order.chain_id)
    store = db.session.get(Store, order.store_id)
    if chain is None or store is None or store.chain_id != chain.id:
        raise LedgerError(f"order {order.number} names no store of its chain")
    royalty = royalty_fen(order, held, chain.royalty_bp)
    commissions = _commission_splits(order, store, held)
    to_store = held - royalty - sum(amount for _, amount, _ in commissions)
    if to_store < 0:
        raise LedgerError(
            f"royalty and commissions exceed the {held} fen order {order.number} settles"
        )
    return [
        (ESCROW, -held, _memo(order, "settled order")),
        (STORE_PAYABLE, to_store, _memo(order, "store share of order")),
        (HQ_ROYALTY, royalty, _memo(order, "royalty on order")),
        *commissions,
    ]


def record_settlement(order, key: str = "") -> LedgerTransaction | None:
    """The after-sale window of ``order`` closed: escrow → store, HQ royalty, commissions.

    Settles all the order still holds in escrow: HQ's royalty (see
    :func:`royalty_fen`), the commissions plugins enabled for the store return
    from ``shopbuilder_settlement_splits(order, amount_fen)`` (amount = the
    settled fen), and the rest to the store payable. Posts once per order and
    key; returns None when the order holds nothing (refunded in full).
    """
    return _append(
        order.chain_id, SETTLEMENT, key, lambda: settlement_postings(order),
        order_id=order.id, store_id=order.store_id,
    )


# -- verification -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """The first thing wrong with a chain's ledger."""

    seq: int
    reason: str  # missing | duplicate | hash_mismatch | prev_hash_mismatch | unbalanced | ...
    detail: str
    entry_id: int | None = None

    def __str__(self) -> str:
        return f"entry #{self.seq}: {self.detail}"


@dataclass
class VerifyReport:
    chain_id: int
    entries: int = 0
    transactions: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(chain_id: int, anchors: dict[int, str] | None = None) -> VerifyReport:
    """Walk the chain's entries in order and report the first altered or missing one.

    Checks, for each entry: its sequence number follows the previous one (else
    an entry is missing), its ``prev_hash`` is the previous entry's hash, its
    hash matches its contents, and its transaction sums to zero; at the end,
    that the head row agrees with the last entry (else entries were removed
    from the end). ``anchors`` are ``{seq: hash}`` recorded earlier (outside
    the database): a rewrite that recomputed every hash after them is caught.
    Reads in batches, so memory stays flat however long the chain.
    """
    anchors = dict(anchors or {})
    report = VerifyReport(chain_id)
    table = LedgerEntry.__table__
    session = db.session
    expected, prev_hash = 1, GENESIS_HASH
    txn, txn_first, txn_sum = None, 0, 0

    def fail(seq, reason, detail, entry_id=None):
        report.problem = Problem(seq, reason, detail, entry_id)
        return report

    def close_txn(last_seen):
        if txn is not None and txn_sum != 0:
            # Entries cut from a transaction's end leave no gap in the sequence; its
            # recorded range tells "deleted" from "altered amounts".
            recorded = session.scalar(
                select(LedgerTransaction.last_seq)
                .where(LedgerTransaction.chain_id == chain_id, LedgerTransaction.number == txn)
            )
            if recorded is not None and recorded > last_seen:
                return fail(last_seen + 1, "missing",
                            f"missing (deleted?): transaction {txn} ends at #{recorded} "
                            f"but its entries stop at #{last_seen}")
            return fail(
                txn_first, "unbalanced",
                f"transaction {txn} starting here sums to {txn_sum} fen, not zero",
            )
        return None

    def read_head():
        head = session.execute(
            select(LedgerHead.__table__).where(LedgerHead.__table__.c.chain_id == chain_id)
        ).first()
        return (head.last_seq, head.last_hash) if head is not None else (0, GENESIS_HASH)

    with _chain_scope(chain_id):
        # Walk only what the head covered when we started: posting may go on
        # meanwhile, and entries and head are committed together.
        head_seq, head_hash = read_head()
        while True:
            rows = session.execute(
                select(table)
                .where(table.c.chain_id == chain_id, table.c.seq >= expected,
                       table.c.seq <= head_seq)
                .order_by(table.c.seq)
                .limit(BATCH)
            ).all()
            if not rows:
                break
            for row in rows:
                if row.seq < expected:
                    return fail(row.seq, "duplicate",
                                f"appears twice (one copy is id {row.id}): inserted by hand",
                                row.id)
                if row.seq != expected:
                    missing = f"#{expected}" if row.seq == expected + 1 else (
                        f"#{expected}–#{row.seq - 1}"
                    )
                    return fail(expected, "missing",
                                f"missing (deleted?): the chain jumps from #{expected - 1} "
                                f"to #{row.seq}, entries {missing} are gone")
                if hash_of_row(row) != row.hash:
                    return fail(row.seq, "hash_mismatch",
                                f"altered: its contents ({row.account} {row.amount_fen} fen, "
                                f"transaction {row.txn}) no longer match its hash", row.id)
                if row.prev_hash != prev_hash:
                    return fail(row.seq, "prev_hash_mismatch",
                                f"its prev_hash does not match the hash of #{row.seq - 1}: "
                                f"one of the two was rewritten and re-hashed", row.id)
                if row.seq in anchors and anchors.pop(row.seq) != row.hash:
                    return fail(row.seq, "anchor_mismatch",
                                "its hash differs from the one recorded earlier: the chain was "
                                "rewritten from here or before", row.id)
                if row.txn != txn:
                    if close_txn(row.seq - 1):
                        return report
                    if txn is not None and row.txn != txn + 1:
                        return fail(row.seq, "txn_order",
                                    f"belongs to transaction {row.txn} after transaction {txn}",
                                    row.id)
                    if txn is None and row.txn != 1:
                        return fail(row.seq, "txn_order",
                                    f"the first entry belongs to transaction {row.txn}", row.id)
                    txn, txn_first, txn_sum = row.txn, row.seq, 0
                    report.transactions += 1
                txn_sum += row.amount_fen
                prev_hash = row.hash
                expected += 1
                report.entries += 1
        last = expected - 1
        # Before the last transaction's sum: deleting the final entries unbalances it
        # too, and "missing" is the true story.
        if head_seq > last:
            report.head_seq, report.head_hash = last, prev_hash
            return fail(last + 1, "missing",
                        f"missing (deleted?): the head says the chain ends at #{head_seq} "
                        f"but it ends at #{last}")
        if close_txn(last):
            return report
        report.head_seq, report.head_hash = last, prev_hash
        beyond = session.scalar(
            select(func.max(table.c.seq)).where(table.c.chain_id == chain_id,
                                                table.c.seq > head_seq)
        )
        if beyond is not None and read_head()[0] < beyond:
            return fail(head_seq + 1, "not_in_head",
                        f"not recorded in the head, which ends at #{head_seq}: appended outside "
                        f"the ledger service")
        if head_hash != prev_hash:
            return fail(last, "head_mismatch",
                        "its hash differs from the one the head recorded: rewritten after posting")
        if anchors:
            seq = min(anchors)
            return fail(seq, "missing", "an anchored entry is not in the chain")
    return report
