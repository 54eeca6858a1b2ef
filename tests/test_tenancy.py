"""Tenancy: how a request finds its store, and the guard that keeps tenants apart."""

from __future__ import annotations

import pytest

from shopbuilder import tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Customer, Product, StaffRole
from shopbuilder.testing import in_app, make_customer


def test_query_without_tenant_scope_fails_closed(app, customer):
    with app.app_context():
        with pytest.raises(tenancy.TenantScopeMissing):
            db.session.scalars(db.select(Customer)).all()


def test_chain_scope_hides_other_chains_customers(app, chain, other_chain, store):
    mine = make_customer(app, chain, "mine@example.com")
    make_customer(app, other_chain, "theirs@example.com")
    with app.app_context(), tenancy.chain_scope(chain):
        emails = db.session.scalars(db.select(Customer.email)).all()
        assert emails == [mine.email]
        # Even an explicit lookup by another chain's id finds nothing.
        with tenancy.unscoped():
            other_id = db.session.scalar(
                db.select(Customer.id).where(Customer.chain_id == other_chain.id)
            )
        assert db.session.get(Customer, other_id) is None


def test_store_scope_sees_chain_products_and_only_its_own_local_ones(
    app, chain, store, other_store
):
    with in_app(app) as session:
        session.add_all([
            Product(chain_id=chain.id, title="master"),
            Product(chain_id=chain.id, store_id=store.id, title="north local"),
            Product(chain_id=chain.id, store_id=other_store.id, title="south local"),
        ])
        session.commit()
    with app.app_context(), tenancy.store_scope(store):
        titles = sorted(db.session.scalars(db.select(Product.title)))
    assert titles == ["master", "north local"]


def test_store_scope_applies_to_staff_roles(app, chain, store, other_store, manager):
    with in_app(app) as session:
        session.add(StaffRole(user_id=manager.id, chain_id=chain.id, store_id=other_store.id,
                              role="clerk"))
        session.commit()
    with app.app_context(), tenancy.store_scope(store):
        roles = db.session.scalars(db.select(StaffRole.role)).all()
    assert roles == ["manager"]


def test_unknown_store_is_plain_404(client, store):
    response = client.get("/s/no-such-store/")
    assert response.status_code == 404
    assert store.name not in response.get_data(as_text=True)


def test_suspended_store_answers_503_in_its_own_brand(app, client, store):
    with in_app(app) as session:
        session.get(type(store), store.id).status = "suspended"
        session.commit()
    response = client.get(f"/s/{store.slug}/")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert store.name in page
    assert "ShopBuilder" not in page


def test_store_found_by_subdomain_and_links_drop_the_path_prefix(app, client, store):
    app.config["BASE_DOMAIN"] = "shops.test"
    response = client.get("/login", base_url=f"http://{store.slug}.shops.test")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'href="/register"' in page
    assert f"/s/{store.slug}/" not in page


def test_store_found_by_custom_domain(app, client, store):
    with in_app(app) as session:
        session.get(type(store), store.id).custom_domain = "tea.example.cn"
        session.commit()
    response = client.get("/", base_url="http://tea.example.cn")
    assert response.status_code == 200
    assert store.name in response.get_data(as_text=True)


def test_path_mode_links_keep_the_store_prefix(client, store):
    page = client.get(f"/s/{store.slug}/login").get_data(as_text=True)
    assert f'href="/s/{store.slug}/register"' in page
