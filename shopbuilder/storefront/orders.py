"""The customer's cart, checkout, payment pages and orders at ``/s/<store>/``.

Product pages add to the cart with a form posting ``variant_id`` and
``quantity`` to ``url_for('shop_orders.cart_add')``.
"""

from __future__ import annotations

import logging
import secrets

from flask import (
    Blueprint,
    abort,
    after_this_request,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, user_logged_in
from sqlalchemy import func, select

from ..auth import customer_required
from ..extensions import csrf, db
from ..models import Order, Payment
from ..paging import page_arg
from ..payments import get_provider, providers_for, sandbox
from ..plugins import render_slot
from ..services import aftersale, orders
from ..services import cart as cart_service
from ..services.orders import N_, STATE_LABELS
from ..themes import render_store_template

log = logging.getLogger(__name__)

bp = Blueprint("shop_orders", __name__, url_prefix="/s/<store>")
PER_PAGE = 20


# -- the cart -------------------------------------------------------------------------------------


def _customer_id() -> int | None:
    if getattr(current_user, "kind", None) == "customer":
        return current_user.id
    return None


def current_cart(create: bool = False):
    """The visitor's cart in this store: their own when signed in, else the cookie's."""
    customer_id = _customer_id()
    if customer_id is not None:
        if create:
            return cart_service.get_or_create_cart(g.store, customer_id=customer_id)
        return cart_service.find_cart(g.store, customer_id=customer_id)
    token = cart_service.read_token(request.cookies.get(cart_service.COOKIE_NAME))
    if token is None and create:
        token = cart_service.new_token()
        signed = cart_service.sign_token(token)

        @after_this_request
        def remember(response):
            response.set_cookie(cart_service.COOKIE_NAME, signed, max_age=30 * 86400,
                                httponly=True, samesite="Lax",
                                secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
            return response

    if token is None:
        return None
    if create:
        return cart_service.get_or_create_cart(g.store, token=token)
    return cart_service.find_cart(g.store, token=token)


def _merge_cart_at_sign_in(sender, user, **extra):
    """A visitor who signs in keeps what they put in the cart before."""
    if getattr(user, "kind", None) != "customer" or g.get("store") is None:
        return
    token = cart_service.read_token(request.cookies.get(cart_service.COOKIE_NAME))
    if token and cart_service.merge_anonymous(g.store, user.id, token) is not None:
        db.session.commit()


@bp.app_context_processor
def _order_words():
    return {"event_labels": orders.EVENT_LABELS, "after_sale_labels": aftersale.STATE_LABELS}


@bp.record_once
def _connect_signals(state):
    user_logged_in.connect(_merge_cart_at_sign_in, state.app)


def _int(value, default=0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@bp.get("/cart")
def cart():
    cart_row = current_cart()
    lines = cart_service.priced_lines(g.store, cart_row)
    return render_store_template(
        "storefront/cart.html", cart=cart_row, lines=lines,
        goods_fen=cart_service.goods_total(lines),
        cart_summary=render_slot("cart_summary", cart=cart_row, lines=lines),
    )


CART_ERRORS = {
    "quantity": lambda: _("Choose a quantity between 1 and 99."),
    "unknown": lambda: _("This product does not exist."),
    "unavailable": lambda: _("This product is not sold in this store."),
}


@bp.post("/cart/add")
def cart_add():
    variant_id = _int(request.form.get("variant_id"))
    quantity = _int(request.form.get("quantity"), 1)
    cart_row = current_cart(create=True)
    try:
        cart_service.add(g.store, cart_row, variant_id, quantity)
    except cart_service.CartError as exc:
        db.session.rollback()
        flash(CART_ERRORS.get(str(exc), CART_ERRORS["unknown"])(), "error")
        return redirect(url_for("shop_orders.cart"))
    db.session.commit()
    flash(_("Added to your cart."), "success")
    return redirect(url_for("shop_orders.cart"))


@bp.post("/cart/update")
def cart_update():
    cart_row = current_cart()
    if cart_row is not None:
        cart_service.set_quantity(cart_row, _int(request.form.get("variant_id")),
                                  _int(request.form.get("quantity")))
        db.session.commit()
    return redirect(url_for("shop_orders.cart"))


# -- checkout -------------------------------------------------------------------------------------


@bp.route("/checkout", methods=["GET", "POST"])
@customer_required
def checkout():
    """Check out the cart, or one product straight away when ``variant_id`` is given (buy now)."""
    source = request.form if request.method == "POST" else request.args
    buy_now = None
    if source.get("variant_id"):
        try:
            buy_now = cart_service.buy_now(g.store, _customer_id(), _int(source["variant_id"]),
                                           _int(source.get("quantity"), 1))
        except cart_service.CartError as exc:
            flash(CART_ERRORS.get(str(exc), CART_ERRORS["unknown"])(), "error")
            return redirect(url_for("shop_orders.cart"))
    cart_row = buy_now or current_cart()
    errors: list[str] = []
    form = request.form
    if request.method == "POST":
        # Placing prices the lines and asks the plugins itself; the page is built only
        # when something has to be shown again.
        key = (form.get("idempotency_key") or "")[:64] or None
        chosen = orders.Checkout(
            fulfilment_code=form.get("fulfilment", ""),
            payment_provider=form.get("payment_provider", ""),
            fulfilment_data={k[len("f_"):]: v[:200] for k, v in form.items()
                             if k.startswith("f_")},
            contact_name=form.get("contact_name", "")[:120],
            contact_phone=form.get("contact_phone", "")[:32],
            address=form.get("address", "")[:500],
            note=form.get("note", "")[:500],
        )
        if not chosen.contact_name.strip() or not chosen.contact_phone.strip():
            errors.append(_("Enter your name and phone number."))
        else:
            try:
                order = orders.place_order(g.store, current_user, cart_row, chosen, key)
            except orders.OrderError as exc:
                db.session.rollback()
                errors.extend(getattr(exc, "messages", None) or [str(exc)])
            else:
                return redirect(url_for("shop_orders.pay", number=order.number))
    lines = cart_service.priced_lines(g.store, cart_row)
    if not lines and request.method == "GET":
        flash(_("Your cart is empty."), "error")
        return redirect(url_for("shop_orders.cart"))
    try:
        options = orders.fulfilment_options(g.store, cart_row)
        adjustments = orders.price_adjustments(g.store, cart_row)
    except orders.OrderError as exc:
        options, adjustments = [], []
        errors.append(str(exc))
    providers = providers_for(g.store)
    delivery_fee = {o.code: o.fee_fen for o in options}
    goods = cart_service.goods_total(lines)
    return render_store_template(
        "storefront/checkout.html", lines=lines, options=options, adjustments=adjustments,
        providers=providers, errors=errors, form=form, goods_fen=goods,
        adjustment_fen=sum(a.amount_fen for a in adjustments), delivery_fee=delivery_fee,
        idempotency_key=form.get("idempotency_key") or secrets.token_urlsafe(16),
        checkout_options=render_slot("checkout_options", cart=cart_row, lines=lines),
        buy_now=buy_now,
    ), 422 if errors else 200


# -- paying ---------------------------------------------------------------------------------------


def _own_order(number: str) -> Order:
    """The signed-in customer's order ``number`` in this store, or 404 (never 403)."""
    order = db.session.scalar(
        select(Order).where(Order.number == number, Order.customer_id == _customer_id())
    )
    if order is None:
        abort(404)
    return order


@bp.get("/orders/<number>/pay")
@customer_required
def pay(number):
    order = _own_order(number)
    payment = orders.payment_to_pay(order)  # a failed attempt may be tried again
    if payment is None:
        return redirect(url_for("shop_orders.order_detail", number=order.number))
    provider = get_provider(payment.provider, g.store)
    url = provider.start(order, payment) if provider is not None else None
    if url:
        return redirect(url)
    return redirect(url_for("shop_orders.order_detail", number=order.number, placed=1))


def _sandbox_payment(token: str) -> Payment:
    payment = db.session.scalar(
        select(Payment).where(Payment.token == token, Payment.provider == sandbox.CODE)
    )
    if payment is None:
        abort(404)
    return payment


@bp.get("/pay/sandbox/<token>")
def sandbox_page(token):
    """The simulated gateway's hosted page (a real one lives on the provider's domain)."""
    payment = _sandbox_payment(token)
    # In the store's theme like every other shop page: the bare core layout has no styles.
    return render_store_template("storefront/pay_sandbox.html", payment=payment,
                                 order=payment.order)


@bp.post("/pay/sandbox/<token>")
def sandbox_submit(token):
    """The gateway "calls back": builds a signed notification and delivers it."""
    payment = _sandbox_payment(token)
    status = "SUCCESS" if request.form.get("outcome") == "pay" else "FAIL"
    body, headers = sandbox.build_notification(payment, status)
    number = payment.order.number
    try:
        sandbox.handle_notification(g.store, body, headers)
    except sandbox.NotificationRefused as exc:
        log.warning("sandbox notification refused: %s", exc)
        flash(_("The payment could not be confirmed."), "error")
    except orders.OrderError as exc:
        flash(str(exc), "error")
    else:
        if status != "SUCCESS":
            flash(_("The payment failed. You can try again."), "error")
        elif _refunded_at_once(payment):
            flash(_("Your payment arrived after the order was closed, so it was refunded "
                    "in full. Nothing was charged."), "error")
        else:
            flash(_("Payment received. Thank you!"), "success")
    return redirect(url_for("shop_orders.order_detail", number=number))


def _refunded_at_once(payment: Payment) -> bool:
    """The payment went through but its order could not take it (cancelled meanwhile)."""
    db.session.refresh(payment)
    return payment.state == "succeeded" and payment.refunded_fen >= payment.amount_fen


@bp.post("/pay/sandbox/notify")
@csrf.exempt
def sandbox_notify():
    """The callback URL the gateway posts to; answers like WeChat Pay's ``SUCCESS``/``FAIL``."""
    try:
        sandbox.handle_notification(g.store, request.get_data(), request.headers)
    except sandbox.NotificationRefused as exc:
        return jsonify(code="FAIL", message=str(exc)), 400
    except orders.OrderError as exc:
        return jsonify(code="FAIL", message=str(exc)), 409
    return jsonify(code="SUCCESS")


# -- the customer's orders ------------------------------------------------------------------------


@bp.get("/orders")
@customer_required
def order_list():
    page = page_arg()
    base = select(Order).where(Order.customer_id == _customer_id())
    total = db.session.scalar(select(func.count()).select_from(base.subquery()))
    rows = db.session.scalars(
        base.order_by(Order.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    return render_store_template("storefront/orders.html", orders=rows, page=page,
                           pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
                           state_labels=STATE_LABELS)


@bp.get("/orders/<number>")
@customer_required
def order_detail(number):
    order = _own_order(number)
    payment = orders.payment_to_pay(order)
    provider = get_provider(order.payment_provider, g.store, include_disabled=True)
    return render_store_template(
        "storefront/order.html", order=order, events=orders.timeline(order),
        state_labels=STATE_LABELS, payment=payment, provider=provider,
        requests=aftersale.open_requests(order.id), can_request=aftersale.can_request(order),
        order_detail=render_slot("order_detail", order=order),
    )


def _run(order: Order, fn, done_message: str):
    try:
        fn()
    except orders.OrderError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        flash(done_message, "success")
    return redirect(url_for("shop_orders.order_detail", number=order.number))


@bp.post("/orders/<number>/cancel")
@customer_required
def order_cancel(number):
    order = _own_order(number)
    # Stored in English and shown in each reader's language (the timeline translates it).
    return _run(order, lambda: orders.cancel(order, current_user, N_("Cancelled by the customer")),
                _("Your order was cancelled."))


@bp.post("/orders/<number>/confirm")
@customer_required
def order_confirm(number):
    """The customer's "I received it": shipped orders only (a pickup completes at the counter)."""
    order = _own_order(number)
    return _run(order, lambda: orders.confirm_receipt(order, current_user),
                _("Thank you for confirming."))


@bp.post("/orders/<number>/after-sale")
@customer_required
def order_after_sale(number):
    order = _own_order(number)
    amount = None
    if request.form.get("amount"):
        from ..money import parse_yuan

        try:
            amount = parse_yuan(request.form["amount"])
        except ValueError:
            flash(_("Enter an amount such as 12.80."), "error")
            return redirect(url_for("shop_orders.order_detail", number=order.number))
    return _run(order, lambda: aftersale.request(
        order, current_user, request.form.get("kind", ""), request.form.get("reason", ""), amount,
        return_lines=orders.units_from_form(request.form, "return_"),
    ), _("Your request was sent to the store."))
