"""The store finder over a large chain: the nearest stores, read a box at a time."""

from __future__ import annotations

import random
import re

import pytest

from shopbuilder import tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Store
from shopbuilder.testing import in_app, make_store, set_plugin_enabled, set_plugin_policy
from shopbuilder_pickup import finder

from .helpers import HOURS, make_goods, prepare_store

#: SQL that must mean the same on both databases (box filters, CASE buckets, GROUP BY).
pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)

HANGZHOU = (30.25, 120.16)


def many_stores(app, chain, count, seed=7, spread=3.0, **fields):
    """``count`` pickup stores scattered up to ``spread`` degrees around Hangzhou."""
    rnd = random.Random(seed)
    with in_app(app), tenancy.unscoped():
        rows = [Store(chain_id=chain.id, slug=f"s{seed}-{i}", name=f"Store {i:03d}",
                      city=f"City {i % 4}", address=f"{i} Road", opening_hours=HOURS,
                      lat=HANGZHOU[0] + rnd.uniform(-spread, spread),
                      lng=HANGZHOU[1] + rnd.uniform(-spread, spread), **fields)
                for i in range(count)]
        db.session.add_all(rows)
        db.session.commit()
        return [(row.id, row.lat, row.lng) for row in rows]


def test_nearest_stores_are_the_truly_nearest_ones_of_a_large_chain(app, chain):
    set_plugin_policy(app, chain, "pickup", "forced")
    stores = many_stores(app, chain, 120)
    for lat, lng in (HANGZHOU, (31.9, 118.5), (45.0, 100.0)):  # centre, edge, far outside
        expected = sorted(stores, key=lambda s: finder.haversine_km(lat, lng, s[1], s[2]))
        with app.test_request_context():
            found = finder.nearest(chain.id, lat, lng, limit=10)
            loaded = [o for o in db.session.identity_map.values() if isinstance(o, Store)]
        assert [f.store.id for f in found] == [s[0] for s in expected[:10]]
        assert [round(f.distance_km, 3) for f in found] == sorted(
            round(f.distance_km, 3) for f in found)
        # Only the stores shown were loaded, not the chain's 120.
        assert len(loaded) <= 10


def test_stores_without_coordinates_fill_the_list_only_when_too_few_are_located(app, chain):
    set_plugin_policy(app, chain, "pickup", "forced")
    many_stores(app, chain, 3)
    make_store(app, chain, "nowhere", "Nowhere Shop", address="Somewhere")
    with app.test_request_context():
        slugs = [f.store.slug for f in finder.nearest(chain.id, *HANGZHOU, limit=5)]
        assert slugs[-1] == "nowhere" and len(slugs) == 4  # the 3 located ones first
        assert "nowhere" not in [f.store.slug
                                 for f in finder.nearest(chain.id, *HANGZHOU, limit=2)]


def test_without_a_location_the_stores_near_the_one_browsed_come_first(app, chain,
                                                                        pickup_store):
    near = make_store(app, chain, "lake", "Lake Side")
    far = make_store(app, chain, "bj", "Beijing One")
    prepare_store(app, near, lat=30.26, lng=120.17)
    prepare_store(app, far, lat=39.90, lng=116.40, city="Beijing")
    for s in (near, far):
        set_plugin_enabled(app, s, "pickup")
    html = app.test_client().get(f"/s/{far.slug}/stores").get_data(as_text=True)
    order = [html.index(f'data-store="{slug}"') for slug in ("bj", "lake")]
    assert order == sorted(order)
    assert "km away" not in html  # distances from a store are not the customer's


def test_city_chooser_lists_each_city_of_the_pickup_stores_once(app, chain, pickup_store):
    set_plugin_policy(app, chain, "pickup", "forced")
    many_stores(app, chain, 12)
    make_store(app, chain, "closed-for-good", "Gone", city="Ghost Town", status="suspended")
    html = app.test_client().get(f"/s/{pickup_store.slug}/stores").get_data(as_text=True)
    chooser = html.split('name="city"')[1].split("</select>")[0]
    options = re.findall(r"<option[^>]*>([^<]+)</option>", chooser)
    assert options == ["—", "City 0", "City 1", "City 2", "City 3", "Hangzhou"]


def test_switching_to_a_store_without_pickup_is_not_found(app, chain, pickup_store,
                                                          other_store, customer):
    prepare_store(app, other_store, lat=30.26, lng=120.17)
    _p, tea = make_goods(app, chain, [pickup_store, other_store])
    client = app.test_client()
    login_and_add(client, customer, pickup_store, tea)
    answer = client.post(f"/s/{pickup_store.slug}/stores/switch", data={"to": other_store.slug})
    assert answer.status_code == 404
    set_plugin_enabled(app, other_store, "pickup")
    moved = client.post(f"/s/{pickup_store.slug}/stores/switch", data={"to": other_store.slug})
    assert moved.status_code == 302 and f"/s/{other_store.slug}/cart" in moved.location


def login_and_add(client, customer, store, variant_id):
    from shopbuilder.testing import login

    login(client, customer, store=store)
    client.post(f"/s/{store.slug}/cart/add", data={"variant_id": variant_id})


def test_product_page_links_to_the_finder_for_that_product_where_pickup_is_on(
        app, chain, pickup_store, other_store):
    product_id, _variant = make_goods(app, chain, [pickup_store, other_store])
    page = app.test_client().get(f"/s/{pickup_store.slug}/p/{product_id}").get_data(as_text=True)
    link = re.search(r'class="pickup-finder-link"><a href="([^"]+)"', page)
    assert link is not None
    href = link.group(1).replace("&amp;", "&")
    assert href == f"/s/{pickup_store.slug}/stores?product_id={product_id}"
    finder_page = app.test_client().get(href).get_data(as_text=True)
    assert "In stock here" in finder_page
    elsewhere = app.test_client().get(f"/s/{other_store.slug}/p/{product_id}")
    assert elsewhere.status_code == 200
    assert "pickup-finder-link" not in elsewhere.get_data(as_text=True)
