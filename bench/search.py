"""The storefront search page against hello-world, and with 2,000 stores against 10.

Run: .venv/bin/python bench/search.py [--seconds 8 --rounds 3]
Writes bench/results/search.json.

Two SQLite databases hold the same catalogue (``bench/catalogue_dataset.py``: 5,000
master products x 3 variants with Chinese and English titles, each published to all
stores through one row); they differ only in the number of stores (2,000 and 10). On
top, 50 products are also published store by store to every store with their own
price, as HQ does with *Publish to chosen stores*: 100,000 publication rows with 2,000
stores, 500 with 10. That is the case that made search slow, because finding the
publication that reaches one store meant reading all of a product's rows.

Queries, as a customer types them on ``/s/<store>/search``: ``龙井`` (about 960 matches),
``green`` sorted by price (about 840 matches, some of the 50 among them) and an empty
query sorted by newest (every product). Served by gunicorn, 2 sync workers; search
pages are never cached, so every request runs its SQL.

1. Each query on the 2,000-store database against the bare Flask hello-world,
   measured alternately in the same run (the noise baseline of every benchmark).
2. Each query, 2,000 stores against 10, with 2 connections (queueing would hide
   service time). Target: latency ratio (p50, 2,000 / 10) <= 1.2.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import harness

sys.path.insert(0, str(harness.REPO_ROOT))

PRODUCTS = 5_000
STORE_BY_STORE = 50
QUERIES = {
    "longjing": {"q": "龙井"},
    "green_by_price": {"q": "green", "sort": "price_asc"},
    "everything_newest": {"q": "", "sort": "newest"},
}


def build_database(folder: Path, stores: int, products: int = PRODUCTS) -> tuple[Path, str]:
    """The catalogue dataset plus per-store publications; returns (path, measured store)."""
    from catalogue_dataset import build_dataset
    from sqlalchemy import select

    from shopbuilder import create_app, tenancy
    from shopbuilder.extensions import db
    from shopbuilder.models import Product, Store
    from shopbuilder.services import catalogue as service
    from shopbuilder.testing import make_test_config, reset_database

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "shop.sqlite3"
    (folder / "config.py").write_text(f"SECRET_KEY = {os.urandom(16).hex()!r}\n")
    app = create_app(make_test_config(f"sqlite:///{path}", str(folder)))
    reset_database(app)
    info = build_dataset(app, products=products, variants=3, stores=stores)
    with app.test_request_context(), tenancy.scope(tenancy.TenantScope(info["chain_id"], None)):
        store_ids = list(db.session.scalars(select(Store.id)))
        for product_id in info["product_ids"][:STORE_BY_STORE]:
            service.publish(db.session.get(Product, product_id), "store", store_ids=store_ids,
                            price_fen=999)
        db.session.commit()
    with app.app_context():
        db.engine.dispose()
    con = sqlite3.connect(path)
    con.execute("ANALYZE")
    con.close()
    return path, info["first_store_slug"]


def shop_env(folder: Path, path: Path) -> dict:
    return {
        "SHOPBUILDER_DATABASE_URL": f"sqlite:///{path}",
        "SHOPBUILDER_INSTANCE_PATH": str(folder),
    }


def search_path(slug: str, params: dict) -> str:
    return f"/s/{slug}/search?" + urllib.parse.urlencode(params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--products", type=int, default=PRODUCTS,
                        help="smaller for a quick smoke run; results then mean little")
    args = parser.parse_args()

    def measure(url, connections=args.connections):
        return lambda: harness.measure_rps(url, seconds=args.seconds, connections=connections)

    tmp = Path(tempfile.mkdtemp(prefix="search-bench-"))
    started = time.monotonic()
    big, slug = build_database(tmp / "stores2000", 2_000, args.products)
    small, slug_small = build_database(tmp / "stores10", 10, args.products)
    assert slug == slug_small, (slug, slug_small)
    build_seconds = round(time.monotonic() - started, 1)
    paths = {name: search_path(slug, params) for name, params in QUERIES.items()}
    first = next(iter(paths.values()))

    with (
        harness.serve("wsgi:app", env=shop_env(tmp / "stores2000", big), ready_path=first) as many,
        harness.serve("wsgi:app", env=shop_env(tmp / "stores10", small), ready_path=first) as few,
        harness.serve(harness.HELLO) as hello,
    ):
        versus_hello = harness.interleaved(
            [*((name, measure(many + path)) for name, path in paths.items()),
             ("hello", measure(hello + "/"))],
            rounds=args.rounds,
        )
        scale = {
            name: harness.interleaved(
                [(f"{name}_2000_stores", measure(many + path, 2)),
                 (f"{name}_10_stores", measure(few + path, 2))], rounds=args.rounds)
            for name, path in paths.items()
        }

    def latency_ratio(name):
        median = scale[name]["median"]
        return round(median[f"{name}_2000_stores"]["latency_p50_ms"]
                     / median[f"{name}_10_stores"]["latency_p50_ms"], 3)

    result = {
        "ratio": versus_hello["ratio"],
        "ratio_spread": versus_hello["ratio_spread"],
        "median": versus_hello["median"],
        "baseline": "hello",
        "targets": {"latency_ratio_2000_vs_10": 1.2},
        "latency_ratio_2000_vs_10": {name: latency_ratio(name) for name in paths},
        "versus_hello": versus_hello,
        "scale": scale,
        "setup": {
            "target": "wsgi:app, gunicorn sync, 2 workers, SQLite; " + ", ".join(paths.values()),
            "baseline": "hello:app (bench/hello.py), gunicorn sync, 2 workers",
            "catalogue": f"{args.products} products x 3 variants (bench/catalogue_dataset.py), "
                         f"published to all stores; {STORE_BY_STORE} of them also published "
                         "store by store to every store with their own price",
            "scale_runs": "2 connections, search pages are not cached",
            "database_build_seconds": build_seconds,
            "seconds": args.seconds,
            "connections": args.connections,
        },
    }
    harness.write_result("search", result)


if __name__ == "__main__":
    main()
