"""Group-buy JSON API for mini-program clients, under ``/api/v1/stores/<store>/groupbuy``.

Follows ``docs/api.md``: bearer-token customers, problem+json errors, ids of
another store answer 404, starting and joining take an ``Idempotency-Key``.
"""

from __future__ import annotations

import hashlib

from flask import g
from marshmallow import Schema, fields, validate

from shopbuilder.api import (
    IDEMPOTENCY_HEADER,
    api_blueprint,
    current_customer,
    idempotency_key,
    operation,
    problem,
)
from shopbuilder.extensions import db
from shopbuilder.services import orders

from . import service
from .models import Group, GroupState

bp = api_blueprint("groupbuy_api", __name__, url_prefix="/stores/<store>/groupbuy")


class BuyBody(Schema):
    quantity = fields.Integer(load_default=1, validate=validate.Range(min=1, max=99))
    fulfilment = fields.String(required=True, validate=validate.Length(min=1, max=32))
    fulfilment_data = fields.Dict(keys=fields.String(), values=fields.String(),
                                  load_default=dict)
    payment_provider = fields.String(required=True, validate=validate.Length(min=1, max=32))
    contact_name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    contact_phone = fields.String(required=True, validate=validate.Length(min=1, max=32))
    address = fields.String(load_default="", validate=validate.Length(max=500))
    note = fields.String(load_default="", validate=validate.Length(max=500))
    ref = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


# -- answers, as the OpenAPI description shows them to client developers ---------------------


