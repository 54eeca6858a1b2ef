"""Anonymous product pages with a live campaign come from the page cache and never go stale.

The groups to join, their members' initials and the countdown are kept in the
storefront's whole-page cache for anonymous visitors; every group or campaign change
renews the store's pages, the entry expires by the next moment the page changes by
itself, the countdown counts to an absolute deadline, and a group that expired while its
page was cached cannot be joined from it.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from gb_helpers import T0, group_of, join, make_campaign, make_customers, pay, start
from shopbuilder_groupbuy import service, views
from shopbuilder_groupbuy.models import Campaign
from sqlalchemy import event

from shopbuilder import clock
from shopbuilder.extensions import cache, db
from shopbuilder.models import Chain, Order, Variant
from shopbuilder.testing import (
    in_app,
    login,
    make_customer,
    page_cache_lifetimes,
    set_plugin_enabled,
)


@pytest.fixture
def product_url(app, store, shop):
    with in_app(app):
        product_id = db.session.get(Variant, shop["variant_id"]).product_id
    return f"/s/{store.slug}/p/{product_id}"


@pytest.fixture
def drawn(monkeypatch):
    """How many times group-buy worked out the product page's slots (plugin code ran)."""
    calls = []
    original = views._product_context

    def counting(store, product_id, product, viewer):
        calls.append(product_id)
        return original(store, product_id, product, viewer)

    monkeypatch.setattr(views, "_product_context", counting)
    return calls


@pytest.fixture
def wang(app, chain):
    return make_customer(app, chain, "wang@example.com", name="Wang")


@pytest.fixture
def open_group(app, store, shop, wang):
    """Wang opened a group (paid) at T0: 24 hours to fill, two seats left."""
    order_id = start(app, store, wang.id, shop["campaign_id"])
    pay(app, order_id)
    return group_of(app, order_id)


@contextlib.contextmanager
def sql_statements(app):
    statements = []
    with app.app_context():
        engine = db.engine

    def record(*args):
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_anonymous_product_page_with_a_live_campaign_is_served_from_the_cache(
        app, client, product_url, open_group, drawn):
    first = client.get(product_url).text
    assert "Join a group" in first and ">W<" in first and "¥19.90" in first
    assert drawn == [drawn[0]]
    with sql_statements(app) as statements:
        second = client.get(product_url)
    assert second.status_code == 200 and ">W<" in second.text
    assert statements == [] and len(drawn) == 1  # no SQL, no group-buy code: the cache


def test_a_member_who_joins_and_pays_shows_on_the_cached_page_at_once(
        app, chain, client, store, product_url, open_group, drawn):
    client.get(product_url)
    client.get(product_url)
    assert len(drawn) == 1
    zhao = make_customer(app, chain, "zhao@example.com", name="Zhao")
    order_id = join(app, store, zhao.id, open_group)
    page = client.get(product_url).text  # drawn again (a seat is held), and cached
    assert ">Z<" not in page  # not paid yet: not shown
    client.get(product_url)
    calls = len(drawn)
    pay(app, order_id)
    page = client.get(product_url).text
    assert ">W<" in page and ">Z<" in page and "1 more needed" in page
    assert len(drawn) == calls + 1


def test_a_refunded_member_leaves_the_cached_page_at_once(
        app, chain, client, store, product_url, open_group):
    from shopbuilder import tenancy
    from shopbuilder.services import orders

    zhao = make_customer(app, chain, "zhao@example.com", name="Zhao")
    order_id = join(app, store, zhao.id, open_group)
    pay(app, order_id)
    assert ">Z<" in client.get(product_url).text
    with app.test_request_context(), tenancy.unscoped():
        orders.refund(db.session.get(Order, order_id), "system", reason="changed mind")
    page = client.get(product_url).text
    assert ">W<" in page and ">Z<" not in page and "2 more needed" in page


def test_the_payment_that_fills_a_group_takes_it_off_the_cached_page(
        app, chain, client, store, product_url, open_group):
    assert "Join a group" in client.get(product_url).text
    b, c = make_customers(app, chain, 2)
    pay(app, join(app, store, b, open_group))
    pay(app, join(app, store, c, open_group))
    page = client.get(product_url).text
    assert "Join a group" not in page and "Start a group" in page


