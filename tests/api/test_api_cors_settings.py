"""Who sets the web origins that may call the API (CORS): HQ for the chain, a manager per store."""

from __future__ import annotations

import pytest

from shopbuilder.testing import login

H5 = "https://h5.example.com"


def allowed(client, store, origin=H5) -> bool:
    """Whether a browser page on ``origin`` may read the store's API answers."""
    response = client.get(f"/api/v1/stores/{store.slug}", headers={"Origin": origin})
    return response.headers.get("Access-Control-Allow-Origin") == origin


def test_hq_list_reaches_every_store_until_one_sets_its_own(
        app, client, chain, store, other_store, hq_user, manager):
    hq = app.test_client()
    login(hq, hq_user, chain=chain)
    saved = hq.post(f"/hq/{chain.slug}/api/origins",
                    data={"origins": f"{H5}/\nHTTPS://Shop.Example.com:8443"})
    assert saved.status_code == 400  # a path (even "/") never matches a browser's Origin
    assert "h5.example.com/" in saved.get_data(as_text=True)
    saved = hq.post(f"/hq/{chain.slug}/api/origins",
                    data={"origins": f"{H5}\nHTTPS://Shop.Example.com:8443\n\n{H5}"})
    assert saved.status_code == 302
    assert allowed(client, store) and allowed(client, other_store)
    assert allowed(client, store, "https://shop.example.com:8443")
    assert not allowed(client, store, "https://evil.example")

    login(client, manager, store=store)
    page = client.get(f"/s/{store.slug}/manage/api/origins?lang=en").get_data(as_text=True)
    assert "Inherited from headquarters" in page and H5 in page
    assert client.post(f"/s/{store.slug}/manage/api/origins",
                       data={"origins": "https://north.example"}).status_code == 302
    assert allowed(client, store, "https://north.example") and not allowed(client, store)
    assert allowed(client, other_store)  # the other store still follows HQ

    assert client.post(f"/s/{store.slug}/manage/api/origins/inherit").status_code == 302
    assert allowed(client, store) and not allowed(client, store, "https://north.example")


def test_a_locked_hq_list_cannot_be_changed_by_a_store(
        app, client, chain, store, hq_user, manager):
    hq = app.test_client()
    login(hq, hq_user, chain=chain)
    hq.post(f"/hq/{chain.slug}/api/origins", data={"origins": H5, "lock": "y"})
    login(client, manager, store=store)
    page = client.get(f"/s/{store.slug}/manage/api/origins?lang=en").get_data(as_text=True)
    assert "Locked by headquarters" in page and "<textarea" not in page
    client.post(f"/s/{store.slug}/manage/api/origins", data={"origins": "*"})
    assert allowed(client, store) and not allowed(client, store, "https://other.example")


def test_an_invalid_origin_is_named_and_nothing_is_saved(client, store, manager):
    login(client, manager, store=store)
    response = client.post(f"/s/{store.slug}/manage/api/origins?lang=en",
                           data={"origins": "https://ok.example\nftp://files.example"})
    assert response.status_code == 400
    assert "ftp://files.example is not an origin" in response.get_data(as_text=True)
    assert not allowed(client, store, "https://ok.example")


@pytest.mark.parametrize("who", ["clerk", "other_manager"])
def test_only_the_stores_manager_sees_its_origins(app, client, chain, store, other_store, clerk,
                                                   who):
    from shopbuilder.testing import make_staff

    account = clerk if who == "clerk" else make_staff(
        app, "manager@south.test", chain, other_store, "manager")
    login(client, account, store=store if who == "clerk" else other_store)
    assert client.get(f"/s/{store.slug}/manage/api/origins").status_code == 404
    assert client.post(f"/s/{store.slug}/manage/api/origins",
                       data={"origins": "*"}).status_code == 404
    assert not allowed(client, store)


class TestWithCsrf:
    @pytest.fixture
    def app_config(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_a_change_without_the_forms_token_is_refused(self, client, store, manager):
        page = client.get(f"/s/{store.slug}/manage/login")
        token = page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1]
        client.post(f"/s/{store.slug}/manage/login", data={
            "email": manager.email, "password": "secret-pass-1",
            "csrf_token": token.split('"')[0]})
        response = client.post(f"/s/{store.slug}/manage/api/origins", data={"origins": "*"})
        assert response.status_code == 400
        assert not allowed(client, store, "https://any.example")
