"""A page number nobody could reach (``?page=99999999999999999999``) is a page, never a 500."""

from __future__ import annotations

import pytest

from shopbuilder.testing import login

HUGE = "99999999999999999999"


@pytest.mark.parametrize("who, url", [
    ("admin", "/admin/"),
    ("hq", "/hq/acme/stores"),
    ("hq", "/hq/acme/ledger/"),
    ("hq", "/hq/acme/after-sales/?state="),
    ("manager", "/s/north/manage/orders/"),
    ("customer", "/s/north/orders"),
])
@pytest.mark.parametrize("page", [HUGE, "-3", "two", ""])
def test_any_page_number_answers_a_page(app, client, store, admin_user, hq_user, manager,
                                        customer, chain, who, url, page):
    account = {"admin": admin_user, "hq": hq_user, "manager": manager,
               "customer": customer}[who]
    login(client, account, store=store if who in ("manager", "customer") else None,
          chain=chain)
    joiner = "&" if "?" in url else "?"
    response = client.get(f"{url}{joiner}page={page}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
