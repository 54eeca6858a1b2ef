"""Cart, checkout options, placing orders, the customer's orders, and payments.

Everything here needs a customer's bearer token; a cart and the orders belong
to the customer at this store. Another customer's or another store's order
answers 404 (never 403). Orders are placed and moved only through
:mod:`shopbuilder.services.orders`.
"""

from __future__ import annotations

import hashlib

from flask import g, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import ApiIdempotencyKey, Order, Payment
from ..payments import get_provider, providers_for
from ..services import cart as cart_service
from ..services import orders as order_service
from . import bp
from .core import (
    IDEMPOTENCY_HEADER,
    current_customer,
    idempotency_key,
    json_dumps_stable,
    operation,
)
from .pagination import PageQuery, decode_cursor, page
from .problems import problem
from .schemas import (
    CartAdd,
    CartQuantity,
    CartSchema,
    CheckoutOptions,
    OrderPage,
    OrderSchema,
    PaymentSchema,
    PlaceOrder,
)

_CART_PROBLEMS = {
    "quantity": ("quantity", _l("Choose a quantity between 1 and 99.")),
    "unknown": ("variant_id", _l("No such variant.")),
    "unavailable": ("variant_id", _l("This variant is not sold in this store.")),
}


# -- cart ----------------------------------------------------------------------------------------


def _cart(create: bool = False):
    customer_id = current_customer().id
    if create:
        return cart_service.get_or_create_cart(g.store, customer_id=customer_id)
    return cart_service.find_cart(g.store, customer_id=customer_id)


def cart_view(cart) -> dict:
    lines = cart_service.priced_lines(g.store, cart)
    return {
        "items": [{
            "variant_id": line.variant.id, "product_id": line.variant.product_id,
            "title": line.title, "variant_label": line.variant.label, "sku": line.variant.sku,
            "quantity": line.quantity, "unit_price_fen": line.unit_price_fen,
            "line_total_fen": line.line_total_fen, "available": max(line.available, 0),
            "problem": line.problem,
        } for line in lines],
        "goods_fen": cart_service.goods_total(lines),
        "currency": g.chain.currency,
    }


@bp.get("/stores/<store>/cart")
@operation("The customer's cart at this store", tags=["cart"], auth=True, response=CartSchema)
def get_cart():
    return cart_view(_cart())


@bp.post("/stores/<store>/cart/items")
@operation("Put a variant in the cart (quantities add up)", tags=["cart"], auth=True,
           body=CartAdd, response=CartSchema, status=201)
def add_to_cart(body):
    cart = _cart(create=True)
    try:
        cart_service.add(g.store, cart, body["variant_id"], body["quantity"])
    except cart_service.CartError as exc:
        db.session.rollback()
        field, message = _CART_PROBLEMS.get(str(exc), _CART_PROBLEMS["unknown"])
        raise problem("validation_failed", errors=[
            {"field": field, "in": "body", "message": str(message)}]) from exc
    db.session.commit()
    return cart_view(cart)


def _line_or_404(cart, variant_id: int):
    if cart is None or not any(line.variant_id == variant_id for line in cart.lines):
        raise problem("not_found", _("This variant is not in the cart."))


@bp.put("/stores/<store>/cart/items/<int:variant_id>")
@operation("Change a line's quantity (0 removes it)", tags=["cart"], auth=True,
           body=CartQuantity, response=CartSchema)
def update_cart_line(variant_id, body):
    cart = _cart()
    _line_or_404(cart, variant_id)
    cart_service.set_quantity(cart, variant_id, body["quantity"])
    db.session.commit()
    return cart_view(cart)


@bp.delete("/stores/<store>/cart/items/<int:variant_id>")
@operation("Remove a line from the cart", tags=["cart"], auth=True, response=CartSchema)
def remove_cart_line(variant_id):
    cart = _cart()
    _line_or_404(cart, variant_id)
    cart_service.set_quantity(cart, variant_id, 0)
    db.session.commit()
    return cart_view(cart)


# -- checkout ------------------------------------------------------------------------------------


