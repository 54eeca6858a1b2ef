"""``flask db upgrade`` brings the core and every plugin's own branch to its head."""

from __future__ import annotations

import types
from pathlib import Path

import sqlalchemy as sa
from flask_migrate.cli import db as flask_migrate_group

from shopbuilder import create_app, hookimpl
from shopbuilder.plugins import PluginMeta
from shopbuilder.testing import make_test_config, run_cli

stamp = types.ModuleType("stamp")
stamp.meta = PluginMeta(name="stamp", title="Stamp card", version="1.0")


@hookimpl
def shopbuilder_app_migration_folder():
    return Path(__file__).parent / "sample_migrations"


stamp.shopbuilder_app_migration_folder = shopbuilder_app_migration_folder


def fresh_app(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPBUILDER_INSTANCE_PATH", str(tmp_path))
    url = "sqlite:///" + str(tmp_path / "fresh.sqlite3")
    return create_app(make_test_config(url, str(tmp_path), EXTRA_PLUGINS=[stamp])), url


def test_bare_db_upgrade_creates_core_and_plugin_tables(tmp_path, monkeypatch, capfd):
    app, url = fresh_app(tmp_path, monkeypatch)
    result = run_cli(app, "db", "upgrade")
    assert result.exit_code == 0, result.output
    tables = set(sa.inspect(sa.create_engine(url)).get_table_names())
    assert {"chain", "store", "stamp_card"} <= tables
    capfd.readouterr()
    run_cli(app, "db", "heads")
    heads = capfd.readouterr().out  # Alembic prints straight to stdout
    assert "0007_staff (head)" in heads and "stamp_0001 (stamp)" in heads
    again = run_cli(app, "db", "upgrade")
    assert again.exit_code == 0, again.output


def test_one_branch_can_still_be_named(tmp_path, monkeypatch):
    app, url = fresh_app(tmp_path, monkeypatch)
    assert run_cli(app, "db", "upgrade", "0001_core").exit_code == 0
    assert "stamp_card" not in sa.inspect(sa.create_engine(url)).get_table_names()
    assert run_cli(app, "db", "upgrade", "stamp@head").exit_code == 0
    assert "stamp_card" in sa.inspect(sa.create_engine(url)).get_table_names()


def test_flask_migrates_own_group_is_left_unchanged(tmp_path, monkeypatch):
    fresh_app(tmp_path, monkeypatch)
    revision = next(p for p in flask_migrate_group.commands["upgrade"].params
                    if p.name == "revision")
    assert revision.default == "head"
