"""Constants and small helpers shared by the API tests."""

from __future__ import annotations

from shopbuilder.demo import DEMO_PASSWORD

DEMO_STORE = "west-lake"
DEMO_CHAIN = "mingcha"
DEMO_CUSTOMER = "customer@example.com"



def sign_in(client, store=DEMO_STORE, email=DEMO_CUSTOMER, password=DEMO_PASSWORD) -> str:
    response = client.post(f"/api/v1/stores/{store}/auth/token",
                           json={"email": email, "password": password})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["access_token"]


