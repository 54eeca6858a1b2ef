"""Races that must have one winner: the last place in a slot, one code at two counters,
two workers expiring the same pickup. Several processes, on SQLite (file) and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta

import pytest

from shopbuilder.extensions import db
from shopbuilder.models import Order, Refund, StoreListing
from shopbuilder.testing import in_app, make_customer, make_staff
from shopbuilder_pickup.models import PickupCollection, PickupLine, PickupSlot

from . import workers
from .helpers import NOW, code_for, first_key, make_goods, ready_order

PROCESSES = 4
BOTH = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


def race(target, args_for, n=PROCESSES):
    context = multiprocessing.get_context("spawn")
    # A barrier, not an event: every process finishes its own setup (app, lookup) first,
    # so the racing step really starts together.
    start, out = context.Barrier(n), context.Queue()
    processes = [context.Process(target=target, args=(*args_for(i), start, out))
                 for i in range(n)]
    for process in processes:
        process.start()
    results = [out.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0] * n
    return sorted(results)


@BOTH
def test_two_customers_racing_for_the_last_places_never_overbook(
        app, db_url, chain, pickup_store, tmp_path):
    from shopbuilder.testing import set_plugin_settings

    set_plugin_settings(app, "pickup", {"capacity": 2}, chain=chain)
    _p, variant = make_goods(app, chain, [pickup_store], stock=50)
    buyers = [make_customer(app, chain, f"b{i}@example.com") for i in range(PROCESSES)]
    results = race(workers.book_last_place, lambda i: (
        db_url, str(tmp_path / f"i{i}"), pickup_store.id, buyers[i].id, variant, first_key()))
    assert results == ["placed"] * 2 + ["refused"] * (PROCESSES - 2)
    with in_app(app):
        assert db.session.query(PickupSlot).one().booked == 2
        assert db.session.query(Order).count() == 2


@BOTH
def test_two_clerks_verifying_one_code_at_once_exactly_one_succeeds(
        app, db_url, chain, pickup_store, customer, clerk, tmp_path):
    _p, tea = make_goods(app, chain, [pickup_store], stock=10)
    _p, cup = make_goods(app, chain, [pickup_store], stock=10, sku="CUP", title="Cup")
    order_id = ready_order(app, pickup_store, customer, {tea: 2, cup: 1}, clerk)
    code = code_for(app, order_id)
    second = make_staff(app, "clerk2@north.test", chain, pickup_store, "clerk")
    users = [clerk.id, second.id]
    results = race(workers.collect_everything, lambda i: (
        db_url, str(tmp_path / f"i{i}"), pickup_store.id, users[i % 2], code))
    assert results == ["ok"] + ["refused"] * (PROCESSES - 1)
    with in_app(app):
        assert db.session.get(Order, order_id).state == "completed"
        assert db.session.query(PickupCollection).count() == 1
        assert sorted(pl.picked for pl in db.session.query(PickupLine)) == [1, 2]
        stock = sorted(sl.stock_on_hand for sl in db.session.query(StoreListing))
        assert stock == [8, 9]


@BOTH
def test_two_workers_expire_an_uncollected_pickup_once(
        app, db_url, chain, pickup_store, customer, clerk, tmp_path):
    _p, tea = make_goods(app, chain, [pickup_store], stock=10)
    order_id = ready_order(app, pickup_store, customer, {tea: 2}, clerk)
    later = NOW + timedelta(days=7, minutes=1)
    results = race(workers.run_tick, lambda i: (db_url, str(tmp_path / f"i{i}"), later))
    assert results == ["done"] * PROCESSES
    with in_app(app):
        order = db.session.get(Order, order_id)
        assert order.state == "refunded"
        assert db.session.query(Refund).count() == 1
        listing = db.session.query(StoreListing).one()
        assert (listing.stock_on_hand, listing.reserved) == (10, 0)
