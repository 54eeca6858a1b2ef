"""The plugin's pages: only where it is on, only for the right people, and what they show."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shopbuilder import clock
from shopbuilder.extensions import db
from shopbuilder.models import Cart
from shopbuilder.plugins import call_display_hook, chain_hook
from shopbuilder.services import deadlines
from shopbuilder.testing import (
    in_app,
    login,
    make_staff,
    make_store,
    set_plugin_enabled,
)
from shopbuilder_pickup import finder, service

from .helpers import NOW, code_for, in_store, make_goods, prepare_store, ready_order


def test_pages_answer_404_in_a_store_without_the_plugin(app, chain, pickup_store, other_store):
    staff = make_staff(app, "boss@south.test", chain, other_store, "manager")
    client = app.test_client()
    login(client, staff, store=other_store)
    for url in ("/stores", "/manage/pickup/", "/manage/pickup/verify"):
        assert client.get(f"/s/{other_store.slug}{url}").status_code == 404
    assert client.post(f"/s/{other_store.slug}/manage/pickup/verify",
                       data={"code": "1"}).status_code == 404
    assert app.test_client().get(f"/s/{pickup_store.slug}/stores").status_code == 200


def test_menus_show_pickup_only_where_it_is_on(app, chain, pickup_store, other_store):
    with in_store(app, pickup_store) as row:
        here = [str(label) for entries in call_display_hook("shopbuilder_store_menu", row)
                for label, _url in entries]
    with in_store(app, other_store) as row:
        there = [str(label) for entries in call_display_hook("shopbuilder_store_menu", row)
                 for label, _url in entries]
        hq = [entry for entries in chain_hook("shopbuilder_hq_menu", row.chain)(chain=row.chain)
              for entry in entries]
    assert "Verify pickup" in here and "Verify pickup" not in there
    assert any("/hq/acme/pickup/" in url for _label, url in hq)


def test_order_slot_is_empty_where_the_plugin_is_off(app, chain, pickup_store, customer, clerk):
    from shopbuilder.plugins import render_slot

    _p, tea = make_goods(app, chain, [pickup_store])
    order_id = ready_order(app, pickup_store, customer, {tea: 1}, clerk)
    set_plugin_enabled(app, pickup_store, "pickup", False)
    with in_store(app, pickup_store) as row:
        from shopbuilder.models import Order

        assert str(render_slot("order_detail", store=row, order=db.session.get(Order, order_id))) \
            == ""


def test_clerk_cannot_prepare_another_stores_pickup(app, chain, pickup_store, other_store,
                                                      customer, clerk):
    prepare_store(app, other_store)
    set_plugin_enabled(app, other_store, "pickup")
    _p, tea = make_goods(app, chain, [pickup_store])
    from .helpers import pay, place_pickup

    order_id = place_pickup(app, pickup_store, customer, {tea: 1})
    pay(app, pickup_store, order_id)
    with in_app(app):
        pickup_id = service.pickup_of(order_id).id
    stranger = make_staff(app, "clerk@south.test", chain, other_store, "clerk")
    client = app.test_client()
    login(client, stranger, store=other_store)
    answer = client.post(f"/s/{other_store.slug}/manage/pickup/{pickup_id}/prepare")
    assert answer.status_code == 404
    # And a customer or a stranger is not a clerk here.
    assert app.test_client().get(f"/s/{pickup_store.slug}/manage/pickup/verify").status_code \
        == 302


def test_console_lists_todays_pickups_by_slot_and_verified_ones(app, chain, pickup_store,
                                                                  customer, clerk):
    _p, tea = make_goods(app, chain, [pickup_store])
    done = ready_order(app, pickup_store, customer, {tea: 1}, clerk)
    from .helpers import place_pickup

    waiting = place_pickup(app, pickup_store, customer, {tea: 1})
    client = app.test_client()
    login(client, clerk, store=pickup_store)
    with in_app(app):
        line_id = service.pickup_of(done).lines[0].id
    code = code_for(app, done)
    # The verification and the console both happen on NOW's day: "verified today" means it.
    with clock.frozen(NOW + timedelta(hours=3)):
        client.post(f"/s/{pickup_store.slug}/manage/pickup/verify",
                    data={"code": code, "action": "collect", f"qty_{line_id}": 1})
    with clock.frozen(NOW + timedelta(hours=4)):
        html = client.get(f"/s/{pickup_store.slug}/manage/pickup/").get_data(as_text=True)
    assert "11:00" in html
    with in_app(app):
        from shopbuilder.models import Order

        numbers = [db.session.get(Order, i).number for i in (done, waiting)]
    assert all(n in html for n in numbers)
    verified = html.split("pickup-verified")[1]
    assert numbers[0] in verified and "clerk" in verified


@pytest.fixture
def app_config(spy):
    return {"EXTRA_PLUGINS": [spy], "RATELIMIT_ENABLED": True}


def test_wrong_codes_are_limited_per_clerk(app, chain, pickup_store, customer, clerk):
    _p, tea = make_goods(app, chain, [pickup_store])
    order_id = ready_order(app, pickup_store, customer, {tea: 1}, clerk)
    client = app.test_client()
    login(client, clerk, store=pickup_store)
    url = f"/s/{pickup_store.slug}/manage/pickup/verify"
    for _ in range(3):  # right codes do not count
        assert client.post(url, data={"code": code_for(app, order_id)}).status_code == 200
    answers = [client.post(url, data={"code": f"{n:012d}"}).status_code for n in range(11)]
    assert answers == [404] * 10 + [429]
    limited = client.post(url, data={"code": code_for(app, order_id)})
    assert limited.status_code == 429
    assert "Too many wrong codes" in limited.get_data(as_text=True)
    other = make_staff(app, "clerk2@north.test", chain, pickup_store, "clerk")
    second = app.test_client()
    login(second, other, store=pickup_store)
    assert second.post(url, data={"code": code_for(app, order_id)}).status_code == 200


def test_finder_sorts_stores_by_distance_with_stock_and_hours(app, chain, pickup_store):
    near = make_store(app, chain, "lake", "Lake Side")
    far = make_store(app, chain, "airport", "Airport")
    hidden = make_store(app, chain, "closed-shop", "No Pickup")
    prepare_store(app, near, lat=30.26, lng=120.17, address="2 Lake Road")
    prepare_store(app, far, lat=30.23, lng=120.43, address="Airport T3", hours={})
    prepare_store(app, hidden, lat=30.25, lng=120.16)
    for s in (near, far):
        set_plugin_enabled(app, s, "pickup")
    product, _variant = make_goods(app, chain, [pickup_store, far], stock=3)
    with clock.frozen(NOW):
        html = app.test_client().get(
            f"/s/{pickup_store.slug}/stores?lat=30.2601&lng=120.1701&product_id={product}"
        ).get_data(as_text=True)
    order = [html.index(f'data-store="{slug}"') for slug in ("lake", "north", "airport")]
    assert order == sorted(order)
    assert 'data-store="closed-shop"' not in html
    lake = html.split('data-store="lake"')[1].split('class="pickup-store"')[0]
    assert "Out of stock here" in lake and "Open now" in lake and "2 Lake Road" in lake
    north = html.split('data-store="north"')[1].split('class="pickup-store"')[0]
    assert "In stock here" in north and "km away" in north
    airport = html.split('data-store="airport"')[1].split('class="pickup-store"')[0]
    assert "Opening hours unknown" in airport


def test_finder_by_city_and_distance_maths(app, chain, pickup_store):
    beijing = make_store(app, chain, "bj", "Beijing One")
    prepare_store(app, beijing, lat=39.90, lng=116.40, city="Beijing")
    set_plugin_enabled(app, beijing, "pickup")
    html = app.test_client().get(f"/s/{pickup_store.slug}/stores?city=Beijing").get_data(
        as_text=True)
    assert html.index('data-store="bj"') < html.index('data-store="north"')
    # Hangzhou to Beijing is about 1,120 km.
    assert 1100 < finder.haversine_km(30.25, 120.16, 39.90, 116.40) < 1140
    assert app.test_client().get(f"/s/{pickup_store.slug}/stores?lat=abc&lng=").status_code \
        == 200


def test_switching_store_keeps_what_exists_there_and_names_the_rest(app, chain, pickup_store,
                                                                      customer):
    near = make_store(app, chain, "lake", "Lake Side")
    prepare_store(app, near, lat=30.26, lng=120.17)
    set_plugin_enabled(app, near, "pickup")
    _p, tea = make_goods(app, chain, [pickup_store, near])
    _p, cup = make_goods(app, chain, [pickup_store], sku="CUP", title="Cup")
    client = app.test_client()
    login(client, customer, store=pickup_store)
    for variant in (tea, cup):
        client.post(f"/s/{pickup_store.slug}/cart/add", data={"variant_id": variant})
    finder_html = client.get(f"/s/{pickup_store.slug}/stores").get_data(as_text=True)
    assert "Not available here: Cup" in finder_html
    moved = client.post(f"/s/{pickup_store.slug}/stores/switch", data={"to": "lake"},
                        follow_redirects=True)
    html = moved.get_data(as_text=True)
    assert "Not available at Lake Side, so not in your cart there: Cup" in html
    with in_app(app):
        cart = db.session.query(Cart).filter_by(store_id=near.id).one()
        assert [line.variant_id for line in cart.lines] == [tea]
    assert client.post(f"/s/{pickup_store.slug}/stores/switch",
                       data={"to": "rival-one"}).status_code == 404


def test_hq_report_counts_pickups_and_no_shows_for_its_chain_only(
        app, chain, pickup_store, customer, clerk, hq_user, other_chain):
    _p, tea = make_goods(app, chain, [pickup_store], stock=20)
    collected = ready_order(app, pickup_store, customer, {tea: 1}, clerk)
    ready_order(app, pickup_store, customer, {tea: 1}, clerk)  # will be a no-show
    client = app.test_client()
    login(client, clerk, store=pickup_store)
    with in_app(app):
        line_id = service.pickup_of(collected).lines[0].id
    with clock.frozen(NOW):
        client.post(f"/s/{pickup_store.slug}/manage/pickup/verify",
                    data={"code": code_for(app, collected), "action": "collect",
                          f"qty_{line_id}": 1})
    with app.test_request_context():
        deadlines.tick(NOW + timedelta(days=7, minutes=1))
        db.session.remove()
    hq = app.test_client()
    login(hq, hq_user, chain=chain)
    with clock.frozen(NOW + timedelta(days=8)):
        html = hq.get(f"/hq/{chain.slug}/pickup/").get_data(as_text=True)
    row = html.split('data-store="north"')[1].split("</tr>")[0]
    assert "<td>1</td><td>1</td>" in row and "50.0%" in row
    assert hq.get(f"/hq/{other_chain.slug}/pickup/").status_code == 404


def test_wrong_code_limit_is_shared_through_redis_when_configured(tmp_path):
    """Two app processes (here: two apps) count one clerk's wrong codes together in Redis."""
    import os
    import uuid

    import redis

    from shopbuilder import create_app
    from shopbuilder.testing import make_chain, make_test_config, reset_database

    url = os.environ.get("SHOPBUILDER_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    config = make_test_config("sqlite:///" + str(tmp_path / "r.sqlite3"), str(tmp_path / "i"),
                              REDIS_URL=url, RATELIMIT_ENABLED=True,
                              RATELIMIT_KEY_PREFIX=f"pickup-test-{uuid.uuid4().hex}",
                              PICKUP_VERIFY_LIMIT="3 per 10 minutes")
    first, second = create_app(config), create_app(config)
    reset_database(first)
    chain = make_chain(first)
    store = make_store(first, chain, "north")
    prepare_store(first, store)
    set_plugin_enabled(first, store, "pickup")
    clerk = make_staff(first, "clerk@north.test", chain, store, "clerk")
    answers = []
    for application in (first, second, first, second):
        client = application.test_client()
        login(client, clerk, store=store)
        answers.append(client.post(f"/s/{store.slug}/manage/pickup/verify",
                                   data={"code": "000000000000"}).status_code)
    assert answers == [404, 404, 404, 429]


