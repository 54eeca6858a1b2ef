"""API catalogue reads against hello-world, on the 2,000-store, 5,000-product database.

Run: .venv/bin/python bench/api_reads.py [--seconds 6 --rounds 2]
Writes bench/results/api_reads.json.

The database is the storefront benchmark's (``storefront_pages.build_database``): 5,000
master products x 3 variants published to 2,000 stores. Served by gunicorn, 2 sync
workers, rate limits on (memory storage) with a limit high enough never to trigger, so
the per-request cost of counting is included. Measured alternately with the bare Flask
hello-world in the same run; the figure is requests/s of the target / hello's.

Targets (``/api/v1/...``): a product list page (20 cards), a product's detail, and the
store finder (nearest first over 2,000 stores, one page of 20).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import harness
import storefront_pages
from storefront_pages import STORE_SLUG, shop_env


def build_database(folder: Path, stores: int) -> Path:
    """The storefront benchmark's database; products get the search column search needs."""
    import sqlite3

    original = sqlite3.Connection.executemany

    class Connection(sqlite3.Connection):
        def executemany(self, sql, rows):
            if sql.lstrip().startswith("INSERT INTO product ("):
                sql = sql.replace("status, created_at)", "status, created_at, search_text)")
                sql = sql.replace("'active', ?)", "'active', ?, '')")
            return original(self, sql, rows)

    connect = sqlite3.connect
    sqlite3.connect = lambda *a, **k: connect(*a, factory=Connection, **k)
    try:
        return storefront_pages.build_database(folder, stores)
    finally:
        sqlite3.connect = connect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    def measure(url):
        return lambda: harness.measure_rps(url, seconds=args.seconds,
                                           connections=args.connections)

    tmp = Path(tempfile.mkdtemp(prefix="api-bench-"))
    started = time.monotonic()
    path = build_database(tmp / "shop", 2_000)
    with (tmp / "shop" / "config.py").open("a") as config:
        config.write('API_ADDRESS_RATE_LIMIT = "100000000 per minute"\n')
    build_seconds = round(time.monotonic() - started, 1)
    api = f"/api/v1/stores/{STORE_SLUG}"
    targets = {
        "product_list": f"{api}/products?limit=20",
        "product_detail": f"{api}/products/2500",
        "store_finder": "/api/v1/chains/bench/stores?lat=30.2&lng=120.1&limit=20",
    }
    with (
        harness.serve("wsgi:app", env=shop_env(tmp / "shop", path),
                      ready_path=targets["product_detail"]) as shop,
        harness.serve(harness.HELLO) as hello,
    ):
        result = harness.interleaved(
            [(name, measure(shop + url)) for name, url in targets.items()]
            + [("hello", measure(hello + "/"))],
            rounds=args.rounds,
        )
    result["setup"] = {
        "targets": targets, "baseline": "bench/hello.py (Flask hello-world)",
        "database": "sqlite, 2,000 stores, 5,000 products x 3 variants",
        "server": "gunicorn, 2 sync workers", "build_seconds": build_seconds,
        "note": "store finder: the bench stores have no coordinates, so the SQL orders "
                "2,000 rows by a NULL distance and returns one page",
    }
    harness.write_result("api_reads", result)
    print({name: result["ratio"].get(name) for name in targets})


if __name__ == "__main__":
    main()
