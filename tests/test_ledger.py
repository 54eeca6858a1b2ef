"""The settlement ledger: balanced postings, business events, rounding and verify."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shopbuilder.extensions import db
from shopbuilder.ledger_testing import LedgerOrder
from shopbuilder.models import Chain, LedgerEntry
from shopbuilder.plugins import PluginMeta, hookimpl
from shopbuilder.services import ledger
from shopbuilder.testing import in_app, set_plugin_enabled

BOTH = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


def order_for(store, number=1, total=10_000, delivery=0):
    return LedgerOrder(number, store.chain_id, store.id, f"N{number:04d}", total, total - delivery,
                 delivery)


class CommissionPlugin:
    """Pays distributor 7 ten percent of every sale, rounded down."""

    meta = PluginMeta(name="test_commission", title="Test commission", version="1.0")

    @hookimpl
    def shopbuilder_settlement_splits(self, order, amount_fen):
        return [("commission:7", amount_fen // 10, f"commission on {order.number}")]


class BrokenPlugin:
    meta = PluginMeta(name="test_broken", title="Broken", version="1.0")

    @hookimpl
    def shopbuilder_settlement_splits(self, order, amount_fen):
        raise RuntimeError("distributor table unavailable")


class BarePlugin:
    """Returns one posting bare, not in a list."""

    meta = PluginMeta(name="test_bare", title="Bare", version="1.0")

    @hookimpl
    def shopbuilder_settlement_splits(self, order, amount_fen):
        return ("commission:leader-3", 250, "group leader")


class GreedyPlugin:
    """Tries to pay itself out of HQ's account."""

    meta = PluginMeta(name="test_greedy", title="Greedy", version="1.0")

    @hookimpl
    def shopbuilder_settlement_splits(self, order, amount_fen):
        return [("hq_royalty", 100, "mine now")]


@pytest.fixture
def app_config():
    return {"EXTRA_PLUGINS": [CommissionPlugin(), BrokenPlugin(), BarePlugin(), GreedyPlugin()]}


def set_royalty(app, chain, bp):
    with in_app(app) as session:
        session.get(Chain, chain.id).royalty_bp = bp
        session.commit()


def commit(app, action, *args, **kwargs):
    with in_app(app) as session:
        result = action(*args, **kwargs)
        session.commit()
        # Hand back the transaction number: the row itself is gone with the session.
        return getattr(result, "number", result)


def entry_count(app, chain):
    with in_app(app) as session:
        return session.scalar(
            sa.select(sa.func.count()).select_from(LedgerEntry).where(
                LedgerEntry.chain_id == chain.id
            )
        )


def test_unbalanced_postings_are_refused_and_nothing_is_written(app, chain, store):
    with in_app(app):
        with pytest.raises(ledger.LedgerError, match="sum to 10"):
            ledger.post(chain.id, "adjustment", [("escrow", 100, ""), ("store_payable", -90, "")])
        with pytest.raises(ledger.LedgerError, match="integer fen"):
            ledger.post(chain.id, "adjustment", [("escrow", 1.5, ""), ("store_payable", -1.5, "")])
        with pytest.raises(ledger.LedgerError, match="account"):
            ledger.post(chain.id, "adjustment", [("Escrow!", 1, ""), ("store_payable", -1, "")])
    assert entry_count(app, chain) == 0


def test_payment_moves_customer_money_into_escrow_once(app, chain, store):
    order = order_for(store)
    first = commit(app, ledger.record_payment, order, 10_000, key="pay-1")
    again = commit(app, ledger.record_payment, order, 10_000, key="pay-1")
    assert first == again
    with in_app(app):
        assert ledger.balances(chain.id) == {"customer_payments": -10_000, "escrow": 10_000}
    assert entry_count(app, chain) == 2


def test_refund_before_settlement_comes_out_of_escrow(app, chain, store):
    order = order_for(store)
    commit(app, ledger.record_payment, order, 10_000)
    commit(app, ledger.record_refund, order, 2_500, key="r1")
    commit(app, ledger.record_refund, order, 2_500, key="r1")
    with in_app(app):
        assert ledger.balances(chain.id, store.id) == {
            "customer_payments": -10_000, "customer_refunds": 2_500, "escrow": 7_500,
        }
        with pytest.raises(ledger.LedgerError, match="exceeds"):
            ledger.record_refund(order, 7_501, key="r2")


