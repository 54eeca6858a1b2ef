"""Benchmark: ledger transactions per second, several processes posting to one chain.

Each process commits one ``record_payment`` (two entries) per transaction, all to
the same chain, so every transaction waits for that chain's head lock: this is
the ledger's worst case. For scale, the same run times a baseline on the same
database: the same processes inserting the same two rows per transaction into
a plain table with no lock and no hash (what an un-chained ledger would cost).
It also times ``verify`` over the resulting chain.

Usage: .venv/bin/python bench/ledger_post.py [--processes 4] [--transactions 200]
       [--pg postgresql+psycopg://postgres@127.0.0.1:5432/sb_ledger]
Writes bench/results/ledger_post.json. The PostgreSQL database is wiped.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shopbuilder import create_app, tenancy  # noqa: E402
from shopbuilder.extensions import db  # noqa: E402
from shopbuilder.ledger_testing import LedgerOrder  # noqa: E402
from shopbuilder.models import Chain, Store  # noqa: E402
from shopbuilder.services import ledger  # noqa: E402

PLAIN = sa.Table(
    "bench_plain_entry", sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("chain_id", sa.Integer, nullable=False),
    sa.Column("account", sa.String(80), nullable=False),
    sa.Column("amount_fen", sa.Integer, nullable=False),
    sa.Column("memo", sa.String(255), nullable=False),
)


def make_app(url: str):
    return create_app({
        "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False,
        "TESTING": True,
    })


def prepare(url: str) -> tuple[int, int]:
    app = make_app(url)
    with app.app_context():
        if url.startswith("postgresql"):
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        db.create_all()
        PLAIN.create(db.engine)
        with tenancy.unscoped():
            chain = Chain(slug="bench", name="Bench", royalty_bp=500)
            db.session.add(chain)
            db.session.flush()
            store = Store(chain_id=chain.id, slug="bench-store", name="Bench store")
            db.session.add(store)
            db.session.commit()
            ids = chain.id, store.id
        db.engine.dispose()
    return ids


def worker(url, mode, chain_id, store_id, number, count, ready, start):
    app = make_app(url)
    with app.app_context(), tenancy.unscoped():
        db.session.execute(sa.text("SELECT 1"))  # connect before the clock starts
        db.session.commit()
        ready.put(number)
        start.wait(60)
        for n in range(count):
            order_id = number * 1_000_000 + n
            if mode == "ledger":
                order = LedgerOrder(order_id, chain_id, store_id, f"B{order_id}", 1000 + n,
                                    1000 + n)
                ledger.record_payment(order, order.total_fen)
            else:
                db.session.execute(PLAIN.insert(), [
                    {"chain_id": chain_id, "account": "customer_payments",
                     "amount_fen": -(1000 + n), "memo": f"payment for order B{order_id}"},
                    {"chain_id": chain_id, "account": "escrow", "amount_fen": 1000 + n,
                     "memo": f"held for order B{order_id}"},
                ])
            db.session.commit()
        db.session.remove()
        db.engine.dispose()


def run(url, mode, chain_id, store_id, processes, count) -> dict:
    context = multiprocessing.get_context("spawn")
    ready, start = context.Queue(), context.Event()
    procs = [
        context.Process(target=worker,
                        args=(url, mode, chain_id, store_id, p, count, ready, start))
        for p in range(processes)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=120)
    began = time.perf_counter()
    start.set()
    for proc in procs:
        proc.join()
    seconds = time.perf_counter() - began
    failed = [proc.exitcode for proc in procs if proc.exitcode != 0]
    total = processes * count
    return {"mode": mode, "processes": processes, "transactions": total,
            "seconds": round(seconds, 3), "per_second": round(total / seconds, 1),
            "failed_processes": len(failed)}


def verify_speed(url, chain_id) -> dict:
    app = make_app(url)
    with app.app_context(), tenancy.unscoped():
        began = time.perf_counter()
        report = ledger.verify(chain_id)
        seconds = time.perf_counter() - began
        db.engine.dispose()
    return {"ok": report.ok, "entries": report.entries, "seconds": round(seconds, 3),
            "entries_per_second": round(report.entries / seconds)}


def bench(name, url, processes, count) -> dict:
    chain_id, store_id = prepare(url)
    plain = run(url, "baseline", chain_id, store_id, processes, count)
    plain_single = run(url, "baseline", chain_id, store_id, 1, count)
    chained = run(url, "ledger", chain_id, store_id, processes, count)
    single = run(url, "ledger", chain_id, store_id, 1, count)
    return {
        "database": name,
        "baseline_plain_insert": plain,
        "baseline_plain_insert_single_process": plain_single,
        "ledger_concurrent": chained,
        "ledger_single_process": single,
        "ledger_vs_baseline": round(chained["per_second"] / plain["per_second"], 3),
        "ledger_vs_baseline_single_process": round(
            single["per_second"] / plain_single["per_second"], 3),
        "verify": verify_speed(url, chain_id),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--transactions", type=int, default=200, help="per process")
    parser.add_argument("--pg", default=os.environ.get(
        "SHOPBUILDER_TEST_DATABASE_URL",
        "postgresql+psycopg://postgres@127.0.0.1:5432/sb_ledger"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "ledger_post.json"))
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        results.append(bench("sqlite", f"sqlite:///{folder}/bench.sqlite3", args.processes,
                             args.transactions))
    pg_version = None
    if args.pg:
        results.append(bench("postgresql", args.pg, args.processes, args.transactions))
        engine = sa.create_engine(args.pg)
        with engine.connect() as conn:
            pg_version = conn.execute(sa.text("SHOW server_version")).scalar()
        engine.dispose()
    document = {
        "benchmark": "ledger transactions (record_payment, 2 entries, one commit each) to one "
                     "chain from several processes, against plain 2-row inserts in the same run",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_average_at_end": os.getloadavg(), "python": platform.python_version(),
                    "sqlite": sqlite3.sqlite_version, "postgresql": pg_version},
        "note": "The machine is shared with other jobs; see the load average.",
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(document, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
