"""Orders placed per second, end to end over HTTP, against a bare Flask hello-world.

Each measured request is the real checkout form (buy now, offline payment) posted
by one of 32 signed-in customers with a fresh idempotency key: it prices the
line, asks the plugins for fulfilment options and adjustments, reserves stock
with a conditional UPDATE, numbers the order, writes it, its line, payment,
event and deadline, and commits. gunicorn runs 2 sync workers for both apps.

Afterwards the database is checked: every successful request made exactly one
order (the count matches wrk's within the requests still in flight when a run
stopped), order numbers are unique, and reserved stock equals the orders.

Setup, not measured: the bench instance turns the login rate limit off and
uses a cheap password hash, so 32 customers can sign in from one address.

    .venv/bin/python bench/orders.py                 # SQLite and PostgreSQL
    .venv/bin/python bench/orders.py --databases sqlite --seconds 5 --rounds 2
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

import harness

BENCH_DIR = Path(__file__).resolve().parent
REQUEST_SCRIPT = BENCH_DIR / "orders_request.lua"
REPORT_SCRIPT = harness.WRK_SCRIPT
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "sb_orders_bench"
STORE = "west-lake"
CUSTOMERS = 32
PASSWORD = "bench-pass-1"


def prepare_database(kind: str, instance: Path) -> dict[str, str]:
    """A fresh database with the demo chain, 32 customers and deep stock; returns the env."""
    import sqlalchemy as sa

    instance.mkdir(parents=True, exist_ok=True)
    (instance / "config.py").write_text(
        "SECRET_KEY = 'orders-bench'\nRATELIMIT_ENABLED = False\n"
        "PASSWORD_HASH_METHOD = 'pbkdf2:sha256:1000'\n"
    )
    if kind == "postgresql":
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)"))
            conn.execute(sa.text(f"CREATE DATABASE {PG_BENCH_DB}"))
        admin.dispose()
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_BENCH_DB}"
    else:
        url = "sqlite:///" + str(instance / "bench.sqlite3")
    env = {"SHOPBUILDER_INSTANCE_PATH": str(instance), "SHOPBUILDER_DATABASE_URL": url}
    os.environ.update(env)
    from shopbuilder import create_app, tenancy
    from shopbuilder.demo import load_demo
    from shopbuilder.extensions import db
    from shopbuilder.models import Customer, Store, StoreListing, Variant

    app = create_app()
    with app.app_context(), tenancy.unscoped():
        db.create_all()
        chain = load_demo(echo=lambda *a, **k: None, orders=False)
        db.session.flush()
        store = db.session.scalar(db.select(Store).where(Store.slug == STORE))
        variant = db.session.scalar(db.select(Variant).where(Variant.sku == "LJ-50"))
        listing = db.session.scalar(db.select(StoreListing).where(
            StoreListing.store_id == store.id, StoreListing.variant_id == variant.id))
        listing.stock_on_hand = 10_000_000
        for i in range(CUSTOMERS):
            customer = Customer(chain_id=chain.id, email=f"bench{i}@example.com", name=f"B{i}")
            customer.set_password(PASSWORD)
            db.session.add(customer)
        db.session.commit()
        env["ORDERS_BENCH_VARIANT"] = str(variant.id)
        db.session.remove()
        db.engine.dispose()
    return env


def sign_in_all(base: str, variant_id: str, path: Path) -> None:
    """Sign every bench customer in through the real form; keep their cookie and CSRF token."""
    lines = []
    for i in range(CUSTOMERS):
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(f"{base}/s/{STORE}/login").read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"csrf_token": token, "email": f"bench{i}@example.com",
                                       "password": PASSWORD}).encode()
        opener.open(f"{base}/s/{STORE}/login", data=data).read()
        page = opener.open(f"{base}/s/{STORE}/checkout?variant_id={variant_id}").read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
        lines.append(f"{cookie}\t{urllib.parse.quote(token)}\t{variant_id}")
    path.write_text("\n".join(lines) + "\n")


def count_orders(env: dict[str, str]) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(env["SHOPBUILDER_DATABASE_URL"])
    with engine.connect() as conn:
        orders, numbers = conn.execute(sa.text(
            'SELECT count(*), count(DISTINCT store_id || number) FROM "order"')).one()
        keys = conn.execute(sa.text(
            'SELECT count(DISTINCT idempotency_key) FROM "order"')).scalar_one()
        reserved = conn.execute(sa.text(
            "SELECT reserved FROM store_listing WHERE variant_id = :v AND store_id = "
            "(SELECT id FROM store WHERE slug = :s)"),
            {"v": int(env["ORDERS_BENCH_VARIANT"]), "s": STORE}).scalar_one()
    engine.dispose()
    return {"orders": orders, "distinct_numbers": numbers, "distinct_keys": keys,
            "reserved_units": reserved}


def measure(url: str, script: Path, seconds: float, warmup: float = 0) -> dict:
    harness.WRK_SCRIPT = script
    try:
        return harness.measure_rps(url, seconds=seconds, warmup=warmup)
    finally:
        harness.WRK_SCRIPT = REPORT_SCRIPT


def run(kind: str, seconds: float, rounds: int, threads: int = 1) -> dict:
    serving = [f"--threads={threads}"] if threads > 1 else []
    with tempfile.TemporaryDirectory(prefix=f"orders-bench-{kind}-") as tmp:
        env = prepare_database(kind, Path(tmp) / "instance")
        sessions = Path(tmp) / "sessions.tsv"
        env_wrk = {"ORDERS_BENCH_SESSIONS": str(sessions),
                   "ORDERS_BENCH_REPORT": str(REPORT_SCRIPT)}
        os.environ.update(env_wrk)
        with (
            # Both apps are served alike: the same workers, and threads when asked.
            harness.serve("wsgi:app", env=env, ready_path=f"/s/{STORE}/",
                          extra_args=serving) as shop,
            harness.serve(harness.HELLO, extra_args=serving) as hello,
        ):
            sign_in_all(shop, env["ORDERS_BENCH_VARIANT"], sessions)
            checkout = f"{shop}/s/{STORE}/checkout"
            warm = measure(checkout, REQUEST_SCRIPT, 3)
            result = harness.interleaved(
                [
                    ("place_order", lambda: measure(checkout, REQUEST_SCRIPT, seconds)),
                    ("hello", lambda: harness.measure_rps(hello + "/", seconds=seconds)),
                ],
                rounds=rounds,
            )
        placed = [warm, *result["runs"]["place_order"]]
        succeeded = sum(r["requests"] - r["non_2xx_3xx"] for r in placed)
        failed = sum(r["non_2xx_3xx"] + r["socket_errors"] for r in placed)
        check = count_orders(env)
        check.update({
            "requests_succeeded": succeeded, "requests_failed": failed,
            "in_flight_allowance": 16 * len(placed),
            "ok": (failed == 0 and check["orders"] == check["distinct_numbers"]
                   == check["distinct_keys"] == check["reserved_units"]
                   and 0 <= check["orders"] - succeeded <= 16 * len(placed)),
        })
        result["check"] = check
        result["setup"] = {
            "target": "POST /s/west-lake/checkout (buy now, offline payment), 32 customers, "
                      "a fresh idempotency key per request, wrk 16 connections / 2 threads",
            "baseline": "bare Flask hello-world (bench/hello.py)",
            "database": kind, "gunicorn_workers": 2, "gunicorn_threads": threads,
        }
        return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="gunicorn threads per worker for both apps (1: sync workers)")
    args = parser.parse_args(argv)
    ok = True
    for kind in args.databases.split(","):
        result = run(kind, args.seconds, args.rounds, args.threads)
        harness.write_result(f"orders_{kind}", result)
        print(f"  check: {result['check']}")
        ok = ok and result["check"]["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
