"""Storefront pages against hello-world over many URLs, page cache on and off; 2,000 stores vs 10.

Run: .venv/bin/python bench/storefront_pages.py [--seconds 8 --rounds 3 --warm-passes 4]
Writes bench/results/storefront_pages.json.

Two SQLite databases hold the same catalogue, 5,000 master products x 3 variants in
10 categories, all published to every store; they differ only in the number of stores
(2,000 and 10). The first 4 stores list all 15,000 variants; every other store has 20
listing rows (stock is sparse, as in the design). Served by gunicorn, 2 sync workers,
the default configuration (in-process cache, its default size).

1. Many URLs, the figures quoted against the targets. wrk rotates through a shuffled
   list of paths (``storefront_urls.lua``): 1,000 product pages (250 products in each of
   the 4 full stores) and 480 listing pages (4 stores x 10 categories x 4 sorts x pages
   1-3). Measured alternately in the same rounds, with the same connections:
   ``product_many`` and ``listing_many`` (whole-page cache on, warmed first by rotating
   through the lists for ``--warm-seconds``), ``product_many_no_page_cache`` and
   ``listing_many_no_page_cache`` (``STOREFRONT_PAGE_CACHE_DISABLED``: every request
   renders its page, the catalogue cache still on), and the bare Flask hello-world.
   Entries expire after ``CATALOGUE_CACHE_SECONDS`` (60 s) as deployed, so a run longer
   than a minute includes the re-rendering of expired pages.
   Targets: product_many >= 0.35, listing_many >= 0.25 of hello-world's requests/s.
2. Scale: one product and one listing URL, 2,000 stores against 10 stores, with the
   default cache and with the cache switched off (``CACHE_TYPE = "NullCache"``, so every
   request runs its SQL). Target: latency ratio (p50, 2,000 / 10) <= 1.2 for both pages.
3. Memory: each gunicorn worker's resident size after the many-URL runs, page cache on
   and off, and the bytes of HTML the URL lists hold (what the page cache keeps).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import harness

sys.path.insert(0, str(harness.REPO_ROOT))

PRODUCTS = 5_000
VARIANTS = 3
CATEGORIES = 10
STORE_SLUG = "store-00000"
#: Stores that list every variant: the many-URL runs spread over them.
FULL_STORES = 4
PRODUCTS_PER_STORE = 250
SORTS = ("default", "price_asc", "price_desc", "newest")
LISTING_PAGES = 3
URL_SCRIPT = harness.BENCH_DIR / "storefront_urls.lua"
REPORT_SCRIPT = harness.WRK_SCRIPT


def build_database(folder: Path, stores: int, products: int = PRODUCTS,
                   full_stores: int = 1) -> Path:
    """Create the schema with the app, then fill it with plain executemany (fast).

    The first ``full_stores`` stores list every variant; the others 20 each.
    """
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
            "status, created_at, search_text) "
            "VALUES (?, 1, NULL, ?, ?, 'Bench product', 'active', ?, ?)",
            [(p + 1, p % CATEGORIES + 1, f"Tea {p}", now, f"tea {p}") for p in range(products)],
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
        full = min(full_stores, stores)
        rows = [(s, vid, 10) for s in range(1, full + 1) for vid in range(1, variants + 1)]
        rows += [(s, (s * 7 + k) % variants + 1, 3) for s in range(full + 1, stores + 1)
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


def instance_copy(folder: Path, source: Path, extra_config: str) -> Path:
    """Another instance folder on the same database, its config with ``extra_config``."""
    folder.mkdir()
    (folder / "config.py").write_text((source / "config.py").read_text() + extra_config)
    return folder


def url_lists(folder: Path) -> dict[str, Path]:
    """The shuffled product and listing paths of the many-URL runs, one file each."""
    stores = [f"store-{i:05d}" for i in range(FULL_STORES)]
    step = PRODUCTS // (PRODUCTS_PER_STORE * FULL_STORES)
    products = [f"/s/{stores[i % FULL_STORES]}/p/{i * step + 1}"
                for i in range(PRODUCTS_PER_STORE * FULL_STORES)]
    listings = [
        f"/s/{store}/c/cat-{c}" + ("" if (sort, page) == ("default", 1) else "?" + "&".join(
            part for part in ((f"sort={sort}" if sort != "default" else ""),
                              (f"page={page}" if page > 1 else "")) if part))
        for store in stores for c in range(CATEGORIES) for sort in SORTS
        for page in range(1, LISTING_PAGES + 1)
    ]
    files = {}
    for name, paths in (("products", products), ("listings", listings)):
        random.Random(name).shuffle(paths)
        files[name] = folder / f"{name}.txt"
        files[name].write_text("\n".join(paths) + "\n")
    return files


def measure_many(base: str, paths: Path, seconds: float, connections: int,
                 warmup: float = 2) -> dict:
    """``harness.measure_rps`` with wrk rotating through the paths in ``paths``."""
    os.environ["STOREFRONT_BENCH_URLS"] = str(paths)
    os.environ["STOREFRONT_BENCH_REPORT"] = str(REPORT_SCRIPT)
    harness.WRK_SCRIPT = URL_SCRIPT
    try:
        result = harness.measure_rps(base + "/", seconds=seconds, connections=connections,
                                     warmup=warmup)
    finally:
        harness.WRK_SCRIPT = REPORT_SCRIPT
    result["url"] = f"{base} + {paths.name} ({len(paths.read_text().split())} paths)"
    return result


def html_bytes(base: str, paths: Path) -> dict:
    """How much HTML the pages of a list are: what a page cache holding them all keeps."""
    sizes = []
    for path in paths.read_text().split():
        with urllib.request.urlopen(base + path, timeout=30) as response:
            sizes.append(len(response.read()))
    return {"pages": len(sizes), "total_kb": round(sum(sizes) / 1024),
            "mean_kb": round(sum(sizes) / len(sizes) / 1024, 1)}


def worker_rss_mb(base: str) -> list[float]:
    """Resident memory of the gunicorn workers serving ``base`` (children of the master)."""
    bind = f"--bind={base.removeprefix('http://')}"
    found: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if bind.encode() not in (entry / "cmdline").read_bytes().split(b"\0"):
                continue
            status = dict(line.split(":", 1) for line in
                          (entry / "status").read_text().splitlines() if ":" in line)
        except OSError:
            continue
        found[int(entry.name)] = (int(status["PPid"]), int(status["VmRSS"].split()[0]) / 1024)
    return sorted(round(rss, 1) for ppid, rss in found.values() if ppid in found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--warm-seconds", type=float, default=20,
                        help="Rotate through each URL list at least this long first.")
    parser.add_argument("--warm-passes", type=float, default=4,
                        help="...and until each path was asked this many times on average.")
    parser.add_argument("--warm-max-seconds", type=float, default=240,
                        help="...but no longer than this per list and shop.")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sf-bench-"))
    started = time.monotonic()
    big = build_database(tmp / "stores2000", 2_000, full_stores=FULL_STORES)
    small = build_database(tmp / "stores10", 10, full_stores=FULL_STORES)
    no_page_cache = instance_copy(tmp / "nopagecache2000", tmp / "stores2000",
                                  "STOREFRONT_PAGE_CACHE_DISABLED = True\n")
    nocache_big = instance_copy(tmp / "nocache2000", tmp / "stores2000",
                                'CACHE_TYPE = "NullCache"\n')
    nocache_small = instance_copy(tmp / "nocache10", tmp / "stores10",
                                  'CACHE_TYPE = "NullCache"\n')
    lists = url_lists(tmp)
    build_seconds = round(time.monotonic() - started, 1)
    product = f"/s/{STORE_SLUG}/p/2500"
    listing = f"/s/{STORE_SLUG}/c/cat-3"

    def warm(base, name):
        """Rotate through a list until every path was asked ``--warm-passes`` times on
        average (each worker has its own cache) and ``--warm-seconds`` have passed."""
        total = len(lists[name].read_text().split())
        requests, seconds = 0, 0.0
        while (requests < args.warm_passes * total or seconds < args.warm_seconds) \
                and seconds < args.warm_max_seconds:
            run = measure_many(base, lists[name], 10, args.connections, warmup=0)
            requests += run["requests"]
            seconds += run["seconds"]
        return {"requests": requests, "seconds": round(seconds, 1),
                "passes": round(requests / total, 1)}

    def many(base, name):
        return lambda: measure_many(base, lists[name], args.seconds, args.connections)

    def one(url, connections=args.connections):
        return lambda: harness.measure_rps(url, seconds=args.seconds, connections=connections)

    def scale(server_many, server_few, connections):
        return {
            "product": harness.interleaved(
                [("product_2000_stores", one(server_many + product, connections)),
                 ("product_10_stores", one(server_few + product, connections))],
                rounds=args.rounds),
            "listing": harness.interleaved(
                [("listing_2000_stores", one(server_many + listing, connections)),
                 ("listing_10_stores", one(server_few + listing, connections))],
                rounds=args.rounds),
        }

    with (
        harness.serve("wsgi:app", env=shop_env(tmp / "stores2000", big),
                      ready_path=product) as shop,
        harness.serve("wsgi:app", env=shop_env(no_page_cache, big), ready_path=product) as bare,
        harness.serve(harness.HELLO) as hello,
    ):
        sizes = {name: html_bytes(shop, path) for name, path in lists.items()}
        # Entries expire after 60 s: warm what is measured first last.
        warming = {f"{label}_{name}": warm(base, name) for label, base, name in (
            ("page_cache_off", bare, "listings"), ("page_cache_off", bare, "products"),
            ("page_cache_on", shop, "listings"), ("page_cache_on", shop, "products"))}
        versus_hello = harness.interleaved(
            [("product_many", many(shop, "products")), ("listing_many", many(shop, "listings")),
             ("product_many_no_page_cache", many(bare, "products")),
             ("listing_many_no_page_cache", many(bare, "listings")),
             ("hello", one(hello + "/"))],
            rounds=args.rounds,
        )
        memory = {"page_cache_on": worker_rss_mb(shop), "page_cache_off": worker_rss_mb(bare),
                  "hello": worker_rss_mb(hello), "html_of_the_url_lists": sizes}
    with (
        harness.serve("wsgi:app", env=shop_env(tmp / "stores2000", big),
                      ready_path=product) as shop,
        harness.serve("wsgi:app", env=shop_env(tmp / "stores10", small),
                      ready_path=product) as shop_few,
    ):
        cached_scale = scale(shop, shop_few, args.connections)
    with (
        harness.serve("wsgi:app", env=shop_env(nocache_big, big), ready_path=product) as b,
        harness.serve("wsgi:app", env=shop_env(nocache_small, small), ready_path=product) as s,
    ):
        # Few connections: uncached pages are slow, and queueing would hide service time.
        uncached_scale = scale(b, s, 2)

    def latency_ratio(result, many_name, few_name):
        m = result["median"]
        return round(m[many_name]["latency_p50_ms"] / m[few_name]["latency_p50_ms"], 3)

    failures = sum(m["non_2xx_3xx"] + m["socket_errors"]
                   for m in versus_hello["median"].values())
    if failures:
        print(f"WARNING: {failures} failed requests in the many-URL runs: not a valid result")
    from shopbuilder.app import DEFAULT_CACHE_THRESHOLD

    result = {
        "ratio": versus_hello["ratio"],
        "ratio_spread": versus_hello["ratio_spread"],
        "median": versus_hello["median"],
        "baseline": "hello",
        "failed_requests": failures,
        "targets": {"product_many": 0.35, "listing_many": 0.25, "latency_ratio_2000_vs_10": 1.2},
        "versus_hello": versus_hello,
        "memory_mb": memory,
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
            "target": "wsgi:app, gunicorn sync, 2 workers, SQLite, the default configuration",
            "baseline": "hello:app (bench/hello.py), gunicorn sync, 2 workers",
            "catalogue": f"{PRODUCTS} products x {VARIANTS} variants, {CATEGORIES} categories, "
                         f"published to all stores; {FULL_STORES} stores list every variant, "
                         "the others 20 listing rows each",
            "many_urls": f"{PRODUCTS_PER_STORE * FULL_STORES} product pages "
                         f"({PRODUCTS_PER_STORE} in each of {FULL_STORES} stores) and "
                         f"{FULL_STORES * CATEGORIES * len(SORTS) * LISTING_PAGES} listing "
                         f"pages ({FULL_STORES} stores x {CATEGORIES} categories x "
                         f"{len(SORTS)} sorts x pages 1-{LISTING_PAGES}, 24 products a page), "
                         "shuffled, rotated by bench/storefront_urls.lua",
            "warming": warming,
            "page_cache_off": "STOREFRONT_PAGE_CACHE_DISABLED = True (catalogue cache on)",
            "cache_threshold": DEFAULT_CACHE_THRESHOLD,
            "scale_runs": f"{product} and {listing}; cached: the default in-process cache "
                          "(catalogue and page cache); uncached: CACHE_TYPE NullCache, every "
                          "request runs its SQL, 2 connections",
            "database_build_seconds": build_seconds,
            "seconds": args.seconds,
            "connections": args.connections,
        },
    }
    harness.write_result("storefront_pages", result)


if __name__ == "__main__":
    main()
