"""Plugin API routes: same auth, errors and description as the core, only where enabled."""

from __future__ import annotations

import pytest
from api_support import DEMO_STORE
from marshmallow import Schema, fields

from shopbuilder.api import api_blueprint, current_customer, operation, problem
from shopbuilder.plugins import PluginMeta, hookimpl
from shopbuilder.testing import set_plugin_enabled


class Code(Schema):
    code = fields.String(required=True)


class ShareCodePlugin:
    """A plugin as a third party would write it, with one API route."""

    meta = PluginMeta(name="sharecode", title="Share codes", version="1.0")

    @hookimpl
    def shopbuilder_app_api_blueprints(self, app):
        bp = api_blueprint("sharecode_api", __name__, "/stores/<store>/share-code")

        @bp.get("")
        @operation("The customer's share code", tags=["distribution"], auth=True,
                   response=Code)
        def share_code():
            return {"code": f"C{current_customer().id}"}

        @bp.get("/broken")
        @operation("Always refuses", tags=["distribution"], response=Code,
                   responses={409: "Refused."})
        def broken():
            raise problem("conflict", "Nothing to share yet.")

        return [bp]


@pytest.fixture
def app_config():
    return {"EXTRA_PLUGINS": [ShareCodePlugin()]}


@pytest.fixture
def enabled_here(app, demo):
    from shopbuilder.extensions import db
    from shopbuilder.models import Store
    from shopbuilder.testing import in_app

    with in_app(app):
        store = db.session.scalar(db.select(Store).where(Store.slug == DEMO_STORE))
        db.session.expunge(store)
    set_plugin_enabled(app, store, "sharecode", True)


def test_plugin_route_works_where_enabled_with_the_api_token(client, auth, enabled_here):
    response = client.get(f"/api/v1/stores/{DEMO_STORE}/share-code", headers=auth)
    assert response.status_code == 200
    assert response.get_json()["code"].startswith("C")


def test_plugin_route_is_404_where_not_enabled(client, auth, enabled_here):
    response = client.get("/api/v1/stores/riverside/share-code", headers=auth)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_plugin_route_needs_a_token_and_answers_problems(client, enabled_here):
    response = client.get(f"/api/v1/stores/{DEMO_STORE}/share-code")
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorized"
    response = client.get(f"/api/v1/stores/{DEMO_STORE}/share-code/broken")
    assert response.status_code == 409
    assert response.get_json()["detail"] == "Nothing to share yet."


def test_description_shows_plugin_routes_only_for_stores_that_enabled_them(
        client, enabled_here):
    everything = client.get("/api/v1/openapi.json").get_json()
    path = "/api/v1/stores/{store}/share-code"
    assert everything["paths"][path]["get"]["x-plugin"] == "sharecode"
    assert everything["paths"][path]["get"]["security"] == [{"bearerAuth": []}]
    here = client.get(f"/api/v1/stores/{DEMO_STORE}/openapi.json").get_json()
    assert path in here["paths"]
    elsewhere = client.get("/api/v1/stores/riverside/openapi.json").get_json()
    assert path not in elsewhere["paths"]
    assert "/api/v1/stores/{store}/products" in elsewhere["paths"]
