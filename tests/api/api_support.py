"""Constants and small helpers shared by the API tests."""

from __future__ import annotations

from shopbuilder import tenancy
from shopbuilder.demo import DEMO_PASSWORD
from shopbuilder.extensions import db
from shopbuilder.models import Payment
from shopbuilder.payments import sandbox

DEMO_STORE = "west-lake"
DEMO_CHAIN = "mingcha"
DEMO_CUSTOMER = "customer@example.com"
#: Another customer of the chain, who leads the group-buy group of ``social``.
LEADER = "leader@example.com"


def operations(spec: dict) -> dict[str, tuple[str, str, dict]]:
    """``{operationId: (method, path template, operation)}`` of a description."""
    return {op["operationId"]: (method, path, op)
            for path, ops in spec["paths"].items() for method, op in ops.items()}


def sign_in(client, store=DEMO_STORE, email=DEMO_CUSTOMER, password=DEMO_PASSWORD) -> str:
    response = client.post(f"/api/v1/stores/{store}/auth/token",
                           json={"email": email, "password": password})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["access_token"]




def pay_like_the_gateway(app, client, payment_id: int, store=DEMO_STORE,
                         status: str = "SUCCESS") -> None:
    """Deliver the signed callback the sandbox gateway sends after the customer pays.

    ``status="FAIL"``: what it sends when the customer's payment failed.
    """
    with app.app_context(), tenancy.unscoped():
        payment = db.session.get(Payment, payment_id)
        body, headers = sandbox.build_notification(payment, status)
    response = client.post(f"/s/{store}/pay/sandbox/notify", data=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
