"""HQ's pickup report: per store and per day, the no-show rate, paged in SQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shopbuilder import clock
from shopbuilder.extensions import db
from shopbuilder.services import deadlines
from shopbuilder.testing import in_app, login, make_store, set_plugin_enabled
from shopbuilder_pickup import service, views

from .helpers import NOW, code_for, make_goods, prepare_store, ready_order

#: SQL that must mean the same on both databases (box filters, CASE buckets, GROUP BY).
pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)

def collect(app, store, clerk, order_id, at):
    client = app.test_client()
    login(client, clerk, store=store)
    with in_app(app):
        line_id = service.pickup_of(order_id).lines[0].id
    with clock.frozen(at):
        client.post(f"/s/{store.slug}/manage/pickup/verify",
                    data={"code": code_for(app, order_id), "action": "collect",
                          f"qty_{line_id}": 1})


def expire_all(app, at):
    with app.test_request_context():
        deadlines.tick(at)
        db.session.remove()


def report(app, hq_user, chain, at, **args):
    client = app.test_client()
    login(client, hq_user, chain=chain)
    with clock.frozen(at):
        return client.get(f"/hq/{chain.slug}/pickup/", query_string=args).get_data(as_text=True)


@pytest.fixture
def busy_chain(app, chain, pickup_store, customer, clerk):
    """North: 2 collected on NOW's day, 1 no-show 7 days later. Lake: 1 collected."""
    lake = make_store(app, chain, "lake", "Lake Side")
    prepare_store(app, lake)
    set_plugin_enabled(app, lake, "pickup")
    from shopbuilder.testing import make_staff

    lake_clerk = make_staff(app, "clerk@lake.test", chain, lake, "clerk")
    _p, tea = make_goods(app, chain, [pickup_store, lake], stock=20)
    for _ in range(2):
        collect(app, pickup_store, clerk, ready_order(app, pickup_store, customer, {tea: 1}, clerk),
                NOW + timedelta(hours=2))
    ready_order(app, pickup_store, customer, {tea: 1}, clerk)  # never collected
    collect(app, lake, lake_clerk, ready_order(app, lake, customer, {tea: 1}, lake_clerk),
            NOW + timedelta(hours=3))
    expire_all(app, NOW + timedelta(days=7, minutes=1))
    return lake


def test_per_day_table_gives_the_chains_no_show_rate_of_each_day(app, chain, busy_chain,
                                                                   hq_user):
    html = report(app, hq_user, chain, NOW + timedelta(days=8))
    collected_day = html.split('data-day="2026-11-27"')[1].split("</tr>")[0]
    assert "<td>3 / 0</td>" in collected_day and "0.0%" in collected_day
    expiry_day = html.split('data-day="2026-12-04"')[1].split("</tr>")[0]
    assert "<td>0 / 1</td>" in expiry_day and "100.0%" in expiry_day
    quiet_day = html.split('data-day="2026-11-30"')[1].split("</tr>")[0]
    assert "—" in quiet_day
    north = html.split('data-store="north"')[1].split("</tr>")[0]
    assert "<td>2</td><td>1</td>" in north and "33.3%" in north


def test_report_pages_through_stores_and_per_day_columns(app, chain, busy_chain, hq_user,
                                                         monkeypatch):
    monkeypatch.setattr(views, "REPORT_PAGE", 1)
    monkeypatch.setattr(views, "REPORT_DAY_COLUMNS", 1)
    at = NOW + timedelta(days=8)
    first = report(app, hq_user, chain, at)
    # The busiest store first, in both tables; the other one is on the next page.
    assert 'data-store="north"' in first and 'data-store="lake"' not in first
    assert "Stores 1–1 of 2 with pickups" in first
    second = report(app, hq_user, chain, at, page=2, cols=2)
    summary, per_day = second.split("pickup-report-days")
    assert 'data-store="lake"' in summary and 'data-store="north"' not in summary
    assert 'data-store="lake"' in per_day and "Stores 2–2 of 2 with pickups" in second
    # Past the end: an empty page, not an error.
    assert report(app, hq_user, chain, at, page=9, cols=9).count("data-store=") == 0


def test_report_counts_only_its_own_chains_pickups(app, chain, busy_chain, hq_user,
                                                   other_chain):
    from shopbuilder.testing import make_customer, make_staff

    rival = make_store(app, other_chain, "rival-one", "Rival One")
    prepare_store(app, rival)
    set_plugin_enabled(app, rival, "pickup")
    rival_clerk = make_staff(app, "clerk@rival.test", other_chain, rival, "clerk")
    rival_customer = make_customer(app, other_chain, home_store=rival)
    _p, tea = make_goods(app, other_chain, [rival], sku="R-1")
    collect(app, rival, rival_clerk, ready_order(app, rival, rival_customer, {tea: 1},
                                                 rival_clerk), NOW + timedelta(hours=2))
    html = report(app, hq_user, chain, NOW + timedelta(days=8))
    assert "rival-one" not in html
    assert "<td>3 / 0</td>" in html.split('data-day="2026-11-27"')[1].split("</tr>")[0]
