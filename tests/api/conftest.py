"""Fixtures for the API tests: demo data, a signed-in customer, and the contract checker."""

from __future__ import annotations

import re
from datetime import timedelta

import jsonschema
import pytest
from api_support import DEMO_CHAIN, DEMO_CUSTOMER, DEMO_STORE, LEADER, operations, sign_in

from shopbuilder.demo import DEMO_PASSWORD, load_demo
from shopbuilder.testing import in_app


@pytest.fixture
def demo(app):
    """The demo chain (three stores, eight products, one customer) in the test database."""
    with in_app(app):
        load_demo(echo=lambda *args: None, orders=False, social=False)
    return {"store": DEMO_STORE, "chain": DEMO_CHAIN, "email": DEMO_CUSTOMER,
            "password": DEMO_PASSWORD}


@pytest.fixture
def token(client, demo):
    return sign_in(client)


@pytest.fixture
def auth(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def spec(client, demo):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _template_matches(template: str, path: str) -> bool:
    pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
    return re.match(pattern, path) is not None


class Contract:
    """Checks a response against the operation the description declares for it.

    Tests name the operation by its id (``contract.check(response, "api_get_cart")``),
    which ``test_api_contract_coverage.py`` reads to prove every operation has one.
    """

    def __init__(self, spec: dict):
        self.spec = spec
        self.by_id = operations(spec)

    def check(self, response, operation_id: str) -> None:
        assert operation_id in self.by_id, f"{operation_id} is not in the description"
        method, template, operation = self.by_id[operation_id]
        request = response.request
        assert request.method.lower() == method and _template_matches(template, request.path), (
            f"{request.method} {request.path} is not {operation_id} ({method} {template})")
        status = str(response.status_code)
        assert status in operation["responses"], (
            f"{operation_id} answered {status}, described: {sorted(operation['responses'])}")
        described = operation["responses"][status]
        content = described.get("content")
        if not content:
            assert not response.data, f"{status} should have no body"
            return
        media_type = response.mimetype
        assert media_type in content, f"{media_type} not in {sorted(content)}"
        schema = content[media_type]["schema"]
        document = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                    "components": self.spec["components"], **schema}
        jsonschema.validate(response.get_json(), document,
                            cls=jsonschema.Draft202012Validator)


@pytest.fixture
def contract(spec):
    return Contract(spec)


@pytest.fixture
def social(app, demo):
    """The demo store with every plugin on: pickup (HQ's default), group-buy, distribution.

    A group-buy campaign on LJ-50 with an open group led (and paid) by another
    customer, and both customers active distributors. Returns their ids and codes.
    """
    from shopbuilder_distribution import service as distribution
    from shopbuilder_groupbuy import service as groupbuy

    from shopbuilder import clock, tenancy
    from shopbuilder.extensions import db
    from shopbuilder.models import Chain, Customer, Store, Variant
    from shopbuilder.services import orders
    from shopbuilder.testing import make_customer, set_plugin_enabled

    with in_app(app):
        store = db.session.scalar(db.select(Store).where(Store.slug == DEMO_STORE))
        chain = store.chain
        db.session.expunge_all()
    for name in ("groupbuy", "distribution"):
        set_plugin_enabled(app, store, name)
    leader = make_customer(app, chain, email=LEADER, name="李雷")
    now = clock.now()
    with app.test_request_context(), tenancy.store_scope(db.session.get(Store, store.id)):
        store_row, chain_row = db.session.get(Store, store.id), db.session.get(Chain, chain.id)
        variant = db.session.scalar(db.select(Variant).where(Variant.sku == "LJ-50"))
        campaign = groupbuy.create_campaign(groupbuy.CampaignInput(
            title="龙井三人团", variant_id=variant.id, group_price_fen=9900, group_size=3,
            fill_hours=24, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=7),
            unit_cap=30, per_customer_limit=2, per_order_limit=2), chain_row, store_row)
        checkout = orders.Checkout(fulfilment_code="delivery", payment_provider="offline",
                                   contact_name="李雷", contact_phone="13900000000",
                                   address="杭州市 2 号")
        order = groupbuy.start_group(store_row, db.session.get(Customer, leader.id), campaign,
                                     checkout, 1)
        orders.mark_paid(order, "clerk@west-lake.example")
        group_id = groupbuy.member_for_order(order.id).group_id
        codes = {}
        for email in (DEMO_CUSTOMER, LEADER):
            who = db.session.scalar(db.select(Customer).where(Customer.email == email))
            distributor = distribution.apply(chain_row, who, store_row)
            if distributor.status != "active":
                distribution.decide(distributor, True, "hq@mingcha.example")
            codes[email] = distributor.code
        db.session.commit()
        return {"product_id": variant.product_id, "variant_id": variant.id,
                "campaign_id": campaign.id, "group_id": group_id, "leader": LEADER,
                "share_code": codes[DEMO_CUSTOMER], "leader_share_code": codes[LEADER]}
