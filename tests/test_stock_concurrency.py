"""Stock sync and order reservations at the same time, in several processes.

Orders reserve with the conditional UPDATE the design prescribes
(``reserved = reserved + 1 WHERE stock_on_hand - reserved >= 1``); tills sync
stock through the service at the same time. Whatever interleaving happens,
no reservation may be lost and ``reserved <= stock_on_hand`` must hold.
"""

from __future__ import annotations

import multiprocessing
import random

import pytest
import sqlalchemy as sa
from catalogue_helpers import make_product, set_listing, variant_id

from shopbuilder.testing import in_app

RESERVERS = 3
SYNCERS = 2
ATTEMPTS = 40


def reserve_worker(url, store_id, vid, attempts, queue):
    """Place ``attempts`` one-unit reservations; report how many succeeded."""
    engine = sa.create_engine(url)
    won = 0
    try:
        for _ in range(attempts):
            with engine.begin() as conn:
                result = conn.execute(sa.text(
                    "UPDATE store_listing SET reserved = reserved + 1 "
                    "WHERE store_id = :s AND variant_id = :v AND stock_on_hand - reserved >= 1"
                ), {"s": store_id, "v": vid})
                won += result.rowcount
        queue.put(("reserved", won))
    except Exception as exc:  # reported to the test, which fails on it
        queue.put(("error", repr(exc)))
    finally:
        engine.dispose()


def sync_worker(url, instance, store_id, seed, rounds, queue):
    """Send stock batches (absolute and delta) through the real sync service."""
    from shopbuilder import create_app, tenancy
    from shopbuilder.extensions import db
    from shopbuilder.models import Store
    from shopbuilder.services import catalogue as service
    from shopbuilder.testing import make_test_config

    app = create_app(make_test_config(url, instance))
    rng = random.Random(seed)
    statuses = []
    try:
        with app.test_request_context():
            for n in range(rounds):
                with tenancy.unscoped():
                    store = db.session.get(Store, store_id)
                with tenancy.store_scope(store):
                    mode = rng.choice(["absolute", "delta"])
                    stock = rng.randint(0, 30) if mode == "absolute" else rng.randint(-5, 10)
                    status, _body = service.sync_stock(store, {
                        "request_id": f"{seed}-{n}", "mode": mode,
                        "items": [{"sku": "HOT-1", "stock": stock}],
                    })
                    statuses.append(status)
                db.session.remove()
        queue.put(("synced", statuses))
    except Exception as exc:
        queue.put(("error", repr(exc)))
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_sync_and_reservations_never_lose_a_reservation(app, chain, store, tmp_path):
    make_product(app, chain, "Hot item", skus=[("HOT-1", "10")], publish="all")
    set_listing(app, store, "HOT-1", stock_on_hand=20, reserved=0)
    vid = variant_id(app, "HOT-1")
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=reserve_worker, args=(url, store.id, vid, ATTEMPTS, queue))
             for _ in range(RESERVERS)]
    procs += [ctx.Process(target=sync_worker,
                          args=(url, str(tmp_path / f"i{i}"), store.id, i, 15, queue))
              for i in range(SYNCERS)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    errors = [r for r in results if r[0] == "error"]
    assert not errors, errors
    reserved_total = sum(r[1] for r in results if r[0] == "reserved")
    statuses = [s for r in results if r[0] == "synced" for s in r[1]]
    assert set(statuses) <= {200, 422, 503}
    assert 200 in statuses
    with in_app(app) as session:
        on_hand, reserved = session.execute(sa.text(
            "SELECT stock_on_hand, reserved FROM store_listing WHERE variant_id = :v"
        ), {"v": vid}).one()
    assert reserved == reserved_total
    assert 0 <= reserved <= on_hand


def same_request_worker(url, instance, store_id, queue):
    from shopbuilder import create_app, tenancy
    from shopbuilder.extensions import db
    from shopbuilder.models import Store
    from shopbuilder.services import catalogue as service
    from shopbuilder.testing import make_test_config

    app = create_app(make_test_config(url, instance))
    try:
        with app.test_request_context():
            with tenancy.unscoped():
                store = db.session.get(Store, store_id)
            with tenancy.store_scope(store):
                status, body = service.sync_stock(store, {
                    "request_id": "twice", "mode": "delta",
                    "items": [{"sku": "HOT-1", "stock": 5}],
                })
        queue.put(("answer", status, body))
    except Exception as exc:
        queue.put(("error", repr(exc), None))
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_the_same_request_sent_twice_at_once_changes_stock_once(app, chain, store, tmp_path):
    make_product(app, chain, "Hot item", skus=[("HOT-1", "10")], publish="all")
    set_listing(app, store, "HOT-1", stock_on_hand=10, reserved=0)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=same_request_worker,
                         args=(url, str(tmp_path / f"s{i}"), store.id, queue)) for i in range(3)]
    for proc in procs:
        proc.start()
    answers = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    assert not [a for a in answers if a[0] == "error"], answers
    # A retry after a 503 replays the stored answer.
    statuses = [a[1] for a in answers]
    assert 200 in statuses and set(statuses) <= {200, 503}
    bodies = [a[2] for a in answers if a[1] == 200]
    assert all(body == bodies[0] for body in bodies)
    with in_app(app) as session:
        on_hand = session.execute(sa.text("SELECT stock_on_hand FROM store_listing")).scalar()
    assert on_hand == 15