def test_prepare_returns_to_the_day_shown_but_never_outside_the_store(
        app, chain, pickup_store, customer, clerk):
    from .helpers import pay, place_pickup

    _p, tea = make_goods(app, chain, [pickup_store], stock=10)
    client = app.test_client()
    login(client, clerk, store=pickup_store)
    today = f"/s/{pickup_store.slug}/manage/pickup/"
    for back, lands in ((f"{today}?day=2026-11-28", f"{today}?day=2026-11-28"),
                        ("https://evil.example/phish", today), ("//evil.example/", today),
                        ("/s/south/manage/", today), ("/\\evil.example", today)):
        order_id = place_pickup(app, pickup_store, customer, {tea: 1})
        pay(app, pickup_store, order_id)
        with in_app(app):
            pickup_id = service.pickup_of(order_id).id
        with clock.frozen(NOW):
            answer = client.post(f"{today}{pickup_id}/prepare", data={"back": back})
        assert answer.status_code == 302 and answer.location == lands, back


def test_console_shows_booked_places_of_each_slot(app, chain, pickup_store, customer, clerk):
    from .helpers import first_key, place_pickup

    _p, tea = make_goods(app, chain, [pickup_store], stock=10)
    for _ in range(2):
        place_pickup(app, pickup_store, customer, {tea: 1}, key=first_key(2))
    place_pickup(app, pickup_store, customer, {tea: 1}, key=first_key(3))
    client = app.test_client()
    login(client, clerk, store=pickup_store)
    with clock.frozen(NOW):
        html = client.get(f"/s/{pickup_store.slug}/manage/pickup/").get_data(as_text=True)
    eleven = html.split("11:00")[1].split("<table")[0]
    noon = html.split("12:00")[1].split("<table")[0]
    assert "2 of 10 places booked" in eleven and "1 of 10 places booked" in noon


