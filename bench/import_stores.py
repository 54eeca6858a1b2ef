"""Benchmark: import 10,000 stores from CSV into a fresh SQLite database.

Runs the same service as the HQ page and the CLI (``plan_import`` then
``apply_import``), on a file with a new manager for every store (the worst
case: 10,000 accounts to create). For comparison, in the same run, it times
the naive way on another fresh database (one ORM object per store through the
unit of work) and extrapolates what hashing a generated password per manager
with the production scrypt cost would have added.

Usage: .venv/bin/python bench/import_stores.py [--rows 10000]
Writes bench/results/import_stores.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from werkzeug.security import generate_password_hash

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shopbuilder import config, create_app, tenancy  # noqa: E402
from shopbuilder.extensions import db  # noqa: E402
from shopbuilder.models import Chain, Store  # noqa: E402
from shopbuilder.services.store_import import apply_import, plan_import  # noqa: E402

CITIES = ["杭州", "苏州", "上海", "南京", "宁波", "无锡", "嘉兴", "绍兴"]
TARGET_SECONDS = 60


def make_csv(rows: int) -> bytes:
    lines = ["slug,name,address,city,phone,lat,lng,manager_email"]
    for n in range(rows):
        city = CITIES[n % len(CITIES)]
        lines.append(
            f"store-{n:05d},茗茶 {city}{n}号店,{city}市 中山路 {n} 号,{city},"
            f"0571-8700 {n % 10000:04d},{30 + (n % 500) / 1000:.4f},{120 + (n % 700) / 1000:.4f},"
            f"manager{n:05d}@stores.example"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def fresh_app(folder: str):
    app = create_app({
        "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.sqlite3",
        "WTF_CSRF_ENABLED": False,
    })
    with app.app_context():
        db.create_all()
        with tenancy.unscoped():
            db.session.add(Chain(slug="bench", name="Bench Tea"))
            db.session.commit()
    return app


def run_service(rows: int, data: bytes) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        app = fresh_app(folder)
        with app.app_context(), tenancy.unscoped():
            chain = db.session.scalar(db.select(Chain))
            start = time.perf_counter()
            plan = plan_import(chain, data)
            checked = time.perf_counter()
            assert plan.ok, plan.errors[:5]
            result = apply_import(plan)
            db.session.commit()
            done = time.perf_counter()
            count = db.session.scalar(db.select(db.func.count(Store.id)))
            assert count == rows and len(result.invitations) == rows
            db.session.remove()
            db.engine.dispose()
    total = done - start
    return {
        "rows": rows, "stores_created": count, "new_managers": len(result.invitations),
        "check_seconds": round(checked - start, 3), "write_seconds": round(done - checked, 3),
        "total_seconds": round(total, 3), "rows_per_second": round(rows / total),
        "target_seconds": TARGET_SECONDS, "within_target": total < TARGET_SECONDS,
    }


def run_naive_orm(rows: int) -> dict:
    """Baseline: one ``Store`` object per row through the unit of work, no managers."""
    with tempfile.TemporaryDirectory() as folder:
        app = fresh_app(folder)
        with app.app_context(), tenancy.unscoped():
            chain_id = db.session.scalar(db.select(Chain.id))
            start = time.perf_counter()
            for n in range(rows):
                db.session.add(Store(chain_id=chain_id, slug=f"s-{n}", name=f"S {n}",
                                     city="杭州", address="x"))
            db.session.commit()
            total = time.perf_counter() - start
            db.session.remove()
            db.engine.dispose()
    return {"what": "session.add per store + commit, stores only", "rows": rows,
            "total_seconds": round(total, 3), "rows_per_second": round(rows / total)}


def scrypt_estimate(rows: int, samples: int = 5) -> dict:
    """What a generated password per manager would cost at the production scrypt cost."""
    start = time.perf_counter()
    for _ in range(samples):
        generate_password_hash("x" * 16, method=config.PRODUCTION_PASSWORD_METHOD)
    per_hash = (time.perf_counter() - start) / samples
    return {"method": config.PRODUCTION_PASSWORD_METHOD, "seconds_per_hash": round(per_hash, 4),
            "extrapolated_seconds_for_all_managers": round(per_hash * rows, 1)}


def git_commit() -> str:
    try:
        return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                       text=True).strip()
    except Exception:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--output", default=str(ROOT / "bench/results/import_stores.json"))
    args = parser.parse_args()
    data = make_csv(args.rows)
    service = run_service(args.rows, data)
    report = {
        "benchmark": "import_stores",
        "what": "plan_import + apply_import + commit of a generated CSV into a fresh SQLite "
                "file database, a new manager (invitation, no password hash) per store",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": {
            "platform": platform.platform(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
        },
        "csv_bytes": len(data),
        "result": service,
        "baseline_same_run": {
            "naive_orm": run_naive_orm(args.rows),
            "scrypt_per_manager": scrypt_estimate(args.rows),
        },
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    print(json.dumps(report["result"], indent=2))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
