"""Every route that takes an object id answers 404 for another tenant's object.

The test walks ``app.url_map``, so routes added later by any area or plugin are
covered automatically. Convention (docs/architecture.md): an id argument is
``<int:<table>_id>`` (``store_id``, ``product_id``, ``order_id``...); any other
name must be registered with ``shopbuilder.testing.register_id_argument``, which
also covers identifiers that are not ids (an order's ``<number>``). A route with
an id argument this test cannot map fails, so nothing slips through.
"""

from __future__ import annotations

import re

import pytest

from shopbuilder.extensions import db
from shopbuilder.models import StoreOptional, StoreOwned, User
from shopbuilder.testing import (
    API_CREDENTIALS,
    ID_ARGUMENT_ATTRIBUTES,
    ID_ARGUMENT_MODELS,
    MissingSeedFactory,
    example_url_values,
    in_app,
    login,
    make_chain,
    make_customer,
    make_staff,
    make_store,
    model_for_id_argument,
    seed,
    url_value_of,
)

ARGUMENT = re.compile(r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\([^)]*\))?:)?(?P<name>\w+)>")
TENANT_ARGUMENTS = {"store", "chain"}


def id_arguments(rule) -> list[str]:
    """Arguments that name an object: ``int`` converters, names ending in ``_id`` and
    registered identifiers (``<number>`` of an order)."""
    found = []
    for match in ARGUMENT.finditer(rule.rule):
        name, converter = match["name"], match["converter"]
        if name in TENANT_ARGUMENTS:
            continue
        if converter == "int" or name.endswith("_id") or name in ID_ARGUMENT_MODELS:
            found.append(name)
    return found


model_for = model_for_id_argument


def store_bound(model) -> bool:
    """Rows another store of the same chain must not reach (chain-wide rows it may)."""
    return model.__name__ in ("Store", "User") or issubclass(model, StoreOwned | StoreOptional)


@pytest.fixture
def world(app):
    """Chain A with stores a1 (ours) and a2, chain B with b1; principals of a1 / chain A."""
    chain_a, chain_b = make_chain(app, "chain-a", "A"), make_chain(app, "chain-b", "B")
    a1, a2 = make_store(app, chain_a, "a-one"), make_store(app, chain_a, "a-two")
    b1 = make_store(app, chain_b, "b-one")
    principals = {
        "manager": (make_staff(app, "manager@a1.test", chain_a, a1, "manager"), a1),
        "clerk": (make_staff(app, "clerk@a1.test", chain_a, a1, "clerk"), a1),
        "customer": (make_customer(app, chain_a, "customer@a1.test", home_store=a1), a1),
        "hq": (make_staff(app, "hq@a.test", chain_a, None, "hq"), None),
    }
    return {"chain": chain_a, "a1": a1, "a2": a2, "b1": b1, "principals": principals}


def routes_with_ids(app):
    for rule in app.url_map.iter_rules():
        names = id_arguments(rule)
        if names:
            yield rule, names


def test_every_id_argument_maps_to_a_model_with_a_seed_factory(app, world):
    problems = []
    with in_app(app) as session:
        for rule, names in routes_with_ids(app):
            for name in names:
                model = model_for(name)
                if model is None:
                    problems.append(
                        f"{rule.rule} ({rule.endpoint}): id argument <{name}> names no model; "
                        f"call it <int:<table>_id> or register_id_argument('{name}', Model)"
                    )
                    continue
                try:
                    seed(session, model, world["b1"])
                except MissingSeedFactory as exc:
                    problems.append(f"{rule.rule}: {exc}")
        session.rollback()
    assert not problems, "\n".join(problems)


def targets(app, world, names, customer=None):
    """Objects of another store of our chain and of another chain, per id argument.

    With ``customer``, the other store's rows that belong to a customer are made theirs:
    a member's own order placed at another store of the chain must not open on this
    store's site either.
    """
    found = {}
    with in_app(app) as session:
        for where in ("a2", "b1"):
            values = {}
            for name in names:
                model = model_for(name)
                if model is None:
                    return {}
                if where == "a2" and not store_bound(model):
                    values = None
                    break
                row = seed(session, model, world[where])
                if customer is not None and where == "a2" and hasattr(row, "customer_id"):
                    row.customer_id = customer.id
                    session.flush()
                values[name] = url_value_of(name, row)
            if values:
                found[where] = values
        session.commit()
    return found


def fill(rule, world, ids) -> dict:
    values = {}
    for name in rule.arguments:
        if name == "store":
            values[name] = world["a1"].slug
        elif name == "chain":
            values[name] = world["chain"].slug
        elif name in ids:
            values[name] = ids[name]
    return {**example_url_values(rule), **values}


