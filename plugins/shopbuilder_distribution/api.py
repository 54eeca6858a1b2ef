"""Distribution JSON API for mini-program clients, under ``/api/v1/stores/<store>/distribution``.

Follows ``docs/api.md``: bearer-token customers, problem+json errors, routes
answer 404 in stores without the plugin. Mini-programs keep no cookies, so a
client that opened a shared link posts its code to ``/bindings`` instead.
"""

from __future__ import annotations

from flask import g, url_for
from flask_babel import gettext as _
from marshmallow import Schema, fields, validate

from shopbuilder.api import api_blueprint, current_customer, operation, problem
from shopbuilder.extensions import db
from shopbuilder.services import storefront_catalogue as sf

from . import service
from .models import DistributorStatus

bp = api_blueprint("distribution_api", __name__, url_prefix="/stores/<store>/distribution")


class ShareQuery(Schema):
    product_id = fields.Integer(load_default=None, allow_none=True,
                                validate=validate.Range(min=1, max=2**31 - 1))


class BindBody(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=16))


# -- answers, as the OpenAPI description shows them to client developers ---------------------


class ShareOut(Schema):
    code = fields.String(required=True, metadata={
        "description": "The distributor's share code: links carry it as `ref`."})
    link = fields.String(required=True, metadata={"description": "The page to share."})
    poster_url = fields.String(required=True, metadata={
        "description": "A PNG share poster (product, price, QR code)."})


class CentreOut(Schema):
    code = fields.String(required=True)
    grade = fields.String(required=True, allow_none=True)
    frozen_fen = fields.Integer(required=True, metadata={
        "description": "Commission inside the after-sale window."})
    withdrawable_fen = fields.Integer(required=True)
    pending_withdrawal_fen = fields.Integer(required=True)
    withdrawn_fen = fields.Integer(required=True)
    customers = fields.Integer(required=True, metadata={"description": "Customers bound to you."})
    team = fields.Integer(required=True, metadata={"description": "Distributors recruited."})


class BindingOut(Schema):
    distributor_code = fields.String(required=True, metadata={
        "description": "Who the customer is bound to now (the earlier one while protected)."})
    expires_at = fields.DateTime(required=True, allow_none=True, metadata={
        "description": "End of the protection period; null: permanent."})


def _distributor():
    customer = current_customer()
    row = service.distributor_of(g.chain.id, customer.id)
    if row is None or row.status != DistributorStatus.ACTIVE:
        raise problem("not_found", _("You are not a distributor of this shop."))
    return row


@bp.get("/share")
@operation("The signed-in distributor's share code and link (for a product or the store)",
           tags=["distribution"], auth=True, query=ShareQuery, response=ShareOut)
def share(query):
    row = _distributor()
    if query.get("product_id") and sf.product(g.store, query["product_id"]) is None:
        raise problem("not_found")  # no link to what this store does not sell
    if query.get("product_id"):
        link = url_for("storefront.product", store=g.store.slug,
                       product_id=query["product_id"], ref=row.code, _external=True)
        poster = url_for("distribution.product_poster", store=g.store.slug,
                         product_id=query["product_id"], _external=True)
    else:
        link = url_for("storefront.home", store=g.store.slug, ref=row.code, _external=True)
        poster = url_for("distribution.store_poster", store=g.store.slug, _external=True)
    return {"code": row.code, "link": link, "poster_url": poster}


@bp.get("/centre")
@operation("The distributor centre's figures: frozen, withdrawable, withdrawn (fen)",
           tags=["distribution"], auth=True, response=CentreOut)
def centre():
    row = _distributor()
    s = service.summary(row)
    return {"code": row.code, "grade": row.grade.name if row.grade else None,
            "frozen_fen": s.frozen_fen + s.settling_fen, "withdrawable_fen": s.balance_fen,
            "pending_withdrawal_fen": s.pending_withdrawal_fen,
            "withdrawn_fen": s.withdrawn_fen, "customers": s.customers, "team": s.team}


@bp.post("/bindings")
@operation("Bind the signed-in customer to the distributor whose link they opened",
           tags=["distribution"], auth=True, body=BindBody, response=BindingOut)
def bind(body):
    customer = current_customer()
    binding = service.bind(g.chain, customer.id, body["code"], g.store)
    db.session.commit()
    if binding is None:
        raise problem("not_found", _("No distributor has that code here."))
    return {"distributor_code": service.get_distributor(g.chain.id,
                                                        binding.distributor_id).code,
            "expires_at": binding.expires_at.isoformat() if binding.expires_at else None}
