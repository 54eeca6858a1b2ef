"""A customer signs up at a store: a member of its chain, won by that store."""

from __future__ import annotations

import pytest

from shopbuilder.extensions import db
from shopbuilder.models import Customer
from shopbuilder.testing import in_app

SIGN_UP = {"name": "Lin Mei", "email": "Lin.Mei@Example.com", "password": "long-enough-1",
           "confirm": "long-enough-1"}


@pytest.fixture(autouse=True)
def english(client):
    client.set_cookie("lang", "en")


def customers(app, email="lin.mei@example.com"):
    with in_app(app):
        return [(c.chain_id, c.home_store_id, c.name) for c in db.session.scalars(
            db.select(Customer).where(Customer.email == email).order_by(Customer.id))]


def test_registering_at_a_store_makes_it_the_home_store_and_signs_in(
        app, client, chain, store, other_store):
    response = client.post(f"/s/{store.slug}/register", data=SIGN_UP)
    assert response.status_code == 302
    assert customers(app) == [(chain.id, store.id, "Lin Mei")]
    assert client.get(f"/s/{store.slug}/account").status_code == 200
    # A member of the chain is signed in at its other stores too.
    assert client.get(f"/s/{other_store.slug}/account").status_code == 200


def test_the_same_email_cannot_register_twice_in_one_chain(app, client, store, other_store):
    client.post(f"/s/{store.slug}/register", data=SIGN_UP)
    client.post(f"/s/{store.slug}/logout")
    again = client.post(f"/s/{other_store.slug}/register",
                        data={**SIGN_UP, "email": "lin.mei@EXAMPLE.com", "name": "Other"})
    assert again.status_code == 200
    assert "An account with this email exists; sign in instead." in again.get_data(as_text=True)
    assert [name for _c, _s, name in customers(app)] == ["Lin Mei"]


def test_the_same_email_registers_separately_in_another_chain(
        app, client, chain, store, other_chain, other_chain_store):
    client.post(f"/s/{store.slug}/register", data=SIGN_UP)
    # Signed in at one chain is never signed in at another.
    assert client.get(f"/s/{other_chain_store.slug}/account").status_code == 302
    response = client.post(f"/s/{other_chain_store.slug}/register",
                           data={**SIGN_UP, "password": "another-pass-2",
                                 "confirm": "another-pass-2"})
    assert response.status_code == 302
    assert customers(app) == [(chain.id, store.id, "Lin Mei"),
                              (other_chain.id, other_chain_store.id, "Lin Mei")]
