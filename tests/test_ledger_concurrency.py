"""Several processes posting to one chain at once never fork its hash chain."""

from __future__ import annotations

import multiprocessing

import pytest
import sqlalchemy as sa

from shopbuilder.ledger_testing import LedgerOrder
from shopbuilder.models import LedgerEntry, LedgerTransaction
from shopbuilder.services import ledger
from shopbuilder.testing import in_app

PROCESSES = 4
ROUNDS = 8


def post_many(database_url, instance, chain_id, store_id, worker, start):
    """One process: its own app and engine, posting as fast as it can once ``start`` is set."""
    from shopbuilder import create_app
    from shopbuilder.testing import make_test_config

    app = create_app(make_test_config(database_url, instance))
    start.wait(30)
    for n in range(ROUNDS):
        total = 1_000 + n
        order = LedgerOrder(10 + worker * 1000 + n, chain_id, store_id, f"W{worker}-{n}", total,
                            total)
        with in_app(app) as session:
            ledger.record_payment(order, order.total_fen, key="pay")
            session.commit()
        with in_app(app) as session:
            # Every process records the same event: it must be posted once in all.
            shared = LedgerOrder(1, chain_id, store_id, "SHARED", 500, 500)
            ledger.record_payment(shared, 500, key=f"round-{n}")
            session.commit()
        with in_app(app) as session:
            ledger.record_settlement(order)
            session.commit()
    with app.app_context():
        from shopbuilder.extensions import db

        db.engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_concurrent_posters_never_fork_the_chain(app, db_url, chain, store, tmp_path):
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [
        context.Process(
            target=post_many,
            args=(db_url, str(tmp_path / f"instance{w}"), chain.id, store.id, w, start),
        )
        for w in range(PROCESSES)
    ]
    for process in workers:
        process.start()
    start.set()
    # verify while they post: it walks what the head covered, so it never sees half a posting.
    checks = []
    while any(p.is_alive() for p in workers):
        with in_app(app):
            checks.append(ledger.verify(chain.id))
    for process in workers:
        process.join(120)
    assert all(report.ok for report in checks), [r.problem for r in checks if not r.ok]
    assert [p.exitcode for p in workers] == [0] * PROCESSES

    with in_app(app) as session:
        report = ledger.verify(chain.id)
        seqs = session.scalars(
            sa.select(LedgerEntry.seq).where(LedgerEntry.chain_id == chain.id)
            .order_by(LedgerEntry.seq)
        ).all()
        shared = session.scalar(
            sa.select(sa.func.count()).select_from(LedgerTransaction)
            .where(LedgerTransaction.order_id == 1)
        )
        balances = ledger.balances(chain.id)
    assert report.ok, report.problem
    # Per process and round: a payment (2 lines) and a settlement (at least 2 lines)
    # of its own order; the shared payment once per round across all processes.
    own = PROCESSES * ROUNDS
    assert shared == ROUNDS
    assert report.transactions == 2 * own + ROUNDS
    assert seqs == list(range(1, len(seqs) + 1))
    assert balances["escrow"] == 500 * ROUNDS
    assert balances["customer_payments"] == -(
        sum(1_000 + n for n in range(ROUNDS)) * PROCESSES + 500 * ROUNDS
    )


def refund_and_settle(database_url, instance, chain_id, store_id, worker, start, results):
    """Refund 400 of the shared 1,000 fen order under this worker's key, then settle it."""
    from shopbuilder import create_app
    from shopbuilder.testing import make_test_config

    app = create_app(make_test_config(database_url, instance))
    order = LedgerOrder(1, chain_id, store_id, "RACE", 1_000, 1_000)
    start.wait(30)
    outcome = []
    for action in ("refund", "settle"):
        with in_app(app) as session:
            try:
                if action == "refund":
                    ledger.record_refund(order, 400, key=f"r{worker}")
                else:
                    ledger.record_settlement(order)
                session.commit()
                outcome.append(action)
            except ledger.LedgerError:
                session.rollback()
                outcome.append(f"{action} refused")
    results.put(outcome)
    with app.app_context():
        from shopbuilder.extensions import db

        db.engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_racing_refunds_never_take_more_than_the_order_paid(app, db_url, chain, store, tmp_path):
    order = LedgerOrder(1, chain.id, store.id, "RACE", 1_000, 1_000)
    with in_app(app) as session:
        ledger.record_payment(order, 1_000)
        session.commit()
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    workers = [
        context.Process(
            target=refund_and_settle,
            args=(db_url, str(tmp_path / f"instance{w}"), chain.id, store.id, w, start, results),
        )
        for w in range(PROCESSES)
    ]
    for process in workers:
        process.start()
    start.set()
    outcomes = [results.get(timeout=120) for _ in workers]
    for process in workers:
        process.join(120)
    refunds = sum(o.count("refund") for o in outcomes)
    # Two refunds of 400 fit in 1,000 whether they come before or after the settlement.
    assert refunds == 2
    with in_app(app) as session:
        balances = ledger.balances(chain.id)
        settlements = session.scalar(
            sa.select(sa.func.count()).select_from(LedgerTransaction)
            .where(LedgerTransaction.kind == "settlement")
        )
        assert ledger.verify(chain.id).ok
    assert settlements == 1
    assert balances["customer_refunds"] == 800
    assert balances["escrow"] == 0
    assert balances["store_payable"] == 200
