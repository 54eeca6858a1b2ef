"""The pickup store finder with 20,000 pickup stores in the chain against 10.

Run: .venv/bin/python bench/pickup_finder.py [--seconds 8 --rounds 3 --stores 20000]
Writes bench/results/pickup_finder.json.

Two SQLite databases differ only in the number of stores of the one chain (20,000 and 10),
scattered over eastern China (latitude 22-40, longitude 103-122), each open 09:00-21:00
with the pickup plugin forced on by HQ. The measured page is the finder
(``/s/<store>/stores?lat=&lng=``, the 20 nearest stores with distance, opening hours and
the city chooser) for a customer in Hangzhou, and the same finder for one product
(``&product_id=``, adds the in-stock column). Served by gunicorn, 2 sync workers, the
default in-process cache; the two are measured alternately in the same run.

Target (DESIGN.md, "100,000 stores must cost what 10 do"): latency ratio (p50,
20,000 / 10) <= 1.2. Before the bounding-box finder every request loaded every pickup
store of the chain twice (the list and the cities): 0.01 s at 10 stores, 4.6 s at 20,000.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import harness

sys.path.insert(0, str(harness.REPO_ROOT))

STORE_SLUG = "store-00000"
HANGZHOU = (30.2600, 120.1520)
HOURS = json.dumps({day: [["09:00", "21:00"]]
                    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})


def build_database(folder: Path, stores: int) -> Path:
    """Create the schema with the app, fill stores with executemany, force pickup on."""
    from shopbuilder import create_app, tenancy
    from shopbuilder.extensions import db
    from shopbuilder.models import Chain
    from shopbuilder.plugins.enablement import set_policy

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "shop.sqlite3"
    (folder / "config.py").write_text(f"SECRET_KEY = {os.urandom(16).hex()!r}\n")
    now = "2026-01-01 00:00:00.000000"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "x"})
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    rnd = random.Random(20_000)
    con = sqlite3.connect(path)
    with con:
        con.execute(
            "INSERT INTO chain (id, slug, name, currency, locale, royalty_bp, settings, "
            "created_at) VALUES (1, 'bench', 'Bench Tea', 'CNY', 'zh_CN', 0, ?, ?)",
            ('{"theme": {"values": {"name": "classic"}, "locked": []}}', now),
        )
        # Store 0 is the one browsed, in Hangzhou; the others anywhere in the region.
        rows = [(1, STORE_SLUG, "Store 0", "city-0", HANGZHOU[0], HANGZHOU[1])]
        rows += [(i + 1, f"store-{i:05d}", f"Store {i}", f"city-{i % 300}",
                  rnd.uniform(22, 40), rnd.uniform(103, 122)) for i in range(1, stores)]
        con.executemany(
            "INSERT INTO store (id, chain_id, slug, name, status, address, city, phone, lat, "
            "lng, opening_hours, description, settings, created_at) "
            "VALUES (?, 1, ?, ?, 'active', 'Road 1', ?, '0571-1', ?, ?, ?, '', '{}', ?)",
            [(*row, HOURS, now) for row in rows],
        )
        con.execute(
            "INSERT INTO product (id, chain_id, store_id, title, description, status, "
            "search_text, created_at) VALUES (1, 1, NULL, 'Longjing', '', 'active', "
            "'longjing', ?)", (now,))
        con.execute(
            "INSERT INTO publication (chain_id, product_id, target, created_at) "
            "VALUES (1, 1, 'all', ?)", (now,))
        con.execute(
            "INSERT INTO variant (id, chain_id, product_id, sku, options, price_fen, position) "
            "VALUES (1, 1, 1, 'LJ', '{}', 3200, 0)")
        con.executemany(
            "INSERT INTO store_listing (chain_id, store_id, variant_id, stock_on_hand, "
            "reserved) VALUES (1, ?, 1, ?, 0)",
            [(store_id, store_id % 3) for store_id in range(1, stores + 1)],
        )
    con.execute("ANALYZE")
    con.close()
    with app.app_context(), tenancy.unscoped():
        set_policy(db.session.get(Chain, 1), "pickup", "forced")
        db.session.commit()
        db.engine.dispose()
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
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--stores", type=int, default=20_000)
    args = parser.parse_args()
    many_name, few_name = f"finder_{args.stores}_stores", "finder_10_stores"

    tmp = Path(tempfile.mkdtemp(prefix="pickup-bench-"))
    started = time.monotonic()
    many = build_database(tmp / "many", args.stores)
    few = build_database(tmp / "few", 10)
    build_seconds = round(time.monotonic() - started, 1)
    finder = f"/s/{STORE_SLUG}/stores?lat={HANGZHOU[0]}&lng={HANGZHOU[1]}"
    targets = {"finder": finder, "finder_product": finder + "&product_id=1"}

    def m(url):
        return lambda: harness.measure_rps(url, seconds=args.seconds,
                                           connections=args.connections)

    with (
        harness.serve("wsgi:app", env=shop_env(tmp / "many", many), ready_path=finder) as big,
        harness.serve("wsgi:app", env=shop_env(tmp / "few", few), ready_path=finder) as small,
    ):
        runs = {
            name: harness.interleaved(
                [(f"{name}_{many_name}", m(big + url)), (f"{name}_{few_name}", m(small + url))],
                rounds=args.rounds)
            for name, url in targets.items()
        }

    def latency_ratio(result, name):
        median = result["median"]
        return round(median[f"{name}_{many_name}"]["latency_p50_ms"]
                     / median[f"{name}_{few_name}"]["latency_p50_ms"], 3)

    result = {
        "latency_ratio": {name: latency_ratio(run, name) for name, run in runs.items()},
        "targets": {"latency_ratio": 1.2},
        "runs": runs,
        "setup": {
            "target": f"wsgi:app, gunicorn sync, 2 workers, SQLite; {finder} "
                      "(and with &product_id=1)",
            "baseline": "the same page on the 10-store database, measured alternately",
            "stores": f"{args.stores} vs 10 stores of one chain, pickup forced by HQ",
            "database_build_seconds": build_seconds,
            "seconds": args.seconds,
            "connections": args.connections,
        },
    }
    harness.write_result("pickup_finder", result)


if __name__ == "__main__":
    main()
