"""Storefront pages against hello-world, and with 2,000 stores against 10.

Run: .venv/bin/python bench/storefront_pages.py [--seconds 8 --rounds 3]
Writes bench/results/storefront_pages.json.

Two SQLite databases hold the same catalogue, 5,000 master products x 3 variants in
10 categories, all published to every store; they differ only in the number of stores
(2,000 and 10). The measured store lists all 15,000 variants; every other store has
20 listing rows (stock is sparse, as in the design). Served by gunicorn, 2 sync workers.

1. Product page and category listing (2,000-store database, the default in-process
   cache) against the bare Flask hello-world, measured alternately in the same run.
   Targets: product >= 0.35, listing >= 0.25 of hello-world's requests/s.
2. The same two pages, 2,000 stores against 10 stores, with the default cache and with
   the cache switched off (``CACHE_TYPE = "NullCache"``, so every request runs its SQL).
   Target: latency ratio (p50, 2,000 / 10) <= 1.2 for both pages.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import harness

sys.path.insert(0, str(harness.REPO_ROOT))

PRODUCTS = 5_000
VARIANTS = 3
CATEGORIES = 10
STORE_SLUG = "store-00000"


def build_database(folder: Path, stores: int, products: int = PRODUCTS) -> Path:
    """Create the schema with the app, then fill it with plain executemany (fast)."""
    from shopbuilder import create_app
    from shopbuilder.extensions import db

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "shop.sqlite3"
    (folder / "config.py").write_text(f"SECRET_KEY = {os.urandom(16).hex()!r}\n")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "x"})
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    now = "2026-01-01 00:00:00.000000"
    con = sqlite3.connect(path)
    with con:
        con.execute(
            "INSERT INTO chain (id, slug, name, currency, locale, royalty_bp, settings, "
            "created_at) VALUES (1, 'bench', 'Bench Tea', 'CNY', 'zh_CN', 0, ?, ?)",
            ('{"theme": {"values": {"name": "classic"}, "locked": []}}', now),
        )
        con.executemany(
            "INSERT INTO store (id, chain_id, slug, name, status, address, city, phone, "
            "opening_hours, description, settings, created_at) "
            "VALUES (?, 1, ?, ?, 'active', 'Road 1', ?, '0571-1', '{}', '', '{}', ?)",
            [(i + 1, f"store-{i:05d}", f"Store {i}", f"city-{i % 50}", now)
             for i in range(stores)],
        )
        con.executemany(
            "INSERT INTO category (id, chain_id, slug, name, position) VALUES (?, 1, ?, ?, ?)",
            [(i + 1, f"cat-{i}", f"Category {i}", i) for i in range(CATEGORIES)],
        )
        con.executemany(
            "INSERT INTO product (id, chain_id, store_id, category_id, title, description, "
            "status, created_at) VALUES (?, 1, NULL, ?, ?, 'Bench product', 'active', ?)",
            [(p + 1, p % CATEGORIES + 1, f"Tea {p}", now) for p in range(products)],
        )
        con.executemany(
            "INSERT INTO publication (chain_id, product_id, target, created_at) "
            "VALUES (1, ?, 'all', ?)",
            [(p + 1, now) for p in range(products)],
        )
        con.executemany(
            "INSERT INTO variant (id, chain_id, product_id, sku, options, price_fen, position) "
            "VALUES (?, 1, ?, ?, ?, ?, ?)",
            [(p * VARIANTS + v + 1, p + 1, f"SKU-{p}-{v}", f'{{"size": "{v}"}}',
              1000 + (p * 37 + v * 101) % 9000, v)
             for p in range(products) for v in range(VARIANTS)],
        )
        variants = products * VARIANTS
        rows = [(1, vid, 10) for vid in range(1, variants + 1)]
        rows += [(s, (s * 7 + k) % variants + 1, 3) for s in range(2, stores + 1)
                 for k in range(20)]
        con.executemany(
            "INSERT OR IGNORE INTO store_listing (chain_id, store_id, variant_id, "
            "stock_on_hand, reserved) VALUES (1, ?, ?, ?, 0)",
            rows,
        )
    con.execute("ANALYZE")
    con.close()
    return path


def shop_env(folder: Path, path: Path) -> dict:
    return {
        "SHOPBUILDER_DATABASE_URL": f"sqlite:///{path}",
        "SHOPBUILDER_INSTANCE_PATH": str(folder),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    def measure(url):
        return lambda: harness.measure_rps(url, seconds=args.seconds,
                                           connections=args.connections)

    tmp = Path(tempfile.mkdtemp(prefix="sf-bench-"))
    started = time.monotonic()
    big = build_database(tmp / "stores2000", 2_000)
    small = build_database(tmp / "stores10", 10)
    nocache_big, nocache_small = tmp / "nocache2000", tmp / "nocache10"
    for folder, source in ((nocache_big, tmp / "stores2000"), (nocache_small, tmp / "stores10")):
        folder.mkdir()
        (folder / "config.py").write_text(
            (source / "config.py").read_text() + 'CACHE_TYPE = "NullCache"\n'
        )
    build_seconds = round(time.monotonic() - started, 1)
    product = f"/s/{STORE_SLUG}/p/2500"
    listing = f"/s/{STORE_SLUG}/c/cat-3"

    def scale(server_many, server_few, connections):
        def m(url):
            return lambda: harness.measure_rps(url, seconds=args.seconds, connections=connections)

        return {
            "product": harness.interleaved(
                [("product_2000_stores", m(server_many + product)),
                 ("product_10_stores", m(server_few + product))], rounds=args.rounds),
            "listing": harness.interleaved(
                [("listing_2000_stores", m(server_many + listing)),
                 ("listing_10_stores", m(server_few + listing))], rounds=args.rounds),
        }

    with (
        harness.serve("wsgi:app", env=shop_env(tmp / "stores2000", big),
                      ready_path=product) as shop,
        harness.serve("wsgi:app", env=shop_env(tmp / "stores10", small),
                      ready_path=product) as shop_few,
        harness.serve(harness.HELLO) as hello,
    ):
        versus_hello = harness.interleaved(
            [("product", measure(shop + product)), ("listing", measure(shop + listing)),
             ("hello", measure(hello + "/"))],
            rounds=args.rounds,
        )
        cached_scale = scale(shop, shop_few, args.connections)
    with (
        harness.serve("wsgi:app", env=shop_env(nocache_big, big), ready_path=product) as b,
        harness.serve("wsgi:app", env=shop_env(nocache_small, small), ready_path=product) as s,
    ):
        # Few connections: uncached pages are slow, and queueing would hide service time.
        uncached_scale = scale(b, s, 2)

    def latency_ratio(result, many, few):
        m = result["median"]
        return round(m[many]["latency_p50_ms"] / m[few]["latency_p50_ms"], 3)

    result = {
        "ratio": versus_hello["ratio"],
        "ratio_spread": versus_hello["ratio_spread"],
        "median": versus_hello["median"],
        "baseline": "hello",
        "targets": {"product": 0.35, "listing": 0.25, "latency_ratio_2000_vs_10": 1.2},
        "versus_hello": versus_hello,
        "scale": {
            mode: {
                "product_latency_ratio_2000_vs_10": latency_ratio(
                    runs["product"], "product_2000_stores", "product_10_stores"),
                "listing_latency_ratio_2000_vs_10": latency_ratio(
                    runs["listing"], "listing_2000_stores", "listing_10_stores"),
                **runs,
            }
            for mode, runs in (("cached", cached_scale), ("uncached", uncached_scale))
        },
        "setup": {
            "target": f"wsgi:app, gunicorn sync, 2 workers, SQLite; {product} and {listing}",
            "baseline": "hello:app (bench/hello.py), gunicorn sync, 2 workers",
            "catalogue": f"{PRODUCTS} products x {VARIANTS} variants, {CATEGORIES} categories, "
                         "published to all stores; measured store lists every variant, "
                         "others 20 listing rows each",
            "listing_page": "category of 500 products, default sort, page 1 of 21 (24 per page)",
            "scale_runs": "cached: the default in-process cache (catalogue and page cache); "
                          "uncached: CACHE_TYPE NullCache, every request runs its SQL, "
                          "2 connections",
            "database_build_seconds": build_seconds,
            "seconds": args.seconds,
            "connections": args.connections,
        },
    }
    harness.write_result("storefront_pages", result)


if __name__ == "__main__":
    main()
