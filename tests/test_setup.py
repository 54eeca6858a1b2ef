"""The real set-up path: ``flask --app wsgi shopbuilder init --demo`` on a fresh instance.

Runs the command in a subprocess exactly as ``make run`` does, then checks the
demo data and that the committed Alembic migrations build exactly the schema
the models describe (autogenerate finds no difference).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shopbuilder.extensions import db

ROOT = Path(__file__).resolve().parent.parent


def run_shopbuilder(folder, database_url, *args):
    env = {
        **os.environ,
        "SHOPBUILDER_INSTANCE_PATH": str(folder / "instance"),
        "SHOPBUILDER_DATABASE_URL": database_url,
    }
    flask = Path(sys.executable).with_name("flask")
    return subprocess.run(
        [str(flask), "--app", "wsgi", "shopbuilder", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )


def run_init(folder, database_url, *args):
    return run_shopbuilder(folder, database_url, "init", *args)


def made_outside_the_models(obj, name, type_, reflected, compare_to):
    """The search index (FTS5 shadow tables, the GIN index) is DDL, not a model."""
    return not (name or "").startswith(("product_fts", "ix_product_search_tsv"))


def empty_database(db_url: str, folder: Path) -> str:
    if db_url.startswith("postgresql"):
        engine = sa.create_engine(db_url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        return db_url
    return f"sqlite:///{folder / 'instance' / 'shop.sqlite3'}"


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_init_demo_on_a_fresh_instance_creates_the_demo_shop(app, db_url, tmp_path):
    # ``app`` loads every installed plugin, so db.metadata holds their models too.
    tmp_path = tmp_path / "fresh"
    database_url = empty_database(db_url, tmp_path)
    result = run_init(tmp_path, database_url, "--demo")
    assert result.returncode == 0, result.stderr
    assert "demo12345" in result.stdout and "west-lake" in result.stdout
    config_file = tmp_path / "instance" / "config.py"
    assert "SECRET_KEY" in config_file.read_text()

    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        slugs = conn.execute(sa.text("SELECT slug FROM store ORDER BY slug")).scalars().all()
        emails = set(conn.execute(sa.text('SELECT email FROM "user"')).scalars())
        products = conn.execute(sa.text("SELECT count(*) FROM product")).scalar()
    assert slugs == ["old-town", "riverside", "west-lake"]
    assert {"admin@example.com", "hq@mingcha.example", "manager@west-lake.example",
            "clerk@west-lake.example"} <= emails
    assert products > 0

    # The demo orders went through the real services: every state, a pickup code, a ledger.
    with engine.connect() as conn:
        states = set(conn.execute(sa.text('SELECT state FROM "order"')).scalars())
        settled = conn.execute(sa.text(
            'SELECT count(*) FROM "order" WHERE settled_at IS NOT NULL')).scalar()
        codes = conn.execute(sa.text(
            "SELECT count(*) FROM pickup_order WHERE state = 'ready' AND code_hash IS NOT NULL"
        )).scalar()
    assert {"pending_payment", "paid", "ready_for_pickup", "shipped", "completed"} <= states
    assert settled == 1 and codes == 1

    # Issue #6: the ledger of a fresh demo verifies, and one edited amount is named.
    verified = run_shopbuilder(tmp_path, database_url, "ledger", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "mingcha: OK" in verified.stdout
    with engine.begin() as conn:
        seq = conn.execute(sa.text(
            "SELECT max(seq) FROM ledger_entry WHERE kind = 'settlement'")).scalar()
        conn.execute(sa.text("UPDATE ledger_entry SET amount_fen = amount_fen + 100 "
                             "WHERE seq = :seq"), {"seq": seq})
    tampered = run_shopbuilder(tmp_path, database_url, "ledger", "verify")
    assert tampered.returncode == 1
    assert f"mingcha: FAILED at entry #{seq}: altered" in tampered.stderr
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE ledger_entry SET amount_fen = amount_fen - 100 "
                             "WHERE seq = :seq"), {"seq": seq})

    # Running it again upgrades nothing and loads no second demo.
    again = run_init(tmp_path, database_url, "--demo")
    assert again.returncode == 0 and "demo data not loaded" in again.stdout

    with engine.connect() as conn, warnings.catch_warnings():
        # SQLite cannot reflect expression indexes (lower(sku)); Alembic skips comparing them.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based",
                                sa.exc.SAWarning)
        context = MigrationContext.configure(
            conn, opts={"include_object": made_outside_the_models}
        )
        diff = compare_metadata(context, db.metadata)
        search_index = (
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_product_search_tsv'"
            if database_url.startswith("postgresql")
            else "SELECT count(*) FROM product_fts WHERE product_fts MATCH '龙井'"
        )
        found = conn.execute(sa.text(search_index)).scalar()
    engine.dispose()
    assert diff == [], f"migrations differ from the models: {diff}"
    assert found > 0, "the migrations did not build the search index"