#: An id no row has (below the API's own 2**31 - 1 bound).
MISSING_ID = 2_000_000_000
#: A value no row has in a registered non-id column (an order number).
MISSING_VALUE = "no-such-0"


def missing_value(name: str):
    return MISSING_VALUE if name in ID_ARGUMENT_ATTRIBUTES else MISSING_ID


def refused_alike_for_a_missing_id(app, client, rule, world, ids, method, headers,
                                   response) -> bool:
    """The API checks input (415, 422...) before it looks the object up: such a refusal,
    given alike for an id that exists nowhere, tells nothing about the other tenant."""
    if not 400 <= response.status_code < 500:
        return False
    with app.test_request_context():
        missing = {name: missing_value(name) for name in ids}
        nowhere = app.url_for(rule.endpoint, **fill(rule, world, missing))
    answer = client.open(nowhere, method=method, headers=headers)
    return answer.status_code == response.status_code


def cross_tenant_responses(app, world) -> tuple[int, list[str]]:
    """Request every id route, as every principal, with other tenants' objects."""
    checked, failures = 0, []
    rules = list(routes_with_ids(app))
    for role, (account, store) in world["principals"].items():
        client = app.test_client()
        login(client, account, store=store, chain=world["chain"])
        owner = account if role == "customer" else None
        for rule, names in rules:
            for where, ids in targets(app, world, names, customer=owner).items():
                if role == "hq" and where == "a2":
                    continue  # HQ may reach every store of its own chain
                with app.test_request_context():
                    url = app.url_for(rule.endpoint, **fill(rule, world, ids))
                headers = {}
                if rule.rule.startswith("/api/"):
                    # The API takes tokens, not the session cookie.
                    if not API_CREDENTIALS:
                        failures.append(f"{url}: API id route, but no register_api_credentials "
                                        "in shopbuilder.testing to call it as a tenant's user")
                        continue
                    headers = API_CREDENTIALS[0](client, account, store)
                    if headers is None:
                        continue
                methods = (rule.methods or set()) & {"GET", "POST", "PUT", "PATCH", "DELETE"}
                for method in sorted(methods):
                    response = client.open(url, method=method, headers=headers)
                    checked += 1
                    if response.status_code == 404 or (
                        rule.rule.startswith("/api/")
                        and refused_alike_for_a_missing_id(
                            app, client, rule, world, ids, method, headers, response)
                    ):
                        continue
                    failures.append(f"{role} {method} {url} ({where}'s object): "
                                    f"{response.status_code}")
    return checked, failures


def test_another_tenants_object_id_answers_404_for_staff_and_customers(app, world):
    checked, failures = cross_tenant_responses(app, world)
    assert not failures, "\n".join(failures)
    assert checked, "no route with an object id was checked"


def test_the_walker_catches_a_route_that_leaks(app, world):
    def leaky(store_id):
        from shopbuilder.models import Store

        return db.session.get(Store, store_id).name  # no chain check: a leak

    app.add_url_rule("/leak/<int:store_id>", "leaky", leaky)
    _checked, failures = cross_tenant_responses(app, world)
    assert any("/leak/" in f and "200" in f for f in failures)


def test_the_walker_catches_a_leak_by_order_number(app, world):
    from shopbuilder import tenancy
    from shopbuilder.models import Order

    def leaky_order(number):
        with tenancy.unscoped():  # looks past the guard: a leak
            return db.session.scalar(db.select(Order.number).where(Order.number == number))

    app.add_url_rule("/s/<store>/leak/<number>", "leaky_order", leaky_order)
    _checked, failures = cross_tenant_responses(app, world)
    assert any("/leak/" in f and "200" in f for f in failures)


def test_the_walker_sees_the_hq_store_routes(app):
    endpoints = {rule.endpoint for rule, _names in routes_with_ids(app)}
    assert {"hq.store_edit", "hq.store_suspend", "hq.store_staff_page"} <= endpoints


def test_the_walker_sees_the_customers_order_pages_by_number(app):
    endpoints = {rule.endpoint for rule, names in routes_with_ids(app) if "number" in names}
    assert {"shop_orders.order_detail", "shop_orders.order_cancel"} <= endpoints


def test_an_unmappable_id_argument_is_reported(app):
    app.add_url_rule("/s/<store>/things/<int:gadget>", "gadget_view", lambda gadget: "x")
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "gadget_view")
    assert id_arguments(rule) == ["gadget"] and model_for("gadget") is None


def test_user_ids_reach_only_staff_of_the_same_store(app, world):
    # The User seed factory makes a clerk of the store it is given: that is what
    # makes <int:user_id> routes store-bound for this test.
    with in_app(app) as session:
        user = seed(session, User, world["b1"])
        assert user.email.endswith("@seed.test")
        session.rollback()