def test_settlement_splits_royalty_commission_and_store_share(app, chain, store):
    set_royalty(app, chain, 550)  # 5.5 %
    set_plugin_enabled(app, store, "test_commission")
    order = order_for(store, total=12_345, delivery=1_000)
    commit(app, ledger.record_payment, order, 12_345)
    txn = commit(app, ledger.record_settlement, order)
    assert commit(app, ledger.record_settlement, order) == txn
    with in_app(app):
        balances = ledger.balances(chain.id, store.id)
    # Royalty on goods only, rounded down: 11,345 * 5.5 % = 623.975 -> 623.
    assert balances["hq_royalty"] == 623
    assert balances["commission:7"] == 1_234
    assert balances["store_payable"] == 12_345 - 623 - 1_234
    assert balances["escrow"] == 0


def test_commission_hook_is_not_called_for_a_store_that_has_it_off(app, chain, store, other_store):
    set_plugin_enabled(app, store, "test_commission")
    on, off = order_for(store, 1), order_for(other_store, 2)
    for order in (on, off):
        commit(app, ledger.record_payment, order, 5_000)
        commit(app, ledger.record_settlement, order)
    with in_app(app):
        assert ledger.balances(chain.id, store.id)["commission:7"] == 500
        assert "commission:7" not in ledger.balances(chain.id, other_store.id)
        assert ledger.balances(chain.id, other_store.id)["store_payable"] == 5_000


def test_refund_after_settlement_is_taken_back_in_proportion(app, chain, store):
    set_royalty(app, chain, 500)
    set_plugin_enabled(app, store, "test_commission")
    order = order_for(store, total=10_000)
    commit(app, ledger.record_payment, order, 10_000)
    commit(app, ledger.record_settlement, order)  # store 8500, royalty 500, commission 1000
    commit(app, ledger.record_refund, order, 3_333, key="r1")
    with in_app(app):
        balances = ledger.balances(chain.id, store.id)
    assert balances["hq_royalty"] == 500 - 166  # floor(3333 * 500 / 10000)
    assert balances["commission:7"] == 1_000 - 333
    assert balances["store_payable"] == 8_500 - (3_333 - 166 - 333)
    # The rest, in two more parts, brings every account of the order back to zero.
    commit(app, ledger.record_refund, order, 3_333, key="r2")
    commit(app, ledger.record_refund, order, 3_334, key="r3")
    with in_app(app):
        balances = ledger.balances(chain.id, store.id)
        assert {a: balances[a] for a in ("store_payable", "hq_royalty", "commission:7")} == {
            "store_payable": 0, "hq_royalty": 0, "commission:7": 0,
        }
        assert balances["customer_refunds"] == 10_000
        with pytest.raises(ledger.LedgerError, match="exceeds"):
            ledger.record_refund(order, 1, key="r4")


def test_fully_refunded_order_settles_nothing(app, chain, store):
    order = order_for(store)
    commit(app, ledger.record_payment, order, 10_000)
    commit(app, ledger.record_refund, order, 10_000)
    assert commit(app, ledger.record_settlement, order) is None


def test_a_failing_commission_hook_aborts_the_settlement(app, chain, store):
    set_plugin_enabled(app, store, "test_broken")
    order = order_for(store)
    commit(app, ledger.record_payment, order, 10_000)
    before = entry_count(app, chain)
    with in_app(app):
        with pytest.raises(ledger.LedgerError, match="plugin failed"):
            ledger.record_settlement(order)
    assert entry_count(app, chain) == before


def test_a_split_may_be_returned_bare(app, chain, store):
    set_plugin_enabled(app, store, "test_bare")
    order = order_for(store)
    commit(app, ledger.record_payment, order, 10_000)
    commit(app, ledger.record_settlement, order)
    with in_app(app):
        balances = ledger.balances(chain.id, store.id)
    assert (balances["commission:leader-3"], balances["store_payable"]) == (250, 9_750)


