"""Enablement rows and counts behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import types

import pytest
import sqlalchemy as sa

from shopbuilder.plugins import PluginMeta
from shopbuilder.plugins.migrations import include_object
from shopbuilder.testing import (
    in_app,
    make_store,
    plugin_enabled_for,
    set_plugin_enabled,
    set_plugin_policy,
)

tally = types.ModuleType("tally")
tally.meta = PluginMeta(name="tally", title="Tally", version="1.0")
BOTH = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def app_config():
    # A fresh engine-options dict: the skeleton's config default is a shared class attribute
    # that a SQLite app fills with a SQLite-only option (fixed on the foundation branch).
    return {"EXTRA_PLUGINS": [tally], "SQLALCHEMY_ENGINE_OPTIONS": {}}


def count(app, chain_id=None) -> int:
    from shopbuilder.plugins.policy import count_enabled

    with in_app(app):
        return count_enabled("tally", chain_id)


def enabling(app) -> set[int]:
    from shopbuilder.plugins import stores_enabling

    with in_app(app) as session:
        return set(session.scalars(stores_enabling("tally")))


@BOTH
def test_count_follows_policy_defaults_and_choices(app, chain, other_chain, db_url):
    stores = [make_store(app, chain, f"s{i}") for i in range(5)]
    rival = [make_store(app, other_chain, f"r{i}") for i in range(3)]
    set_plugin_enabled(app, stores[0], "tally")
    set_plugin_enabled(app, stores[1], "tally")
    set_plugin_enabled(app, stores[2], "tally", False)
    assert count(app) == 2
    set_plugin_policy(app, chain, "tally", "allowed", default=True)
    assert count(app, chain.id) == 4  # every store but the one that said no
    set_plugin_policy(app, other_chain, "tally", "forced")
    assert count(app) == 7
    assert enabling(app) == {s.id for s in stores if s.slug != "s2"} | {r.id for r in rival}
    set_plugin_policy(app, chain, "tally", "forbidden")
    assert count(app) == 3 and not plugin_enabled_for(app, stores[0], "tally")
    assert plugin_enabled_for(app, rival[0], "tally")
    assert enabling(app) == {r.id for r in rival}


def _toggle(args):
    url, instance, store_id, on = args
    from shopbuilder import create_app, tenancy
    from shopbuilder.extensions import db
    from shopbuilder.models import Store
    from shopbuilder.plugins.enablement import set_store_plugin
    from shopbuilder.testing import make_test_config

    app = create_app(make_test_config(url, instance, EXTRA_PLUGINS=[tally]))
    with app.test_request_context(), tenancy.unscoped():
        set_store_plugin(db.session.get(Store, store_id), "tally", on)
        db.session.commit()
    return True


@BOTH
def test_concurrent_first_choices_for_one_store_leave_one_row(app, store, db_url, tmp_path):
    from shopbuilder.models import StorePlugin

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        assert all(pool.map(_toggle, [(url, str(tmp_path), store.id, True)] * 8))
    with in_app(app) as session:
        assert session.scalar(sa.select(sa.func.count(StorePlugin.id))) == 1


def test_autogenerate_keeps_core_and_plugin_tables_apart(monkeypatch):
    import alembic.context

    core = sa.Table("x_core", sa.MetaData())
    mine = sa.Table("x_mine", sa.MetaData(), info={"plugin": "mine"})
    monkeypatch.setattr(alembic.context, "get_x_argument", lambda as_dictionary: {}, raising=False)
    assert include_object(core, "x_core", "table", False, None)
    assert not include_object(mine, "x_mine", "table", False, None)
    assert not include_object(core, "x_gone", "table", True, None)  # never dropped
    monkeypatch.setattr(alembic.context, "get_x_argument",
                        lambda as_dictionary: {"plugin": "mine"}, raising=False)
    assert include_object(mine, "x_mine", "table", False, None)
    assert not include_object(core, "x_core", "table", False, None)