def test_code_of_an_expired_pickup_says_it_was_not_collected_in_time(
        app, chain, pickup_store, customer, clerk):
    _p, tea = make_goods(app, chain, [pickup_store])
    order_id = ready_order(app, pickup_store, customer, {tea: 1}, clerk)
    with app.test_request_context():
        deadlines.tick(NOW + timedelta(days=7, minutes=1))
        db.session.remove()
    client = app.test_client()
    login(client, clerk, store=pickup_store)
    answer = client.post(f"/s/{pickup_store.slug}/manage/pickup/verify",
                         data={"code": code_for(app, order_id)})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 409
    assert "not collected in time" in text and "was cancelled" not in text


def test_slots_and_days_follow_the_deployments_time_zone(app, chain, pickup_store):
    from shopbuilder_pickup import slots

    with in_store(app, pickup_store) as row:
        shanghai = slots.available_slots(row)[0]
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Europe/Berlin"
    with in_store(app, pickup_store) as row:
        berlin = slots.available_slots(row)[0]
    # NOW is 09:00 in Shanghai (an hour's lead: the first slot at 10:00) and 02:00 in Berlin,
    # where the store opens at 09:00 Berlin time, 08:00 UTC.
    assert (shanghai.local_start.hour, berlin.local_start.hour) == (10, 9)
    assert (shanghai.start.hour, berlin.start.hour) == (2, 8)
