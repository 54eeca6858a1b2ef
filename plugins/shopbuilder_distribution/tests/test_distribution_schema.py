"""The plugin's tables are its own: core autogenerate never writes or drops them."""

from __future__ import annotations

import alembic.context
from shopbuilder_distribution import models

from shopbuilder.extensions import db
from shopbuilder.plugins.migrations import include_object

TABLES = {"distribution_grade", "distribution_product_commission", "distribution_distributor",
          "distribution_binding", "distribution_commission", "distribution_withdrawal"}


def plugin_tables():
    return [model.__table__ for model in db.Model.registry._class_registry.values()
            if getattr(model, "__module__", None) == models.__name__
            and hasattr(model, "__table__")]


def test_core_autogenerate_ignores_every_distribution_table(monkeypatch):
    tables = plugin_tables()
    assert {t.name for t in tables} == TABLES
    monkeypatch.setattr(alembic.context, "get_x_argument", lambda as_dictionary: {},
                        raising=False)
    assert [t.name for t in tables if include_object(t, t.name, "table", False, None)] == []


def test_the_plugins_own_autogenerate_sees_them_all(monkeypatch):
    monkeypatch.setattr(alembic.context, "get_x_argument",
                        lambda as_dictionary: {"plugin": "distribution"}, raising=False)
    seen = {t.name for t in plugin_tables() if include_object(t, t.name, "table", False, None)}
    assert seen == TABLES