def test_a_plugin_cannot_split_to_accounts_other_than_commissions(app, chain, store):
    set_plugin_enabled(app, store, "test_greedy")
    order = order_for(store)
    commit(app, ledger.record_payment, order, 10_000)
    with in_app(app):
        with pytest.raises(ledger.LedgerError, match="commission accounts"):
            ledger.record_settlement(order)


def busy_ledger(app, chain, stores, orders=12):
    """Payments, refunds and settlements for many orders across stores."""
    for n in range(1, orders + 1):
        order = order_for(stores[n % len(stores)], n, total=1_000 + 37 * n, delivery=100)
        commit(app, ledger.record_payment, order, order.total_fen, key=f"p{n}")
        if n % 3 == 0:
            commit(app, ledger.record_refund, order, 100 + n, key=f"before{n}")
        if n % 2 == 0:
            commit(app, ledger.record_settlement, order)
        if n % 4 == 0:
            commit(app, ledger.record_refund, order, 200, key=f"after{n}")


def tamper(app, statement, **params):
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text(statement), params)


@BOTH
def test_verify_passes_on_a_busy_ledger(app, chain, store, other_store):
    set_royalty(app, chain, 300)
    busy_ledger(app, chain, [store, other_store])
    with in_app(app):
        report = ledger.verify(chain.id)
    assert report.ok, report.problem
    assert report.entries == entry_count(app, chain) > 40


@BOTH
def test_verify_names_the_entry_whose_amount_was_edited_in_sql(app, chain, store, other_store):
    busy_ledger(app, chain, [store, other_store])
    tamper(app, "UPDATE ledger_entry SET amount_fen = amount_fen + 100 "
                "WHERE chain_id = :c AND seq = 17", c=chain.id)
    with in_app(app):
        report = ledger.verify(chain.id)
    assert not report.ok
    assert (report.problem.seq, report.problem.reason) == (17, "hash_mismatch")
    assert "#17" in str(report.problem)


@BOTH
def test_verify_names_a_deleted_entry(app, chain, store, other_store):
    busy_ledger(app, chain, [store, other_store])
    tamper(app, "DELETE FROM ledger_entry WHERE chain_id = :c AND seq = 9", c=chain.id)
    with in_app(app):
        report = ledger.verify(chain.id)
    assert (report.problem.seq, report.problem.reason) == (9, "missing")


def test_verify_notices_entries_deleted_from_the_end(app, chain, store):
    busy_ledger(app, chain, [store], orders=3)
    last = entry_count(app, chain)
    tamper(app, "DELETE FROM ledger_entry WHERE chain_id = :c AND seq >= :s", c=chain.id,
           s=last - 1)
    with in_app(app):
        report = ledger.verify(chain.id)
    assert (report.problem.seq, report.problem.reason) == (last - 1, "missing")


@BOTH
def test_verify_names_a_deleted_final_entry_as_missing_not_unbalanced(app, chain, store):
    busy_ledger(app, chain, [store], orders=4)
    last = entry_count(app, chain)
    tamper(app, "DELETE FROM ledger_entry WHERE chain_id = :c AND seq = :s", c=chain.id, s=last)
    with in_app(app):
        report = ledger.verify(chain.id)
    assert (report.problem.seq, report.problem.reason) == (last, "missing")
    assert str(report.problem).startswith(f"entry #{last}: missing (deleted?)")


def test_verify_names_a_transactions_deleted_last_entry_when_the_head_was_rewound(
        app, chain, store):
    # The head moved back too: the transaction's own recorded range still tells.
    busy_ledger(app, chain, [store], orders=4)
    last = entry_count(app, chain)
    with in_app(app) as session:
        before = session.scalar(sa.select(LedgerEntry).where(LedgerEntry.seq == last - 1))
        session.execute(sa.text("UPDATE ledger_head SET last_seq = :s, last_hash = :h"),
                        {"s": last - 1, "h": before.hash})
        session.commit()
    tamper(app, "DELETE FROM ledger_entry WHERE chain_id = :c AND seq = :s", c=chain.id, s=last)
    with in_app(app):
        report = ledger.verify(chain.id)
    assert (report.problem.seq, report.problem.reason) == (last, "missing")