def test_seats_taken_by_unpaid_orders_take_a_full_group_off_the_cached_page(
        app, chain, client, store, product_url, open_group):
    """Both free seats held (not yet paid): nobody else is offered the group."""
    b, c = make_customers(app, chain, 2)
    assert "Join a group" in client.get(product_url).text
    join(app, store, b, open_group)
    join(app, store, c, open_group)
    assert "Join a group" not in client.get(product_url).text


def test_the_countdown_counts_to_the_absolute_deadline(app, client, product_url, open_group):
    page = client.get(product_url).text
    # Opened at T0 with 24 hours to fill; the server's text is the fallback.
    assert 'data-deadline="2026-11-28T03:00:00Z"' in page and "24 h 0 min left" in page
    assert "countdown.js" in page
    script = client.get("/static/plugins/groupbuy/countdown.js").text
    assert "data-deadline" in script and "Date.now()" in script


def test_a_group_that_expired_while_its_page_was_cached_cannot_be_joined(
        app, chain, client, store, product_url, open_group):
    assert ">W<" in client.get(product_url).text
    late = make_customer(app, chain, "late@example.com", name="Li")
    browser = app.test_client()
    with clock.frozen(T0 + timedelta(hours=24, minutes=1)):  # the worker has not run yet
        assert ">W<" in client.get(product_url).text  # the stale page still offers it
        login(browser, late, store=store)
        group_page = browser.get(f"/s/{store.slug}/groups/{open_group}").text
        assert "Time ran out for this group" in group_page
        assert "Join this group" not in group_page and "Start a new group" in group_page
        form = browser.get(f"/s/{store.slug}/groups/{open_group}/join")
        assert form.status_code == 302 and form.location.endswith(f"/groups/{open_group}")
        posted = browser.post(f"/s/{store.slug}/groups/{open_group}/join", data={
            "quantity": "1", "fulfilment": "delivery", "payment_provider": "offline",
            "contact_name": "Li", "contact_phone": "137", "address": "3 Lake Road",
            "idempotency_key": "late-1"})
    assert posted.status_code == 422 and "Time ran out for this group" in posted.text
    with in_app(app):
        assert db.session.scalar(db.select(db.func.count(Order.id))) == 1  # Wang's only


def test_a_customer_seated_in_a_shown_group_gets_their_own_view_drawn_each_time(
        app, client, store, product_url, open_group, wang, drawn):
    assert ">W<" in client.get(product_url).text  # cached for anonymous visitors
    browser = app.test_client()
    login(browser, wang, store=store)
    calls = len(drawn)
    for _ in range(2):
        own = browser.get(product_url).text
        # Wang's own group is not offered to Wang; the anonymous page offers it.
        assert "Start a group" in own and "Join a group" not in own
    assert len(drawn) == calls + 2  # drawn for each request, never from the cache
    assert ">W<" in client.get(product_url).text


@pytest.fixture
def zhao_signed_in(app, chain, store):
    """Zhao, in no group yet, and a browser signed in as Zhao."""
    zhao = make_customer(app, chain, "zhao@example.com", name="Zhao")
    browser = app.test_client()
    login(browser, zhao, store=store)
    return zhao, browser


def test_signed_in_visitors_outside_the_groups_get_the_kept_panel_with_no_query(
        app, product_url, open_group, zhao_signed_in, drawn):
    zhao, browser = zhao_signed_in
    assert ">W<" in browser.get(product_url).text
    with sql_statements(app) as statements:
        page = browser.get(product_url).text
    assert "Join a group" in page and ">W<" in page and "¥19.90" in page
    assert len(drawn) == 1  # the panel drawn for nobody in particular, kept
    assert not [s for s in statements if "groupbuy_" in s]