@bp.get("/stores/<store>/checkout/options")
@operation(
    "How this cart can be fulfilled and paid here", tags=["checkout"], auth=True,
    response=CheckoutOptions,
    description="Fulfilment options come from the core (delivery) and from the plugins this "
                "store enabled (pickup...); payment providers from the store's settings. Pass "
                "the chosen `code`s to `api_place_order`. An option whose `needs_address` is "
                "true needs the order's `address`; `pickup` needs a slot (`pickup_api_slot_list`).",
)
def checkout_options():
    cart = _cart()
    options = order_service.fulfilment_options(g.store, cart)
    adjustments = order_service.price_adjustments(g.store, cart) if cart is not None else []
    return {
        "fulfilment": [{
            "code": o.code, "label": str(o.label), "fee_fen": o.fee_fen,
            "needs_address": bool(o.details.get("needs_address")),
            "details": {k: v for k, v in o.details.items()
                        if isinstance(v, str | int | float | bool | type(None))},
        } for o in options],
        "payment_providers": [
            {"code": p.code, "label": str(p.label), "online": bool(p.online)}
            for p in providers_for(g.store)],
        "adjustments": [{"code": a.code, "label": str(a.label), "amount_fen": a.amount_fen}
                        for a in adjustments],
        "cart": cart_view(cart),
    }


def order_view(order: Order) -> dict:
    return {
        "id": order.id, "number": order.number, "state": order.state,
        "total_fen": order.total_fen, "currency": order.currency,
        "fulfilment": order.fulfilment_code, "created_at": order.created_at.isoformat(),
        "goods_fen": order.goods_fen, "delivery_fen": order.delivery_fen,
        "adjustment_fen": order.adjustment_fen, "paid_fen": order.paid_fen,
        "refunded_fen": order.refunded_fen,
        "adjustments": [{"code": str(a.get("code", "")), "label": str(a.get("label", "")),
                         "amount_fen": int(a.get("amount_fen", 0))}
                        for a in (order.adjustments or [])],
        "fulfilment_data": dict(order.fulfilment_data or {}),
        "payment_provider": order.payment_provider, "contact_name": order.contact_name,
        "contact_phone": order.contact_phone, "address": order.address, "note": order.note,
        "hold_reason": order.hold_reason, "tracking_number": order.tracking_number,
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "lines": [{
            "variant_id": line.variant_id, "title": line.title,
            "variant_label": line.variant_label, "sku": line.sku,
            "unit_price_fen": line.unit_price_fen, "quantity": line.quantity,
            "line_total_fen": line.line_total_fen,
        } for line in order.lines],
    }


@bp.post("/stores/<store>/orders")
@operation(
    "Place an order from the cart", tags=["orders"], auth=True, body=PlaceOrder,
    response=OrderSchema, status=201, headers=[IDEMPOTENCY_HEADER],
    description="Put items in the cart first (`api_add_to_cart`) and choose the `fulfilment` "
                "and `payment_provider` codes from `api_checkout_options`. Delivery needs "
                "`address`; pickup needs `fulfilment_data.pickup_slot`, a slot `key` from "
                "`pickup_api_slot_list`. Reserves the stock and empties the cart lines it "
                "took; then start the payment (`api_start_payment`): unpaid orders are "
                "cancelled after the store's payment deadline (30 minutes by default). "
                "A retry with the same `Idempotency-Key` and body returns the same order "
                "(header `Idempotent-Replayed: true`); the same key with another body is a 409.",
    responses={409: "The order cannot be placed (`checkout_refused`, with `errors`), or the "
                    "key was used for another request (`idempotency_conflict`)."},
)
def place_order(body):
    key = idempotency_key()
    customer = current_customer()
    request_hash = hashlib.sha256(json_dumps_stable(body).encode()).hexdigest()
    seen = db.session.scalar(db.select(ApiIdempotencyKey).where(
        ApiIdempotencyKey.customer_id == customer.id, ApiIdempotencyKey.key == key))
    if seen is not None:
        if seen.request_hash != request_hash:
            raise problem("idempotency_conflict")
        order = db.session.get(Order, seen.body.get("order_id"))
        if order is not None:
            return order_view(order), 201, {"Idempotent-Replayed": "true"}
    # The order service keeps its own key per store: make ours per customer.
    service_key = "api:" + hashlib.sha256(f"{customer.id}:{key}".encode()).hexdigest()[:56]
    checkout = order_service.Checkout(
        fulfilment_code=body["fulfilment"], payment_provider=body["payment_provider"],
        fulfilment_data=body["fulfilment_data"], contact_name=body["contact_name"],
        contact_phone=body["contact_phone"], address=body["address"], note=body["note"],
    )
    try:
        order = order_service.place_order(g.store, customer, _cart(), checkout,
                                          idempotency_key=service_key)
    except order_service.CheckoutError as exc:
        db.session.rollback()
        messages = [str(m) for m in getattr(exc, "messages", None) or [exc]]
        raise problem("checkout_refused", " ".join(messages), errors=[
            {"field": None, "in": "body", "message": m} for m in messages]) from exc
    except order_service.OrderError as exc:
        db.session.rollback()
        raise problem("checkout_refused", str(exc)) from exc
    db.session.add(ApiIdempotencyKey(
        chain_id=g.store.chain_id, store_id=g.store.id, customer_id=customer.id, key=key,
        request_hash=request_hash, status=201, body={"order_id": order.id}))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # a concurrent retry recorded it first: same order either way
    return order_view(order), 201


