"""Benchmark publishing, CSV import and stock sync on the 5,000 x 3 x 2,000 dataset.

    .venv/bin/python bench/bench_catalogue.py                       # SQLite file database
    .venv/bin/python bench/bench_catalogue.py --database-url postgresql+psycopg://...

Targets (issue #5): publishing one product to 2,000 stores under 10 s; importing
10,000 price-and-stock rows under 10 s. Also timed: a 1,000-row stock sync API
call (through the whole Flask stack with the test client). Every figure is the
median of ``--repeat`` runs. Noise baseline, measured in the same run: a fixed
CPU task (SHA-256 of 64 MB) and a plain executemany of 10,000 UPDATEs on the same
database, so a reader can tell a slow machine from slow code.

Writes ``bench/results/catalogue_<database>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, ROOT]

import harness  # noqa: E402
from catalogue_dataset import build_dataset  # noqa: E402
from sqlalchemy import delete, select, text  # noqa: E402

from shopbuilder import clock, create_app, tenancy  # noqa: E402
from shopbuilder.extensions import db  # noqa: E402
from shopbuilder.models import Product, Publication, Store, StoreListing, Variant  # noqa: E402
from shopbuilder.services import catalogue as service  # noqa: E402
from shopbuilder.testing import make_test_config, reset_database  # noqa: E402


def timed(func) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def median_of(func, repeat: int, setup=None) -> dict:
    runs = []
    for _ in range(repeat):
        if setup:
            setup()
        runs.append(timed(func))
    return {"median_s": round(statistics.median(runs), 4),
            "runs_s": [round(r, 4) for r in runs]}


def cpu_baseline() -> float:
    data = b"x" * (64 * 1024 * 1024)
    return round(timed(lambda: hashlib.sha256(data).hexdigest()), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--stores", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="catalogue-bench-")
    url = args.database_url or f"sqlite:///{workdir}/bench.sqlite3"
    database = "postgresql" if url.startswith("postgresql") else "sqlite"
    app = create_app(make_test_config(url, workdir))
    reset_database(app)
    info = build_dataset(app, products=args.products, variants=3, stores=args.stores)
    chain_id, product_ids = info["chain_id"], info["product_ids"]
    results: dict = {"dataset": {k: v for k, v in info.items() if k != "product_ids"}}

    with app.test_request_context(), tenancy.scope(tenancy.TenantScope(chain_id, None)):
        store_ids = list(db.session.scalars(select(Store.id).where(Store.chain_id == chain_id)))
        target = db.session.get(Product, product_ids[1])

        def clear():
            db.session.execute(delete(Publication).where(Publication.product_id == target.id))
            db.session.commit()

        def publish_chosen():
            reached = service.publish(target, "store", store_ids=store_ids, price_fen=1999)
            db.session.commit()
            assert reached == len(store_ids), reached

        results["publish_to_2000_chosen_stores"] = median_of(publish_chosen, args.repeat, clear)
        results["republish_to_2000_chosen_stores"] = median_of(publish_chosen, args.repeat)

        def publish_all():
            reached = service.publish(target, "all", price_fen=1888)
            db.session.commit()
            assert reached == len(store_ids), reached

        results["publish_to_all_stores"] = median_of(publish_all, args.repeat, clear)

        def publish_city():
            service.publish(target, "city", city="杭州")
            db.session.commit()

        results["publish_to_one_city"] = median_of(publish_city, args.repeat, clear)
        clear()
        service.publish(target, "all")  # as the dataset had it, for the import below
        db.session.commit()

    store = None
    with app.test_request_context(), tenancy.unscoped():
        store = db.session.get(Store, info["first_store_id"])
        skus = list(db.session.scalars(
            select(Variant.sku).where(Variant.chain_id == chain_id).order_by(Variant.id)
            .limit(10_000)
        ))
    lines = ["sku,price,stock,listed"]
    lines += [f"{sku},{10 + i % 90}.{i % 100:02d},{i % 50},{1 if i % 7 else 0}"
              for i, sku in enumerate(skus)]
    csv_text = "\n".join(lines) + "\n"

    with app.test_request_context(), tenancy.store_scope(store):
        store = db.session.get(Store, store.id)

        def drop_listings():
            db.session.execute(delete(StoreListing).where(StoreListing.store_id == store.id))
            db.session.commit()

        def import_rows(dry_run=False):
            result = service.import_listings_csv(store, csv_text, dry_run=dry_run)
            assert not result.errors, result.errors[:3]
            db.session.commit()

        results["csv_dry_run_10000_rows"] = median_of(lambda: import_rows(True), args.repeat)
        results["csv_import_10000_rows_new_listings"] = median_of(import_rows, args.repeat,
                                                                  drop_listings)
        results["csv_import_10000_rows_existing_listings"] = median_of(import_rows, args.repeat)
        count = db.session.scalar(
            select(db.func.count()).select_from(StoreListing)
            .where(StoreListing.store_id == store.id)
        )
        assert count == len(skus), count

        def baseline_updates():
            db.session.execute(
                text("UPDATE store_listing SET stock_on_hand = :s WHERE store_id = :st "
                     "AND variant_id = :v"),
                [{"s": 5, "st": store.id, "v": v} for v in db.session.scalars(
                    select(StoreListing.variant_id).where(StoreListing.store_id == store.id))],
            )
            db.session.commit()

        results["baseline_executemany_10000_updates"] = median_of(baseline_updates, args.repeat)
        _key, plain = service.create_api_key(store, "bench till")
        db.session.commit()

    client = app.test_client()
    counter = iter(range(1_000_000))

    def sync_batch():
        items = [{"sku": sku, "stock": 20 + (i % 30)} for i, sku in enumerate(skus[:1000])]
        response = client.put(f"/api/v1/stores/{info['first_store_slug']}/stock", json={
            "request_id": f"bench-{next(counter)}", "mode": "absolute", "items": items,
        }, headers={"Authorization": f"Bearer {plain}"})
        assert response.status_code == 200, response.get_data(as_text=True)[:300]

    results["stock_sync_api_1000_rows"] = median_of(sync_batch, args.repeat)

    def sync_delta():
        items = [{"sku": sku, "stock": 1} for sku in skus[1000:2000]]
        response = client.put(f"/api/v1/stores/{info['first_store_slug']}/stock", json={
            "request_id": f"bench-{next(counter)}", "mode": "delta", "items": items,
        }, headers={"Authorization": f"Bearer {plain}"})
        assert response.status_code == 200, response.get_data(as_text=True)[:300]

    results["stock_sync_api_1000_rows_delta"] = median_of(sync_delta, args.repeat)

    with app.app_context(), tenancy.unscoped():
        results["listing_rows_after_all_this"] = db.session.scalar(
            select(db.func.count()).select_from(StoreListing))
    results["baseline_cpu_sha256_64mb_s"] = cpu_baseline()
    report = {
        "what": "catalogue write paths on the products x 3 x stores dataset "
                "(bench/catalogue_dataset.py)",
        "database": database,
        "when": clock.now().isoformat(timespec="seconds"),
        # Which code was measured (dirty: uncommitted changes outside bench/results/).
        "git": harness.git_state(),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "load_avg": os.getloadavg()},
        "targets": {"publish_to_2000_stores_s": 10, "csv_import_10000_rows_s": 10},
        "results": results,
    }
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", f"catalogue_{database}.json")
    with open(path, "w") as handle:
        json.dump(report, handle, indent=2, ensure_ascii=False)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"wrote {path}")
    write_summary()


LABELS = {
    "publish_to_2000_chosen_stores": "publish one product to 2,000 chosen stores (2,000 rows)",
    "republish_to_2000_chosen_stores": "publish it again to the same 2,000 stores (new price)",
    "publish_to_all_stores": "publish one product to all stores (1 row)",
    "publish_to_one_city": "publish one product to one city's stores",
    "csv_dry_run_10000_rows": "CSV dry run, 10,000 rows",
    "csv_import_10000_rows_new_listings": "CSV import, 10,000 rows, listings created",
    "csv_import_10000_rows_existing_listings": "CSV import, 10,000 rows, listings updated",
    "stock_sync_api_1000_rows": "stock sync API, 1,000 rows, absolute (HTTP via test client)",
    "stock_sync_api_1000_rows_delta": "stock sync API, 1,000 rows, delta",
    "baseline_executemany_10000_updates": "baseline: raw executemany of 10,000 UPDATEs",
}


def write_summary() -> None:
    """``bench/results/catalogue.md`` from every ``catalogue_<database>.json`` present."""
    reports = {}
    for database in ("sqlite", "postgresql"):
        path = os.path.join(HERE, "results", f"catalogue_{database}.json")
        if os.path.exists(path):
            with open(path) as handle:
                reports[database] = json.load(handle)
    if not reports:
        return
    lines = ["# Catalogue write paths: benchmark results", "",
             "Written by `bench/bench_catalogue.py`; medians of 3 runs, seconds. Dataset: "
             "`bench/catalogue_dataset.py`, 5,000 products x 3 variants, 2,000 stores, every "
             "product published to all stores (one row each), no listing rows before the run.",
             "", "| operation | " + " | ".join(reports) + " |",
             "| --- | " + " | ".join("---:" for _ in reports) + " |"]
    for key, label in LABELS.items():
        cells = [f"{r['results'][key]['median_s']:.2f}" if key in r["results"] else "-"
                 for r in reports.values()]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cells = [f"{r['results']['baseline_cpu_sha256_64mb_s']:.2f}" for r in reports.values()]
    lines.append("| baseline: SHA-256 of 64 MB (CPU speed) | " + " | ".join(cells) + " |")
    lines += ["", "Targets (issue #5): publishing to 2,000 stores < 10 s; importing 10,000 "
              "rows < 10 s.", "", "Runs:"]
    for database, r in reports.items():
        m = r["machine"]
        load = ", ".join(f"{x:.1f}" for x in m["load_avg"])
        git = r.get("git") or {}
        commit = (f"commit {git['commit'][:10]}" + (" (dirty)" if git.get("dirty") else "")
                  if git.get("commit") else "commit not recorded")
        lines.append(f"- {database}: {r['when']}, {commit}, {m['platform']}, "
                     f"Python {m['python']}, {m['cpus']} CPUs, load average {load} "
                     "when it started")
    with open(os.path.join(HERE, "results", "catalogue.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["--summary"]:
        write_summary()
    else:
        main()