def test_verify_names_the_entry_after_one_that_was_rewritten_and_rehashed(app, chain, store):
    busy_ledger(app, chain, [store], orders=3)
    with in_app(app) as session:
        entry = session.scalar(sa.select(LedgerEntry).where(LedgerEntry.seq == 3))
        entry.memo = "nothing to see here"
        entry.hash = ledger.hash_of_row(entry)
        session.commit()
        report = ledger.verify(chain.id)
    assert (report.problem.seq, report.problem.reason) == (4, "prev_hash_mismatch")


def test_verify_catches_a_rewrite_that_recomputed_the_hashes_from_an_anchor(app, chain, store):
    busy_ledger(app, chain, [store], orders=4)
    with in_app(app):
        anchor = ledger.verify(chain.id)
    # Someone edits entry 2 and recomputes every hash after it, and the head: the
    # chain is consistent again, so only a hash recorded elsewhere can tell.
    with in_app(app) as session:
        entries = session.scalars(
            sa.select(LedgerEntry).where(LedgerEntry.chain_id == chain.id)
            .order_by(LedgerEntry.seq)
        ).all()
        entries[0].amount_fen -= 1
        entries[1].amount_fen += 1
        prev = ledger.GENESIS_HASH
        for entry in entries:
            entry.prev_hash = prev
            entry.hash = prev = ledger.hash_of_row(entry)
        session.execute(sa.text("UPDATE ledger_head SET last_hash = :h WHERE chain_id = :c"),
                        {"h": prev, "c": chain.id})
        session.commit()
        assert ledger.verify(chain.id).ok
        report = ledger.verify(chain.id, anchors={anchor.head_seq: anchor.head_hash})
    assert report.problem.reason == "anchor_mismatch"


def test_verify_reports_an_unbalanced_transaction_even_with_valid_hashes(app, chain, store):
    # Only possible by writing rows outside post(); verify must still say so.
    with in_app(app) as session:
        ledger.post(chain.id, "adjustment", [("escrow", 5, ""), ("store_payable", -5, "")])
        session.commit()
        entry = session.scalar(sa.select(LedgerEntry).where(LedgerEntry.seq == 2))
        entry.amount_fen = -4
        entry.hash = ledger.hash_of_row(entry)
        session.execute(sa.text("UPDATE ledger_head SET last_hash = :h"), {"h": entry.hash})
        session.commit()
        report = ledger.verify(chain.id)
    assert (report.problem.seq, report.problem.reason) == (1, "unbalanced")


@BOTH
def test_cli_verify_prints_ok_or_names_the_entry_and_exits_non_zero(app, chain, store):
    busy_ledger(app, chain, [store], orders=4)
    runner = app.test_cli_runner()

    def invoke(*args):
        # As `flask` does: the command group runs inside an application context.
        with app.app_context():
            return runner.invoke(args=["shopbuilder", "ledger", *args])

    result = invoke("verify", "--chain", chain.slug)
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    tamper(app, "UPDATE ledger_entry SET amount_fen = 1 WHERE seq = 3")
    result = invoke("verify")
    assert result.exit_code != 0
    assert "#3" in result.output and "acme" in result.output
    result = invoke("verify", "--chain", "nope")
    assert result.exit_code != 0 and "no chain" in result.output


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_verify_names_an_entry_copied_in_twice(app, chain, store):
    busy_ledger(app, chain, [store], orders=3)
    tamper(app, "ALTER TABLE ledger_entry DROP CONSTRAINT uq_ledger_entry_seq")
    tamper(app, "INSERT INTO ledger_entry (chain_id, seq, txn, kind, account, store_id, order_id, "
                "amount_fen, memo, created_at, prev_hash, hash) SELECT chain_id, seq, txn, kind, "
                "account, store_id, order_id, amount_fen, memo, created_at, prev_hash, "
                "hash FROM ledger_entry WHERE seq = 5")
    with in_app(app):
        report = ledger.verify(chain.id)
    assert (report.problem.seq, report.problem.reason) == (5, "duplicate")