def test_a_member_who_pays_shows_to_signed_in_visitors_at_once(
        app, chain, store, product_url, open_group, zhao_signed_in):
    zhao, browser = zhao_signed_in
    assert "2 more needed" in browser.get(product_url).text
    li = make_customer(app, chain, "li@example.com", name="Li")
    pay(app, join(app, store, li.id, open_group))
    page = browser.get(product_url).text
    assert ">W<" in page and ">L<" in page and "1 more needed" in page


def test_a_visitor_who_takes_a_seat_is_no_longer_offered_that_group(
        app, client, store, product_url, open_group, zhao_signed_in):
    zhao, browser = zhao_signed_in
    assert "Join a group" in browser.get(product_url).text
    join(app, store, zhao.id, open_group)  # a seat held, not paid yet
    assert "Join a group" not in browser.get(product_url).text
    assert "Join a group" in client.get(product_url).text  # one seat is still free


def test_stopping_or_creating_a_campaign_renews_the_stores_cached_pages(
        app, chain, client, shop, product_url):
    assert "Start a group" in client.get(product_url).text
    with in_app(app):
        service.stop_campaign(db.session.get(Campaign, shop["campaign_id"]))
        db.session.commit()
    assert "Start a group" not in client.get(product_url).text
    # HQ starts a campaign in every store: a chain-wide renewal, this store's page included.
    make_campaign(app, chain, None, shop["variant_id"], all_stores=True, unit_cap=5,
                  group_price_fen=1790)
    page = client.get(product_url).text
    assert "Start a group" in page and "¥17.90" in page


def test_editing_a_campaign_draws_its_cached_pages_again(app, chain, client, shop, product_url,
                                                         drawn):
    client.get(product_url)
    client.get(product_url)
    assert len(drawn) == 1
    with in_app(app):
        campaign = db.session.get(Campaign, shop["campaign_id"])
        service.update_campaign(campaign, service.CampaignChanges(
            title="Mooncakes, last week", ends_at=T0 + timedelta(days=3), unit_cap=10,
            per_customer_limit=2, per_order_limit=2), db.session.get(Chain, chain.id))
        db.session.commit()
    client.get(product_url)
    assert len(drawn) == 2


def test_a_page_cached_before_a_campaign_starts_is_kept_only_until_it_starts(
        app, chain, client, store, monkeypatch):
    from gb_helpers import make_variant

    set_plugin_enabled(app, store, "groupbuy")
    variant_id = make_variant(app, chain, [store])
    make_campaign(app, chain, store, variant_id, starts_at=T0 + timedelta(seconds=30))
    with in_app(app):
        url = f"/s/{store.slug}/p/{db.session.get(Variant, variant_id).product_id}"
    kept = page_cache_lifetimes(app, monkeypatch)
    assert "Start a group" not in client.get(url).text
    assert kept == [30]  # gone from the cache when the campaign starts, not 60 s later
    with clock.frozen(T0 + timedelta(seconds=30)):
        cache_cleared(app)  # what the cache's own clock does at that moment
        assert "Start a group" in client.get(url).text


def cache_cleared(app):
    with app.app_context():
        cache.clear()


def test_a_cached_page_expires_by_the_first_shown_groups_deadline(
        app, client, product_url, open_group, monkeypatch):
    kept = page_cache_lifetimes(app, monkeypatch)
    assert ">W<" in client.get(product_url).text
    assert kept == [60]  # the deadline is a day away: the usual lifetime
    cache_cleared(app)
    kept = page_cache_lifetimes(app, monkeypatch)
    with clock.frozen(T0 + timedelta(hours=24, seconds=-20)):
        assert ">W<" in client.get(product_url).text
    assert kept == [20]


def test_a_group_change_renews_only_its_own_stores_pages(
        app, chain, client, store, other_store, shop, wang, drawn):
    set_plugin_enabled(app, other_store, "groupbuy")
    with in_app(app):
        product_id = db.session.get(Variant, shop["variant_id"]).product_id
    other_url = f"/s/{other_store.slug}/p/{product_id}"
    client.get(other_url)
    pay(app, start(app, store, wang.id, shop["campaign_id"]))
    calls = len(drawn)
    client.get(other_url)
    assert len(drawn) == calls  # the other store's page still comes from the cache