# -- the customer's orders -----------------------------------------------------------------------


def _own_order(order_id: int) -> Order:
    """The customer's order here, or 404: another store's or customer's order does not exist."""
    order = db.session.scalar(db.select(Order).where(
        Order.id == order_id, Order.customer_id == current_customer().id))
    if order is None:
        raise problem("not_found")
    return order


@bp.get("/stores/<store>/orders")
@operation("The customer's orders at this store, newest first", tags=["orders"], auth=True,
           query=PageQuery, response=OrderPage)
def list_orders(query):
    kind = f"orders:{g.store.id}:{current_customer().id}"
    position = decode_cursor(kind, query.get("cursor"))
    stmt = db.select(Order).where(Order.customer_id == current_customer().id)
    if position:
        stmt = stmt.where(Order.id < int(position.get("i", 0)))
    rows = list(db.session.scalars(stmt.order_by(Order.id.desc()).limit(query["limit"] + 1)))
    more = len(rows) > query["limit"]
    rows = rows[:query["limit"]]
    items = [{k: v for k, v in order_view(o).items()
              if k in ("id", "number", "state", "total_fen", "currency", "fulfilment",
                       "created_at")} for o in rows]
    return page(items, {"i": rows[-1].id} if more else None, kind)


@bp.get("/stores/<store>/orders/<int:order_id>")
@operation("One of the customer's orders", tags=["orders"], auth=True, response=OrderSchema)
def get_order(order_id):
    return order_view(_own_order(order_id))


# -- payments ------------------------------------------------------------------------------------


def payment_view(payment: Payment, order: Order) -> dict:
    url = None
    if order_service.can_pay(payment, order):
        provider = get_provider(payment.provider, g.store)
        if provider is not None and getattr(provider, "online", False):
            url = provider.start(order, payment)
            if url and url.startswith("/"):
                url = request.host_url.rstrip("/") + url
    return {
        "id": payment.id, "order_id": order.id, "provider": payment.provider,
        "state": payment.state, "amount_fen": payment.amount_fen,
        "paid_at": payment.paid_at.isoformat() if payment.paid_at else None,
        "payment_url": url,
    }


@bp.post("/stores/<store>/orders/<int:order_id>/payment")
@operation(
    "Start paying an order (again after a failed attempt)", tags=["payments"], auth=True,
    response=PaymentSchema,
    description="Online providers (`sandbox`; `online: true` in checkout options) answer a "
                "`payment_url`: open it in a web view. The sandbox's hosted page has a *Pay* "
                "and a *Fail* button, as a real gateway's page would ask for the customer's "
                "confirmation; the gateway then tells the store by a signed callback, never "
                "through the client. Afterwards read `api_get_payment` until `state` is "
                "`succeeded` (the order is then `paid`) or `failed` (call this again for a "
                "new attempt). `offline`: no URL, the customer pays at the counter.",
    responses={409: "The order is not waiting for payment (`conflict`): paid, cancelled."},
)
def start_payment(order_id):
    order = _own_order(order_id)
    payment = order_service.latest_payment(order)
    if payment is None or not order_service.can_pay(payment, order):
        raise problem("conflict", _("This order is not waiting for payment."))
    return payment_view(payment, order)


@bp.get("/stores/<store>/orders/<int:order_id>/payment")
@operation("The state of the order's payment", tags=["payments"], auth=True,
           response=PaymentSchema,
           description="`pending` until the gateway's callback arrives, then `succeeded` or "
                       "`failed`. Poll it every second or two after the customer left the "
                       "payment page; `payment_url` stays set while the order can be paid.")
def get_payment(order_id):
    order = _own_order(order_id)
    payment = order_service.latest_payment(order)
    if payment is None:
        raise problem("not_found")
    return payment_view(payment, order)
