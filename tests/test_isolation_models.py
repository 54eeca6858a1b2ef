"""Every tenant-owned model, core or plugin, is hidden from other tenants by the guard.

The models are discovered from SQLAlchemy's registry, so a model added later is
covered without anyone editing this file; building its rows needs a seed
factory (see ``shopbuilder/testing.py``), and a model without one fails here.
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, exists, func, select, update

from shopbuilder import tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Order, Store, StoreOptional, StoreOwned
from shopbuilder.testing import (
    MissingSeedFactory,
    find_seed_factory,
    in_app,
    login,
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


# -- statements that name a model without returning it --------------------------------------
#
# Counting pages ("Orders (6)"), EXISTS checks and subqueries read a table without loading its
# entities; the guard must narrow them exactly as it narrows ``select(Model)``.


def _count_over_subquery(model, ids):
    return db.session.scalar(
        select(func.count()).select_from(select(model).where(model.id.in_(ids)).subquery()))


def _count_select_from(model, ids):
    return db.session.scalar(select(func.count()).select_from(model).where(model.id.in_(ids)))


def _scalar_subquery(model, ids):
    return db.session.scalar(
        select(select(func.count(model.id)).where(model.id.in_(ids)).scalar_subquery()))


def _subquery_column(model, ids):
    column = select(model.id).where(model.id.in_(ids)).subquery().c.id
    return len(set(db.session.scalars(select(column))))


def _exists(model, ids):
    return sum(bool(db.session.scalar(select(exists().where(model.id == i)))) for i in ids)


def _update(model, ids):
    # A no-op UPDATE: its row count says which rows the statement could reach.
    result = db.session.execute(
        update(model).where(model.id.in_(ids)).values(chain_id=model.chain_id)
        .execution_options(synchronize_session=False))
    return result.rowcount


INDIRECT_READS = {
    "count over a subquery": _count_over_subquery,
    "count with select_from": _count_select_from,
    "scalar subquery": _scalar_subquery,
    "subquery column": _subquery_column,
    "exists": _exists,
    "ORM UPDATE": _update,
}


def _indirect_failures(model, ids: dict[str, int], wanted: set[str], where: str) -> list[str]:
    failures = []
    every_id = sorted(set(ids.values()))  # a chain-wide row may serve both of its stores
    ours = {ids[n] for n in wanted}
    for form, reach in INDIRECT_READS.items():
        got = reach(model, every_id)
        if got != len(ours):
            failures.append(f"{model.__name__} {form} in {where}: {got} rows, "
                            f"{len(ours)} expected")
    others = sorted(set(every_id) - ours)
    deleted = db.session.execute(
        delete(model).where(model.id.in_(others)).execution_options(synchronize_session=False)
    ).rowcount
    if deleted:
        failures.append(f"{model.__name__} ORM DELETE in {where} removed {deleted} other rows")
    db.session.rollback()
    return failures


@both_databases
def test_counts_exists_subqueries_and_writes_see_only_the_stores_rows(app, two_chains):
    stores, rows = two_chains
    failures = []
    with app.app_context(), tenancy.store_scope(stores["a1"]):
        for model, ids in rows.items():
            wanted = expected_names(model, "a1", chain_only=False)
            failures += _indirect_failures(model, ids, wanted, "store a1")
        db.session.remove()
    assert not failures, "\n".join(failures)


@both_databases
def test_counts_exists_subqueries_and_writes_see_only_the_chains_rows(app, two_chains):
    stores, rows = two_chains
    failures = []
    with app.app_context(), tenancy.chain_scope(stores["b1"].chain):
        for model, ids in rows.items():
            failures += _indirect_failures(model, ids, {"b1", "b2"}, "chain B")
        db.session.remove()
    assert not failures, "\n".join(failures)


def test_counts_and_subqueries_without_a_scope_fail_closed(app, two_chains):
    _stores, rows = two_chains
    failures = []
    with app.app_context():
        for model, ids in rows.items():
            for form, reach in INDIRECT_READS.items():
                try:
                    reach(model, list(ids.values()))
                except tenancy.TenantScopeMissing:
                    continue
                failures.append(f"{model.__name__} {form} ran with no scope")
            db.session.rollback()
        db.session.remove()
    assert not failures, "\n".join(failures)


# -- stores: every chain's staff see only their own chain's stores --------------------------


@both_databases
def test_a_chain_scope_sees_only_its_own_stores(app, two_chains):
    stores, _rows = two_chains
    ours = {stores["a1"].id, stores["a2"].id}
    with app.app_context(), tenancy.chain_scope(stores["a1"].chain):
        assert set(db.session.scalars(select(Store.id))) == ours
        assert db.session.get(Store, stores["b1"].id) is None
        assert db.session.scalar(select(func.count()).select_from(Store)) == 2
        assert not db.session.scalar(select(exists().where(Store.id == stores["b2"].id)))
        db.session.remove()


def test_a_store_scope_sees_the_stores_of_its_chain(app, two_chains):
    stores, _rows = two_chains
    with app.app_context(), tenancy.store_scope(stores["a1"]):
        # A customer of the chain may shop at any of its stores: siblings stay visible.
        assert set(db.session.scalars(select(Store.slug))) == {"a-one", "a-two"}
        db.session.remove()


def test_finding_a_store_by_slug_sees_every_chain_on_purpose(app, two_chains):
    stores, _rows = two_chains
    with app.app_context(), tenancy.chain_scope(stores["a1"].chain):
        stmt = tenancy.any_chain(select(Store.slug).where(Store.slug == "b-one"))
        assert db.session.scalar(stmt) == "b-one"
        db.session.remove()


# -- the live leak the audit found ----------------------------------------------------------


def _seed_orders(app, store, count: int) -> list[str]:
    with in_app(app) as session:
        numbers = [seed(session, Order, store).number for _ in range(count)]
        session.commit()
    return numbers


def test_manager_order_count_and_search_ignore_another_stores_orders(
        app, client, store, other_store, manager):
    ours = _seed_orders(app, store, 2)
    theirs = _seed_orders(app, other_store, 6)
    login(client, manager, store=store)

    listing = client.get("/s/north/manage/orders/?lang=en").get_data(as_text=True)
    searched = client.get(f"/s/north/manage/orders/?lang=en&q={theirs[0]}").get_data(as_text=True)

    # The other store's six orders must not show, not even as a count (an existence oracle).
    assert "<small>(2)</small>" in listing and ours[0] in listing
    assert not any(number in listing for number in theirs)
    assert "<small>(0)</small>" in searched and "No orders match." in searched