class CampaignOut(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    product_id = fields.Integer(required=True)
    variant_id = fields.Integer(required=True)
    group_price_fen = fields.Integer(required=True, metadata={"description": "Each member pays."})
    leader_price_fen = fields.Integer(required=True, allow_none=True, metadata={
        "description": "What the leader pays, when it differs from the group price."})
    single_price_fen = fields.Integer(required=True, metadata={
        "description": "The price of buying alone at this store."})
    group_size = fields.Integer(required=True)
    fill_hours = fields.Integer(required=True, metadata={
        "description": "Hours a group has to fill once the leader paid."})
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    per_customer_limit = fields.Integer(required=True)
    per_order_limit = fields.Integer(required=True)
    virtual_percent = fields.Integer(required=True, metadata={
        "description": "Virtual completion: a group at least this full (percent of "
                       "`group_size`) completes at its deadline anyway; 0: off."})


class CampaignList(Schema):
    items = fields.List(fields.Nested(CampaignOut), required=True)


class MemberOut(Schema):
    initial = fields.String(required=True, metadata={"description": "Masked name."})
    leader = fields.Boolean(required=True)


class GroupOut(Schema):
    id = fields.Integer(required=True)
    campaign_id = fields.Integer(required=True)
    state = fields.String(required=True, validate=validate.OneOf(
        [GroupState.OPEN, GroupState.SUCCEEDED, GroupState.FAILED, GroupState.CANCELLED]),
        metadata={"description": "`open` (joinable), `succeeded` (orders go ahead), `failed` "
                                 "(members refunded) or `cancelled`."})
    size = fields.Integer(required=True)
    members_paid = fields.Integer(required=True)
    seats_left = fields.Integer(required=True)
    expires_at = fields.DateTime(required=True, allow_none=True)
    seconds_left = fields.Integer(required=True)
    members = fields.List(fields.Nested(MemberOut), required=True)


class GroupList(Schema):
    items = fields.List(fields.Nested(GroupOut), required=True)


class GroupOrderRef(Schema):
    id = fields.Integer(required=True, metadata={
        "description": "Pay it with `POST /api/v1/stores/{store}/orders/{order_id}/payment`."})
    number = fields.String(required=True)
    state = fields.String(required=True)
    total_fen = fields.Integer(required=True)


class GroupOrderOut(Schema):
    order = fields.Nested(GroupOrderRef, required=True)
    group_id = fields.Integer(required=True, allow_none=True, metadata={
        "description": "The group; it is visible (`GET .../groupbuy/groups/{group_id}`) once "
                       "the leader has paid."})


#: Starting and joining place an order: documented like the core's checkout.
_BUY = {"response": GroupOrderOut, "headers": [IDEMPOTENCY_HEADER]}


def campaign_view(campaign) -> dict:
    return {
        "id": campaign.id, "title": campaign.title, "product_id": campaign.product_id,
        "variant_id": campaign.variant_id, "group_price_fen": campaign.group_price_fen,
        "leader_price_fen": campaign.leader_price_fen,
        "single_price_fen": service.single_price(g.store, campaign),
        "group_size": campaign.group_size, "fill_hours": campaign.fill_hours,
        "starts_at": campaign.starts_at.isoformat(), "ends_at": campaign.ends_at.isoformat(),
        "per_customer_limit": campaign.per_customer_limit,
        "per_order_limit": campaign.per_order_limit,
        "virtual_percent": campaign.virtual_percent,
    }


def group_view(group, members=None) -> dict:
    """One group as JSON; ``members``: its shown members when the caller loaded them."""
    if members is None:
        members = service.shown_members(group)
    return {
        "id": group.id, "campaign_id": group.campaign_id, "state": group.state,
        "size": group.size, "members_paid": group.paid_count,
        "seats_left": max(0, group.size - group.seats_taken),
        "expires_at": group.expires_at.isoformat() if group.expires_at else None,
        "seconds_left": service.seconds_left(group),
        "members": [{"initial": m.initial, "leader": m.is_leader}
                    for m in members],
    }


def _campaign(campaign_id: int):
    campaign = service.get_campaign(g.store, campaign_id)
    if campaign is None:
        raise problem("not_found")
    return campaign


def _group(group_id: int) -> Group:
    group = service.get_group(g.store, group_id)
    if group is None or group.state == GroupState.PENDING:
        raise problem("not_found")
    return group


@bp.get("/products/<int:product_id>/campaigns")
@operation("Group-buy campaigns running now for a product", tags=["groupbuy"],
           response=CampaignList)
def product_campaigns(product_id):
    return {"items": [campaign_view(c) for c in service.live_campaigns(g.store, product_id)]}


@bp.get("/campaigns/<int:campaign_id>/groups")
@operation("Open groups of a campaign that can be joined", tags=["groupbuy"],
           response=GroupList)
def open_groups(campaign_id):
    campaign = _campaign(campaign_id)
    customer = current_customer()
    groups = service.joinable_groups(g.store, campaign, getattr(customer, "id", None), limit=20)
    members = service.shown_members_of(groups)  # one query for every group listed
    return {"items": [group_view(gr, members[gr.id]) for gr in groups]}


@bp.get("/groups/<int:group_id>")
@operation("One group: state, members' initials, time left", tags=["groupbuy"],
           response=GroupOut)
def view_group(group_id):
    return group_view(_group(group_id))


def _key(customer, action: str) -> str:
    key = idempotency_key()  # the core's rule and message, as the description states
    return "gb:" + hashlib.sha256(f"{customer.id}:{action}:{key}".encode()).hexdigest()[:56]


def _checkout(body) -> orders.Checkout:
    return orders.Checkout(
        fulfilment_code=body["fulfilment"], payment_provider=body["payment_provider"],
        fulfilment_data=body["fulfilment_data"], contact_name=body["contact_name"],
        contact_phone=body["contact_phone"], address=body["address"], note=body["note"])


def _replayed(key: str, body) -> bool:
    """Whether this is a retry of a request already answered; 409 when the body differs.

    The key is per customer and per campaign or group (see :func:`_key`), so an
    order found by it is this customer's answer to the same action.
    """
    existing = orders.find_by_key(g.store, key, current_customer())
    if existing is None:
        return False
    member = service.member_for_order(existing.id)
    if (member is None or member.quantity != body["quantity"]
            or existing.fulfilment_code != body["fulfilment"]
            or existing.payment_provider != body["payment_provider"]):
        raise problem("idempotency_conflict")
    return True


def _order_answer(order) -> dict:
    member = service.member_for_order(order.id)
    return {"order": {"id": order.id, "number": order.number, "state": order.state,
                      "total_fen": order.total_fen},
            "group_id": member.group_id if member else None}


@bp.post("/campaigns/<int:campaign_id>/groups")
@operation("Start a group: places the leader's order (pay it to open the group)", **_BUY,
           tags=["groupbuy"], auth=True, body=BuyBody, status=201,
           description="A retry with the same `Idempotency-Key` returns the same order "
                       "(header `Idempotent-Replayed: true`); the same key with another "
                       "quantity, fulfilment or payment is a 409 `idempotency_conflict`.",
           responses={409: "Refused before paying (`checkout_refused`): sold out, limits; "
                           "or the key was used for another request."})
def start_group(campaign_id, body):
    campaign = _campaign(campaign_id)
    customer = current_customer()
    key = _key(customer, f"start{campaign.id}")
    replayed = _replayed(key, body)
    try:
        order = service.start_group(g.store, customer, campaign, _checkout(body),
                                    body["quantity"], key, body["ref"])
    except service.GroupError as exc:
        db.session.rollback()
        raise problem("checkout_refused", str(exc)) from exc
    return _order_answer(order), 201, _replay_headers(replayed)


@bp.post("/groups/<int:group_id>/members")
@operation("Join a group: takes a seat and places the order (pay it within the hold)", **_BUY,
           tags=["groupbuy"], auth=True, body=BuyBody, status=201,
           description="A retry with the same `Idempotency-Key` returns the same order "
                       "(header `Idempotent-Replayed: true`).",
           responses={409: "Refused before paying (`checkout_refused`): full, closed, "
                           "already a member, limits."})
def join_group(group_id, body):
    group = _group(group_id)
    customer = current_customer()
    key = _key(customer, f"join{group.id}")
    replayed = _replayed(key, body)
    try:
        order = service.join_group(g.store, customer, group, _checkout(body), body["quantity"],
                                   key, body["ref"])
    except service.GroupError as exc:
        db.session.rollback()
        raise problem("checkout_refused", str(exc)) from exc
    return _order_answer(order), 201, _replay_headers(replayed)


def _replay_headers(replayed: bool) -> dict:
    return {"Idempotent-Replayed": "true"} if replayed else {}
