"""Pickup JSON API for mini-program clients, under ``/api/v1/stores/<store>/pickup``.

The checkout options of the core API cannot carry the slot list (only plain
values travel there), so a client reads the slots here and places its order with
``fulfilment_data: {"pickup_slot": <key>}``; once the store has prepared the
order, the customer's code and its signed QR token are read here too.
"""

from __future__ import annotations

from flask import g
from flask_babel import gettext as _
from marshmallow import Schema, fields

from shopbuilder.api import api_blueprint, current_customer, operation, problem
from shopbuilder.extensions import db
from shopbuilder.models import Order

from . import codes, service, slots

bp = api_blueprint("pickup_api", __name__, url_prefix="/stores/<store>/pickup")


class SlotOut(Schema):
    key = fields.String(
        required=True, metadata={"description": "Send as fulfilment_data.pickup_slot"}
    )
    start = fields.String(required=True, metadata={"description": "ISO 8601, UTC"})
    end = fields.String(required=True)
    places_left = fields.Integer(required=True)
    full = fields.Boolean(required=True)


class SlotsOut(Schema):
    store_name = fields.String(required=True)
    address = fields.String(required=True)
    slots = fields.List(fields.Nested(SlotOut), required=True)


class PickupOut(Schema):
    order_id = fields.Integer(required=True)
    state = fields.String(required=True, metadata={
        "description": "booked (waiting to be prepared), ready, collected, expired, cancelled"})
    slot_start = fields.String(required=True)
    slot_end = fields.String(required=True)
    code = fields.String(allow_none=True, required=True, metadata={
        "description": "12 digits, only while the order is ready for pickup"})
    qr_token = fields.String(allow_none=True, required=True, metadata={
        "description": "Signed token to draw as a QR code for the counter's scanner"})


@bp.get("/slots")
@operation("Pickup time slots at this store (full ones included, marked full)",
           tags=["pickup"], response=SlotsOut,
           description="To buy for pickup, place the order (`api_place_order`) with "
                       '`"fulfilment": "pickup"` and `"fulfilment_data": {"pickup_slot": '
                       "<key>}`, the `key` of a slot that is not `full`.")
def slot_list():
    offered = slots.available_slots(g.store)
    return {
        "store_name": g.store.name, "address": g.store.address,
        "slots": [{"key": s.key, "start": s.start.isoformat(), "end": s.end.isoformat(),
                   "places_left": s.left, "full": s.full} for s in offered],
    }


@bp.get("/orders/<int:order_id>")
@operation("The signed-in customer's pickup for an order: slot, state, and the code when ready",
           tags=["pickup"], auth=True, response=PickupOut,
           description="After payment the pickup is `booked` and `code` is null. Once the "
                       "store's clerk has prepared the order (its state becomes "
                       "`ready_for_pickup`) the pickup is `ready` and `code` holds the "
                       "12-digit code to show at the counter, with `qr_token` to draw as a QR "
                       "code. Read it again when the customer opens the order.")
def pickup_detail(order_id):
    customer = current_customer()
    order = db.session.get(Order, order_id)
    if order is None or order.customer_id != customer.id:
        raise problem("not_found")
    pickup = service.in_step(order)
    if pickup is None:
        raise problem("not_found", _("This order is not picked up in a store."))
    db.session.commit()
    code = codes.code_of(pickup) if pickup.state == "ready" else None
    return {
        "order_id": order.id, "state": pickup.state,
        "slot_start": pickup.slot_start.isoformat(), "slot_end": pickup.slot_end.isoformat(),
        "code": code, "qr_token": codes.qr_token(code) if code else None,
    }
