"""50 customers race for a size-5 group in many processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from collections import Counter

import gb_workers
import pytest
from gb_helpers import (
    T0,
    group_of,
    make_campaign,
    make_customers,
    make_variant,
    pay,
    start,
)
from shopbuilder_groupbuy.models import Group, GroupMember

from shopbuilder.extensions import db
from shopbuilder.models import Order, Payment, Refund
from shopbuilder.testing import in_app, set_plugin_enabled

BOTH = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


@BOTH
def test_50_customers_joining_a_size_5_group_make_exactly_5_members(app, chain, store,
                                                                    tmp_path):
    set_plugin_enabled(app, store, "groupbuy")
    variant_id = make_variant(app, chain, [store], stock=100)
    campaign_id = make_campaign(app, chain, store, variant_id, group_size=5, unit_cap=100)
    leader, *others = make_customers(app, chain, 51)
    leader_order = start(app, store, leader, campaign_id)
    pay(app, leader_order)
    group_id = group_of(app, leader_order)
    context = multiprocessing.get_context("spawn")
    with context.Pool(10, initializer=gb_workers.init,
                      initargs=(app.config["SQLALCHEMY_DATABASE_URI"],
                                str(tmp_path / "instance"))) as pool:
        results = pool.map(gb_workers.join_and_pay,
                           [(store.id, c, group_id, T0) for c in others], chunksize=1)
    outcomes = Counter(r if r in ("joined", "refused") else "other" for r in results)
    assert outcomes == {"joined": 4, "refused": 46}, Counter(results).most_common(3)
    # Releasing the members' orders runs after the filling payment's commit; one that met
    # a busy database there is settled by the worker's next tick, as in production.
    from gb_helpers import run_tick

    run_tick(app, T0)
    with in_app(app):
        group = db.session.get(Group, group_id)
        assert (group.state, group.paid_count, group.seats_taken) == ("succeeded", 5, 5)
        members = db.session.scalars(db.select(GroupMember)).all()
        assert sorted(m.state for m in members) == ["succeeded"] * 5
        # Nobody was charged without a place or a refund.
        paid = db.session.scalars(db.select(Payment).where(Payment.state == "succeeded")).all()
        refunded = {r.payment_id for r in db.session.scalars(db.select(Refund))}
        placed = {m.order_id for m in members}
        assert all(p.order_id in placed or p.id in refunded for p in paid)
        assert db.session.scalar(db.select(db.func.count(Order.id))) == 5


@BOTH
def test_payments_racing_the_deadline_end_in_a_place_or_a_refund(app, chain, store, tmp_path):
    from datetime import timedelta

    from gb_helpers import join, run_tick

    from shopbuilder import clock

    set_plugin_enabled(app, store, "groupbuy")
    variant_id = make_variant(app, chain, [store], stock=100)
    campaign_id = make_campaign(app, chain, store, variant_id, group_size=5, unit_cap=100,
                                fill_hours=1)
    leader, *others = make_customers(app, chain, 5)
    leader_order = start(app, store, leader, campaign_id)
    pay(app, leader_order)
    group_id = group_of(app, leader_order)
    # Four seats taken a little before the deadline; they pay as the deadline passes.
    with clock.frozen(T0 + timedelta(minutes=55)):
        unpaid = [join(app, store, c, group_id) for c in others]
    at = T0 + timedelta(hours=1, seconds=1)
    jobs = [("pay", o, at) for o in unpaid] + [("tick", None, at)] * 2
    context = multiprocessing.get_context("spawn")
    with context.Pool(6, initializer=gb_workers.init,
                      initargs=(app.config["SQLALCHEMY_DATABASE_URI"],
                                str(tmp_path / "instance"))) as pool:
        results = pool.map(gb_workers.pay_or_tick, jobs, chunksize=1)
    assert not [r for r in results if r.startswith("error")], results
    run_tick(app, at + timedelta(minutes=1))
    with in_app(app):
        group = db.session.get(Group, group_id)
        assert group.state == "failed"  # the deadline passed before any of them paid
        for order in db.session.scalars(db.select(Order)):
            assert order.state in ("refunded", "cancelled"), (order.number, order.state)
            assert order.refunded_fen == order.paid_fen
        assert {m.state for m in db.session.scalars(db.select(GroupMember))} <= {
            "refunded", "cancelled"}


@BOTH
def test_one_customer_racing_into_many_groups_never_passes_the_per_customer_limit(
        app, chain, store, tmp_path):
    from gb_helpers import customer_units

    set_plugin_enabled(app, store, "groupbuy")
    variant_id = make_variant(app, chain, [store], stock=100)
    campaign_id = make_campaign(app, chain, store, variant_id, group_size=3, unit_cap=100,
                                per_customer_limit=3, per_order_limit=1)
    *leaders, racer = make_customers(app, chain, 9)
    groups = []
    for leader in leaders:
        order_id = start(app, store, leader, campaign_id)
        pay(app, order_id)
        groups.append(group_of(app, order_id))
    context = multiprocessing.get_context("spawn")
    with context.Pool(8, initializer=gb_workers.init,
                      initargs=(app.config["SQLALCHEMY_DATABASE_URI"],
                                str(tmp_path / "instance"))) as pool:
        results = pool.map(gb_workers.join_and_pay,
                           [(store.id, racer, group_id, T0) for group_id in groups],
                           chunksize=1)
    outcomes = Counter(r if r in ("joined", "refused") else "other" for r in results)
    assert outcomes == {"joined": 3, "refused": 5}, Counter(results).most_common(3)
    assert customer_units(app, campaign_id, racer) == 3
    with in_app(app):
        held = db.session.scalars(db.select(GroupMember).where(
            GroupMember.customer_id == racer)).all()
        assert sorted(m.state for m in held) == ["paid"] * 3
        assert db.session.scalar(db.select(db.func.count(Order.id)).where(
            Order.customer_id == racer)) == 3
