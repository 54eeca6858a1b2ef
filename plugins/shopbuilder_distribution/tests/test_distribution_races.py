# ruff: noqa: F811 - fixtures come from distkit
"""Racing withdrawals in several processes, on an SQLite file and on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter

import dist_workers
import pytest
from distkit import _frozen_clock, chain, configure, distributor  # noqa: F401
from shopbuilder_distribution.models import Distributor, Withdrawal

from shopbuilder.extensions import db
from shopbuilder.services import ledger
from shopbuilder.testing import in_app, set_plugin_enabled

BOTH = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


def _rich_distributor(app, chain, store, balance_fen):
    set_plugin_enabled(app, store, "distribution")
    configure(app, chain, join_policy="open", withdraw_min_fen=100)
    d_id, _code, _c = distributor(app, chain, store)
    with in_app(app):
        db.session.get(Distributor, d_id).balance_fen = balance_fen
        db.session.commit()
    return d_id


def _pool(app, tmp_path, size):
    context = multiprocessing.get_context("spawn")
    return context.Pool(size, initializer=dist_workers.init,
                        initargs=(app.config["SQLALCHEMY_DATABASE_URI"],
                                  str(tmp_path / "instance")))


@BOTH
def test_exactly_one_of_two_simultaneous_whole_balance_withdrawals_succeeds(app, chain, store,
                                                                          tmp_path):
    d_id = _rich_distributor(app, chain, store, 5000)
    with _pool(app, tmp_path, 2) as pool:
        start_at = time.time() + 1.0
        results = pool.map(dist_workers.withdraw, [(d_id, 5000, start_at)] * 2, chunksize=1)
    assert sorted(results) == ["ok", "refused"], results
    with in_app(app):
        assert db.session.get(Distributor, d_id).balance_fen == 0
        assert db.session.scalar(db.select(db.func.count(Withdrawal.id))) == 1


@BOTH
def test_many_racing_withdrawals_never_take_the_balance_below_zero(app, chain, store,
                                                                   tmp_path):
    d_id = _rich_distributor(app, chain, store, 3000)
    with _pool(app, tmp_path, 8) as pool:
        start_at = time.time() + 1.5
        results = pool.map(dist_workers.withdraw, [(d_id, 700, start_at)] * 8, chunksize=1)
    assert Counter(results) == {"ok": 4, "refused": 4}, results
    with in_app(app):
        assert db.session.get(Distributor, d_id).balance_fen == 3000 - 4 * 700
        assert db.session.scalar(db.select(db.func.sum(Withdrawal.amount_fen))) == 2800


@BOTH
def test_a_withdrawal_paid_from_two_windows_posts_once(app, chain, store, tmp_path):
    d_id = _rich_distributor(app, chain, store, 2000)
    with in_app(app):
        w = Withdrawal(chain_id=chain.id, distributor_id=d_id, amount_fen=2000, fee_fen=0,
                       state="pending", reference="", decided_by="")
        db.session.add(w)
        db.session.get(Distributor, d_id).balance_fen = 0
        db.session.commit()
        w_id = w.id
    with _pool(app, tmp_path, 2) as pool:
        start_at = time.time() + 1.0
        results = pool.map(dist_workers.pay_out, [(w_id, start_at)] * 2, chunksize=1)
    assert sorted(results) == ["already", "ok"], results
    with in_app(app):
        assert ledger.balances(chain.id).get("payouts") == 2000
        assert db.session.get(Distributor, d_id).withdrawn_fen == 2000
