"""Every tenant-owned model, core or plugin, is hidden from other tenants by the guard.

The models are discovered from SQLAlchemy's registry, so a model added later is
covered without anyone editing this file; building its rows needs a seed
factory (see ``shopbuilder/testing.py``), and a model without one fails here.
"""

from __future__ import annotations

import pytest

from shopbuilder import tenancy
from shopbuilder.extensions import db
from shopbuilder.models import StoreOptional, StoreOwned
from shopbuilder.testing import (
    MissingSeedFactory,
    find_seed_factory,
    in_app,
    make_chain,
    make_store,
    seed,
    tenant_models,
)

both_databases = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


def test_every_tenant_owned_model_has_a_seed_factory(app):
    missing = []
    for model in tenant_models():
        try:
            find_seed_factory(model)
        except MissingSeedFactory as exc:
            missing.append(str(exc))
    assert not missing, "\n".join(missing)


def test_the_core_tenant_models_are_discovered(app):
    names = {m.__name__ for m in tenant_models()}
    assert {"Customer", "StaffRole", "Category", "Product", "Variant", "Publication",
            "StoreListing"} <= names


@pytest.fixture
def two_chains(app):
    """Chains A and B with two stores each, and one seeded row per model per store."""
    chain_a, chain_b = make_chain(app, "chain-a", "A"), make_chain(app, "chain-b", "B")
    stores = {
        "a1": make_store(app, chain_a, "a-one"), "a2": make_store(app, chain_a, "a-two"),
        "b1": make_store(app, chain_b, "b-one"), "b2": make_store(app, chain_b, "b-two"),
    }
    rows: dict[type, dict[str, int]] = {}
    with in_app(app) as session:
        for model in tenant_models():
            rows[model] = {}
            for name, store in stores.items():
                row = seed(session, model, store)
                rows[model][name] = row.id
        session.commit()
    return stores, rows


def expected_names(model, viewer: str, chain_only: bool) -> set[str]:
    """Which seeded stores' rows ``viewer`` (a store, or its chain) may see."""
    same_chain = {n for n in ("a1", "a2", "b1", "b2") if n[0] == viewer[0]}
    if chain_only or not issubclass(model, StoreOwned | StoreOptional):
        return same_chain
    return {viewer}


def visible_ids(model) -> set[int]:
    return set(db.session.scalars(db.select(model.id)))


@both_databases
def test_store_scope_shows_each_model_only_the_stores_own_rows(app, two_chains):
    stores, rows = two_chains
    failures = []
    for viewer in ("a1", "b2"):
        with app.app_context(), tenancy.store_scope(stores[viewer]):
            for model, ids in rows.items():
                wanted = expected_names(model, viewer, chain_only=False)
                seen = visible_ids(model) & set(ids.values())
                if seen != {ids[n] for n in wanted}:
                    failures.append(f"{model.__name__} in store {viewer}: sees {seen}")
                for name in set(ids) - wanted:
                    if db.session.get(model, ids[name]) is not None:
                        failures.append(f"{model.__name__}: store {viewer} got {name}'s row by id")
            db.session.remove()
    assert not failures, "\n".join(failures)


@both_databases
def test_chain_scope_shows_each_model_only_the_chains_rows(app, two_chains):
    stores, rows = two_chains
    failures = []
    with app.app_context(), tenancy.chain_scope(stores["a1"].chain):
        for model, ids in rows.items():
            seen = visible_ids(model) & set(ids.values())
            if seen != {ids["a1"], ids["a2"]}:
                failures.append(f"{model.__name__} in chain A: sees {seen}")
            if db.session.get(model, ids["b1"]) is not None:
                failures.append(f"{model.__name__}: chain A got chain B's row by id")
        db.session.remove()
    assert not failures, "\n".join(failures)


@both_databases
def test_every_model_query_without_a_scope_fails_closed(app, two_chains):
    _stores, rows = two_chains
    with app.app_context():
        for model in rows:
            with pytest.raises(tenancy.TenantScopeMissing):
                db.session.scalars(db.select(model)).all()
        db.session.remove()


def test_a_model_without_factory_fails_with_a_clear_message():
    from shopbuilder.models import ChainOwned

    class Gadget(ChainOwned):
        __module__ = "shopbuilder_gadgets.models"

    with pytest.raises(MissingSeedFactory, match="add a seed factory for .*Gadget"):
        find_seed_factory(Gadget)
