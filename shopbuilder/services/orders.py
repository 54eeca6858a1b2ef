"""The order state machine: placing orders and every change of state, nothing else.

::

    pending_payment -> paid -> [awaiting_group] -> ready_for_pickup | shipped -> completed
            |            |            |                     |              |          |
            +-> cancelled +------------+---------- refunded -+--------------+----------+

Every transition is one public function (:func:`mark_paid`, :func:`hold`,
:func:`release_hold`, :func:`mark_ready`, :func:`ship`, :func:`complete`,
:func:`cancel`, :func:`refund`). Each one

* changes the row with a conditional UPDATE (``... WHERE state = :seen``), so
  of two racing callers exactly one applies it;
* records an :class:`~shopbuilder.models.OrderEvent` (actor, time, from, to, reason);
* is idempotent: asking for the state the order is already in returns it unchanged;
* refuses anything else with :class:`InvalidTransition`;
* commits, then fires the ``shopbuilder_order_*`` hooks (never before the commit,
  so a plugin never reacts to a change that was rolled back).

Called inside another transition (or inside :func:`unit_of_work`), a function
joins the outer transaction instead of committing. Stock, deadlines and ledger
postings change in the same transaction as the state.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError

from .. import clock, settings
from ..extensions import db
from ..models import (
    AfterSaleRequest,
    Deadline,
    Order,
    OrderEvent,
    OrderLine,
    OrderState,
    Payment,
    Refund,
)
from ..plugins import FulfilmentOption, PriceAdjustment, store_hook
from ..plugins import call_money_hook as _host_call_money_hook
from . import cart as cart_service
from . import order_rows, stock

log = logging.getLogger(__name__)


def N_(message: str) -> str:
    """Mark a system reason for translation; it is stored in English, shown translated."""
    return message


S = OrderState
DELIVERY = "delivery"

#: Deadline defaults; HQ sets chain values (and locks) in the ``deadlines`` settings namespace.
DEADLINE_DEFAULTS = {
    "pay_minutes": 30,
    "fulfil_days": 7,
    "pickup_days": 7,
    "confirm_days": 20,
    "after_sale_days": 7,
}

#: The deadline that runs while an order is in a state: (kind, setting, unit).
DEADLINE_FOR_STATE = {
    S.PENDING_PAYMENT: ("pay", "pay_minutes", "minutes"),
    S.PAID: ("fulfil", "fulfil_days", "days"),
    S.READY_FOR_PICKUP: ("pickup", "pickup_days", "days"),
    S.SHIPPED: ("confirm", "confirm_days", "days"),
    S.COMPLETED: ("after_sale", "after_sale_days", "days"),
}

#: action -> (states it starts from, state it leads to). The console offers what fits.
TRANSITIONS = {
    "pay": ((S.PENDING_PAYMENT,), S.PAID),
    "hold": ((S.PAID,), S.AWAITING_GROUP),
    "release_hold": ((S.AWAITING_GROUP,), S.PAID),
    "mark_ready": ((S.PAID,), S.READY_FOR_PICKUP),
    "ship": ((S.PAID,), S.SHIPPED),
    "complete": ((S.READY_FOR_PICKUP, S.SHIPPED), S.COMPLETED),
    # The customer's "I received it": a pickup order is completed at the counter (核销).
    "confirm_receipt": ((S.SHIPPED,), S.COMPLETED),
    "cancel": ((S.PENDING_PAYMENT,), S.CANCELLED),
    "refund": (S.PAID_STATES, S.REFUNDED),
}

STATE_LABELS = {
    S.PENDING_PAYMENT: _l("Awaiting payment"),
    S.PAID: _l("Paid"),
    S.AWAITING_GROUP: _l("Waiting for the group"),
    S.READY_FOR_PICKUP: _l("Ready for pickup"),
    S.SHIPPED: _l("Shipped"),
    S.COMPLETED: _l("Completed"),
    S.CANCELLED: _l("Cancelled"),
    S.REFUNDED: _l("Refunded"),
}


# -- errors ---------------------------------------------------------------------------------------


class OrderError(Exception):
    """Something the person asking should be told, in words (``str(error)``)."""


class InvalidTransition(OrderError):
    def __init__(self, order: Order, action: str, state: str | None = None):
        self.order = order
        self.action = action
        self.state = state or order.state
        super().__init__(
            _l(
                "Order %(number)s is %(state)s, so it cannot be %(action)s.",
                number=order.number,
                state=STATE_LABELS.get(self.state, self.state),
                action=ACTION_LABELS.get(action, action),
            )
        )


class CheckoutError(OrderError):
    """The order cannot be placed; ``messages`` says why (one line each)."""

    def __init__(self, *messages):
        # Kept lazy: they are translated when shown, in the customer's language.
        self.messages = list(messages)
        super().__init__(*messages)

    def __str__(self) -> str:
        return " ".join(str(m) for m in self.messages)


class SoldOut(CheckoutError):
    """A line's stock ran out while the order was being placed."""


#: Timeline words for events that do not change the state.
EVENT_LABELS = {
    "placed": _l("Placed"),
    "refund": _l("Partly refunded"),
    "late_payment_refunded": _l("Late payment refunded"),
    "after_sale_requested": _l("After-sale requested"),
    "after_sale_rejected": _l("After-sale rejected"),
    "after_sale_closed": _l("After-sale request closed"),
    "settled": _l("Settled"),
}

ACTION_LABELS = {
    "pay": _l("marked paid"),
    "hold": _l("held"),
    "release_hold": _l("released"),
    "mark_ready": _l("made ready for pickup"),
    "ship": _l("shipped"),
    "complete": _l("completed"),
    "confirm_receipt": _l("confirmed as received"),
    "cancel": _l("cancelled"),
    "refund": _l("refunded"),
}


# -- transactions and after-commit hooks ---------------------------------------------------------


@contextlib.contextmanager
def unit_of_work(expire_on_commit: bool = True):
    """One transaction for a group of order changes; hooks fire after its commit.

    Nested units join the outermost one. Plugins that change several orders at
    once (a group-buy completing) wrap their calls in one unit.
    ``expire_on_commit=False`` keeps loaded objects usable after the commit
    without reloading them; only for units that wrote nothing behind the ORM's back.
    """
    info = db.session.info
    depth = info.get("orders_depth", 0)
    if depth == 0:
        info["orders_after_commit"] = []
    info["orders_depth"] = depth + 1
    try:
        yield
        if depth == 0:
            session = db.session()
            previous = session.expire_on_commit
            session.expire_on_commit = expire_on_commit
            try:
                session.commit()
            finally:
                session.expire_on_commit = previous
    except BaseException:
        if depth == 0:
            db.session.rollback()
            info["orders_after_commit"] = []
        raise
    finally:
        info["orders_depth"] = depth
    if depth == 0:
        for name, store, kwargs in info.pop("orders_after_commit", []):
            if name == NOTIFY:
                kwargs = _notification(**kwargs)
                if kwargs is None:
                    continue
            _fire(name, store, **kwargs)


def _after_commit(name: str, order: Order, store=None, **kwargs) -> None:
    db.session.info.setdefault("orders_after_commit", []).append(
        (name, store if store is not None else order.store, {"order": order, **kwargs})
    )


NOTIFY = "shopbuilder_notify"

#: What the core tells a customer (``shopbuilder_notify`` events). ``order_ready`` comes
#: from the plugin that owns the pickup (it knows the pickup code).
NOTIFY_EVENTS = ("order_paid", "order_shipped", "order_cancelled", "order_refunded",
                 "after_sale_decided")


def notify_after_commit(event: str, order: Order, **context) -> None:
    """Tell the order's customer about ``event`` once the current unit of work commits.

    Delivered through ``shopbuilder_notify`` like an order-event hook: after the
    commit, each enabled channel on its own. ``context`` adds plain fields to the
    standard ones (``order``, ``order_number``, ``order_id``, ``total_fen``).
    """
    db.session.info.setdefault("orders_after_commit", []).append(
        (NOTIFY, order.store, {"order": order, "event": event, "extra": context})
    )


def _notification(order: Order, event: str, extra: dict) -> dict | None:
    """The ``shopbuilder_notify`` arguments, read after the commit (None: nobody to tell)."""
    try:
        customer = order.customer
        if customer is None:
            return None
        context = {"order": order, "order_number": order.number, "order_id": order.id,
                   "total_fen": order.total_fen, **extra}
        return {"store": order.store, "customer": customer, "event": event, "context": context}
    except Exception:
        db.session.rollback()
        log.exception("notification %s for order %s could not be prepared", event, order.id)
        return None


def _fire(name: str, store, /, **kwargs) -> None:
    """Run each enabled plugin's reaction on its own, after the commit, in a savepoint.

    pluggy stops a hook call at the first exception, so calling the hook as a
    whole would let one broken plugin silently skip the others. Each
    implementation here gets a savepoint: when it raises, what it wrote since
    its last commit is rolled back and ``plugin NAME failed in HOOK`` is logged;
    when it returns, what it wrote is committed. The order is not affected
    either way: its change is already committed.
    """
    # The plugin host's helpers: the store's enabled implementations in pluggy's order,
    # and the arguments each one names.
    from ..plugins import _impls, _kwargs_for

    try:
        store, impls = _impls(name, store)
    except Exception:
        log.exception("plugins for %s could not be listed for store %s", name, store.slug)
        return
    for impl in impls:
        _fire_one(impl, name, store, _kwargs_for(impl, kwargs))


def _fire_one(impl, name: str, store, kwargs: dict) -> None:
    session = db.session()
    try:
        savepoint = session.begin_nested()
    except Exception:
        session.rollback()
        log.exception("plugin %s skipped in %s (store %s): no savepoint", impl.plugin_name,
                      name, store.slug)
        return
    try:
        impl.function(**kwargs)
    except Exception:
        if savepoint.is_active:
            savepoint.rollback()
        # Also what it wrote after committing part of its work itself; nothing else is
        # pending here (the order's own change was committed before the first plugin).
        session.rollback()
        log.exception("plugin %s failed in %s (store %s)", impl.plugin_name, name, store.slug)
        return
    try:
        if savepoint.is_active:
            savepoint.commit()
        # Loaded objects (the order) stay usable without a reload, as the caller left them.
        previous, session.expire_on_commit = session.expire_on_commit, False
        try:
            session.commit()
        finally:
            session.expire_on_commit = previous
    except Exception:
        session.rollback()
        log.exception("plugin %s failed in %s (store %s): its changes could not be saved",
                      impl.plugin_name, name, store.slug)


class PluginFailure(OrderError):
    pass


def call_money_hook(name: str, store, **kwargs):
    """Call a hook that changes money: a plugin exception aborts the operation cleanly."""
    try:
        return _host_call_money_hook(name, store, **kwargs)
    except Exception as exc:
        # A plugin that refuses with a CheckoutError (a pickup slot just filled up)
        # has words for the customer: pass them on instead of the generic failure.
        refusal = exc if isinstance(exc, CheckoutError) else exc.__cause__
        if isinstance(refusal, CheckoutError):
            raise refusal from None
        log.exception("plugin hook %s failed in store %s", name, store.slug)
        raise PluginFailure(_l("A shop extension failed; nothing was changed.")) from exc


def _ledger(function: str, *args, key: str = "") -> None:
    """Post to the settlement ledger inside the order's transaction (it never commits)."""
    from . import ledger

    getattr(ledger, function)(*args, key=key)


def actor_of(account) -> str:
    """``staff:7``, ``customer:3`` or ``system`` for the OrderEvent's ``actor``."""
    if account is None:
        return "system"
    if isinstance(account, str):
        return account
    kind = getattr(account, "kind", None)
    if kind in ("staff", "customer"):
        return f"{kind}:{account.id}"
    return "system"


# -- the transition primitive ---------------------------------------------------------------------


def _record(order: Order, actor: str, kind: str, from_state, to_state, reason="", **data):
    db.session.add(
        OrderEvent(
            chain_id=order.chain_id, store_id=order.store_id, order_id=order.id,
            at=clock.now(), actor=actor_of(actor), from_state=from_state, to_state=to_state,
            kind=kind, reason=str(reason or ""), data=data,
        )
    )


def _apply(order: Order, action: str, actor, reason="", values=None, **data) -> bool:
    """Move ``order`` along ``action``; False when it already is where ``action`` leads."""
    allowed, target = TRANSITIONS[action]
    for _attempt in range(5):
        db.session.refresh(order, ["state"])
        seen = order.state
        if seen == target:
            return False
        if seen not in allowed:
            raise InvalidTransition(order, action, seen)
        now = clock.now()
        stmt = (
            update(Order)
            .where(Order.id == order.id, Order.state == seen)
            .values(state=target, updated_at=now, **(values or {}))
            .execution_options(synchronize_session=False)
        )
        if db.session.execute(stmt).rowcount == 1:
            db.session.expire(order)
            _record(order, actor, action, seen, target, reason, **data)
            _enter_state(order, target)
            return True
    raise OrderError(_l("The order is changing too fast; try again."))


# -- deadlines ------------------------------------------------------------------------------------


def deadline_values(store) -> dict:
    return settings.values(store, "deadlines", DEADLINE_DEFAULTS)


def _enter_state(order: Order, state: str) -> None:
    """Void the deadlines of the state left behind and start the new state's one."""
    spec = DEADLINE_FOR_STATE.get(state)
    keep = spec[0] if spec else None
    db.session.execute(
        update(Deadline)
        .where(Deadline.order_id == order.id, Deadline.state == "open", Deadline.kind != keep)
        .values(state="void", done_at=clock.now(), outcome=f"left for {state}")
        .execution_options(synchronize_session=False)
    )
    if spec is None:
        return
    kind, key, unit = spec
    amount = int(deadline_values(order.store)[key])
    due = clock.now() + timedelta(**{unit: amount})
    schedule(order, kind, due)


def schedule(order: Order, kind: str, due_at) -> Deadline:
    """Start (or restart) the ``kind`` deadline of ``order`` at ``due_at``."""
    row = db.session.scalar(
        select(Deadline).where(Deadline.order_id == order.id, Deadline.kind == kind)
    )
    if row is None:
        row = Deadline(chain_id=order.chain_id, store_id=order.store_id, order_id=order.id,
                       kind=kind, due_at=due_at)
        db.session.add(row)
    else:
        row.due_at, row.state, row.done_at, row.outcome = due_at, "open", None, ""
    db.session.flush()
    return row


# -- checkout -------------------------------------------------------------------------------------


@dataclass
class Checkout:
    """What the customer chose at checkout (a dict of it goes to ``shopbuilder_checkout_*``)."""

    fulfilment_code: str
    payment_provider: str
    fulfilment_data: dict = field(default_factory=dict)
    contact_name: str = ""
    contact_phone: str = ""
    address: str = ""
    note: str = ""

    def as_dict(self) -> dict:
        return {
            "fulfilment": self.fulfilment_code, "data": dict(self.fulfilment_data),
            "address": self.address, "contact_name": self.contact_name,
            "contact_phone": self.contact_phone, "payment_provider": self.payment_provider,
            "note": self.note,
        }


def fulfilment_label(code: str, kind: str | None = None):
    """Words for a fulfilment code in the consoles (``pickup`` -> "Pickup in store").

    The option's own label lives in the plugin that offered it at checkout;
    the console names the two kinds it knows and shows any other code as it is.
    """
    if code == DELIVERY:
        return _l("Delivery")
    if kind == "pickup" or code == "pickup":
        return _l("Pickup in store")
    return code


def delivery_option(store) -> FulfilmentOption:
    fee = int((store.settings or {}).get("orders", {}).get("delivery_fee_fen", 0))
    return FulfilmentOption(code=DELIVERY, label=_l("Delivery to an address"), fee_fen=fee,
                            details={"kind": "ship", "needs_address": True})


def fulfilment_options(store, cart) -> list[FulfilmentOption]:
    """Core delivery, then what enabled plugins offer (pickup...)."""
    options = [delivery_option(store)]
    for result in call_money_hook("shopbuilder_checkout_fulfilment_options", store, cart=cart):
        for option in result or ():
            if isinstance(option, FulfilmentOption) and option.code != DELIVERY:
                options.append(option)
    return options


def price_adjustments(store, cart) -> list[PriceAdjustment]:
    found = []
    for result in call_money_hook("shopbuilder_checkout_price_adjustments", store, cart=cart):
        found.extend(a for a in (result or ()) if isinstance(a, PriceAdjustment))
    return found


#: ``find_by_key``'s default: no customer given, so no check (callers whose keys carry one).
_ANY_CUSTOMER = object()

KEY_USED_ELSEWHERE = _l("This form was already used for another order; "
                        "reload the page and try again.")


def find_by_key(store, key: str | None, customer=_ANY_CUSTOMER) -> Order | None:
    """The order ``customer`` placed in ``store`` with idempotency ``key``, or None.

    Keys are unique per store, not per customer: a key someone else used (a
    copied form, a shared link with its hidden field, a guessed key) must never
    answer with their order, so an order of another customer counts as none.
    Leaving ``customer`` out finds the order whoever placed it; only for
    callers whose keys already name the customer.
    """
    order = _order_of_key(store, key)
    if order is None or customer is _ANY_CUSTOMER:
        return order
    return order if order.customer_id == getattr(customer, "id", None) else None


def _order_of_key(store, key: str | None) -> Order | None:
    if not key:
        return None
    return db.session.scalar(
        select(Order).where(Order.store_id == store.id, Order.idempotency_key == key)
    )


def _repeat_of(store, key: str | None, customer) -> Order | None:
    """The order a first submission with ``key`` placed for ``customer``, for a retry.

    Raises :class:`CheckoutError` when another customer's order holds the key: a
    new order cannot take it (it is unique per store), and the other order is
    none of this customer's business.
    """
    order = _order_of_key(store, key)
    if order is not None and order.customer_id != getattr(customer, "id", None):
        raise CheckoutError(KEY_USED_ELSEWHERE)
    return order


def _first_rows(lines, provider_code: str, total: int, customer, now, pay_minutes: int) -> dict:
    """A new order's lines, pending payment, first event and pay deadline.

    Plain rows, not ORM objects: nothing in the placing request reads them back,
    and ``order.lines`` loads on first use.
    """
    return {
        OrderLine: [
            {"variant_id": line.variant.id, "title": line.title,
             "variant_label": line.variant.label, "sku": line.variant.sku,
             "unit_price_fen": line.unit_price_fen, "quantity": line.quantity,
             "line_total_fen": line.line_total_fen}
            for line in lines
        ],
        Payment: [{"provider": provider_code, "token": secrets.token_urlsafe(24),
                   "amount_fen": total, "created_at": now}],
        OrderEvent: [{"at": now, "actor": actor_of(customer), "from_state": None,
                      "to_state": S.PENDING_PAYMENT, "kind": "placed", "reason": "",
                      "data": {}}],
        Deadline: [{"kind": "pay", "due_at": now + timedelta(minutes=pay_minutes)}],
    }


def place_order(store, customer, cart, checkout: Checkout, idempotency_key: str | None = None):
    """Turn the cart into a pending order, reserving its stock in the same transaction.

    The same ``idempotency_key`` (a hidden field of the checkout form) always
    gives the same order: a double click or a resubmitted form places one. A
    key another customer's order holds is refused, never answered with that order.
    Raises :class:`CheckoutError` with the reasons when it cannot be placed.
    """
    from ..payments import get_provider

    lines = cart_service.priced_lines(store, cart)
    if not lines:
        # A resubmitted cart checkout finds its cart emptied by the first submission;
        # any other repeat of a key is answered by the unique index below.
        existing = _repeat_of(store, idempotency_key, customer)
        if existing is not None:
            return existing
        raise CheckoutError(_l("Your cart is empty."))
    for line in lines:
        if line.problem == "unavailable":
            raise CheckoutError(_l("%(title)s is no longer sold here.", title=line.title))
        if line.problem == "short":
            raise SoldOut(_l("Only %(n)s of %(title)s left.", n=max(line.available, 0),
                                   title=line.title))
    options = {o.code: o for o in fulfilment_options(store, cart)}
    option = options.get(checkout.fulfilment_code)
    if option is None:
        raise CheckoutError(_l("Choose how to get your order."))
    if option.details.get("needs_address") and not checkout.address.strip():
        raise CheckoutError(_l("Enter the delivery address."))
    provider = get_provider(checkout.payment_provider, store)
    if provider is None:
        raise CheckoutError(_l("Choose a way to pay."))
    adjustments = price_adjustments(store, cart)
    problems = [
        message
        for result in call_money_hook("shopbuilder_checkout_validate", store, cart=cart,
                                      checkout=checkout.as_dict())
        for message in (result or ())
    ]
    if problems:
        raise CheckoutError(*problems)
    goods = cart_service.goods_total(lines)
    adjustment = sum(a.amount_fen for a in adjustments)
    total = max(goods + option.fee_fen + adjustment, 0)
    kind = option.details.get("kind") or ("ship" if option.code == DELIVERY else "pickup")
    pay_minutes = int(deadline_values(store)["pay_minutes"])
    try:
        # The order's columns are all known to the ORM, so the page can use it after
        # the commit without reloading it.
        with unit_of_work(expire_on_commit=False):
            # One statement on PostgreSQL: the day's number, the order, its rows and
            # its stock (see order_rows). A second submission with the same key stops
            # at the order's unique index; a line the store cannot hold stops it all.
            now = clock.now()
            try:
                order = order_rows.insert_order(store, {
                    "customer_id": getattr(customer, "id", None), "state": S.PENDING_PAYMENT,
                    "currency": store.chain.currency, "goods_fen": goods,
                    "delivery_fen": option.fee_fen,
                    "adjustment_fen": total - goods - option.fee_fen, "total_fen": total,
                    "adjustments": [{"code": a.code, "label": str(a.label),
                                     "amount_fen": a.amount_fen} for a in adjustments],
                    "fulfilment_code": option.code,
                    "fulfilment_data": {**checkout.fulfilment_data, "kind": kind},
                    "payment_provider": provider.code,
                    "contact_name": checkout.contact_name.strip(),
                    "contact_phone": checkout.contact_phone.strip(),
                    "address": checkout.address.strip(), "note": checkout.note.strip(),
                    "idempotency_key": idempotency_key,
                }, _first_rows(lines, provider.code, total, customer, now, pay_minutes), now,
                    reserve=[(line.variant.id, line.quantity) for line in lines])
            except stock.OutOfStock as short:
                title = next(ln.title for ln in lines if ln.variant.id == short.variant_id)
                raise SoldOut(_l("Sorry, %(title)s just sold out.", title=title)) from None
            if cart is not None and cart.id is not None:
                cart_service.clear_variants(cart, [line.variant.id for line in lines])
            call_money_hook("shopbuilder_checkout_placed", store, order=order,
                            checkout=checkout.as_dict())
            _after_commit("shopbuilder_order_created", order, store=store)
    except IntegrityError:
        db.session.rollback()
        existing = _repeat_of(store, idempotency_key, customer)
        if existing is None:
            raise
        return existing
    return order


# -- transitions ----------------------------------------------------------------------------------


def latest_payment(order: Order) -> Payment | None:
    return db.session.scalar(
        select(Payment).where(Payment.order_id == order.id).order_by(Payment.id.desc())
    )


def can_pay(payment: Payment, order: Order) -> bool:
    """Whether the customer can pay ``payment`` now, or again after a failed attempt.

    A failed attempt keeps its payment: the gateway takes a second try on the
    same one (:func:`confirm_payment` accepts failed payments).
    """
    return payment.state in ("pending", "failed") and order.state == S.PENDING_PAYMENT


def payment_to_pay(order: Order) -> Payment | None:
    """The payment a customer's *Pay now* opens, or None when there is nothing to pay."""
    payment = latest_payment(order)
    return payment if payment is not None and can_pay(payment, order) else None


def pending_payment(order: Order) -> Payment | None:
    return db.session.scalar(
        select(Payment).where(Payment.order_id == order.id, Payment.state == "pending")
        .order_by(Payment.id.desc())
    )


def confirm_payment(payment: Payment, amount_fen: int, provider_ref: str, actor=None,
                    refund_if_closed: bool = True) -> Order:
    """A provider (or a clerk) says ``payment`` succeeded. Idempotent per payment.

    The amount must match. When the order was cancelled meanwhile, a provider's
    money goes straight back (never a paid order whose stock was released);
    with ``refund_if_closed=False`` (a clerk at the counter, who still holds the
    money) the payment is refused with :class:`InvalidTransition` instead.
    """
    order = payment.order
    if amount_fen != payment.amount_fen:
        raise OrderError(_l("The amount paid does not match the order."))
    actor = actor or f"provider:{payment.provider}"
    with unit_of_work():
        now = clock.now()
        claimed = db.session.execute(
            update(Payment)
            .where(Payment.id == payment.id, Payment.state.in_(("pending", "failed")))
            .values(state="succeeded", provider_ref=provider_ref, paid_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            return order  # this payment was already confirmed: change nothing
        db.session.expire(payment)
        try:
            applied = _apply(order, "pay", actor, values={
                "paid_fen": Order.paid_fen + amount_fen, "paid_at": now,
            }, payment=payment.token, amount_fen=amount_fen)
        except InvalidTransition:
            if not refund_if_closed:
                raise
            applied = None
        if applied:
            _ledger("record_payment", order, amount_fen, key=payment.token)
            _after_commit("shopbuilder_order_paid", order)
            notify_after_commit("order_paid", order, amount_fen=amount_fen)
            _maybe_hold(order)
        else:
            _refund_stray_payment(order, payment, amount_fen, actor)
    return order


def _refund_stray_payment(order: Order, payment: Payment, amount_fen: int, actor) -> None:
    """Money for an order that cannot take it (cancelled, or paid twice) goes back at once."""
    from ..payments import get_provider

    provider = get_provider(payment.provider, order.store, include_disabled=True)
    ref = provider.refund(payment, amount_fen, "order not payable") if provider else None
    db.session.execute(
        update(Payment).where(Payment.id == payment.id)
        .values(refunded_fen=Payment.refunded_fen + amount_fen)
        .execution_options(synchronize_session=False)
    )
    db.session.add(Refund(
        chain_id=order.chain_id, store_id=order.store_id, order_id=order.id,
        payment_id=payment.id, amount_fen=amount_fen, reason="late payment", actor="system",
        provider_ref=ref,
    ))
    db.session.refresh(order, ["state"])
    _record(order, actor, "late_payment_refunded", order.state, order.state,
            N_("Payment arrived after the order was closed; refunded automatically."),
            amount_fen=amount_fen, payment=payment.token)
    _ledger("record_payment", order, amount_fen, key=payment.token)
    _ledger("record_refund", order, amount_fen, key=f"late-{payment.token}")
    notify_after_commit("order_refunded", order, amount_fen=amount_fen, full=True,
                        late_payment=True)


def mark_paid(order: Order, actor, reference: str = "") -> Order:
    """A clerk took the money at the counter (the ``offline`` provider).

    Only an order awaiting payment can be marked paid; marking a paid order
    again changes nothing. A cancelled or refunded order is refused with
    :class:`InvalidTransition`, never paid and refunded in one go: the clerk
    still holds the money and hands it back. (The automatic refund of a late
    payment is for provider callbacks, where nobody is at the counter.)
    """
    db.session.refresh(order, ["state"])
    if order.state in S.PAID_STATES:
        return order
    if order.state != S.PENDING_PAYMENT:
        raise InvalidTransition(order, "pay")
    payment = pending_payment(order)
    if payment is None:
        raise OrderError(_l("This order has no open payment."))
    ref = reference or f"{payment.provider}-{payment.token[:12]}"
    return confirm_payment(payment, payment.amount_fen, ref, actor=actor,
                           refund_if_closed=False)


def _maybe_hold(order: Order) -> None:
    try:
        reason = store_hook("shopbuilder_order_hold_after_payment", order.store)(order=order)
    except Exception:
        log.exception("hold hook failed for order %s; not held", order.number)
        reason = None
    if reason:
        hold(order, reason=str(reason), actor="system")


def hold(order: Order, reason: str, actor="system") -> Order:
    """Keep a paid order from fulfilment (``awaiting_group``) until :func:`release_hold`."""
    with unit_of_work():
        _apply(order, "hold", actor, reason, values={"hold_reason": str(reason)[:255]})
    return order


def release_hold(order: Order, actor="system", reason: str = "") -> Order:
    """The hold is over (the group filled): the order goes back to ``paid`` for fulfilment."""
    with unit_of_work():
        _apply(order, "release_hold", actor, reason, values={"hold_reason": None})
    return order


def mark_ready(order: Order, actor, reason: str = "") -> Order:
    """The goods are set aside at the counter for pickup."""
    with unit_of_work():
        if _apply(order, "mark_ready", actor, reason, values={"fulfilled_at": clock.now()}):
            _after_commit("shopbuilder_order_fulfilled", order)
    return order


def ship(order: Order, actor, tracking_number: str) -> Order:
    """The parcel left the store; the goods' stock is taken off for good."""
    tracking_number = (tracking_number or "").strip()
    if not tracking_number:
        raise OrderError(_l("Enter the tracking number."))
    with unit_of_work():
        if _apply(order, "ship", actor, values={
            "fulfilled_at": clock.now(), "tracking_number": tracking_number[:64],
        }, tracking_number=tracking_number):
            _commit_stock(order)
            _after_commit("shopbuilder_order_fulfilled", order)
            notify_after_commit("order_shipped", order, tracking_number=tracking_number[:64])
    return order


def complete(order: Order, actor, reason: str = "") -> Order:
    """Collected at the counter (核销) or receipt confirmed (by the clock or a clerk)."""
    return _complete(order, "complete", actor, reason)


def confirm_receipt(order: Order, actor) -> Order:
    """The customer says the parcel arrived ("I received it"): shipped orders only.

    A pickup order is completed at the counter when the clerk verifies its code
    (核销); letting the customer complete it would close an order never collected.
    """
    return _complete(order, "confirm_receipt", actor, N_("Receipt confirmed by the customer"))


def _complete(order: Order, action: str, actor, reason) -> Order:
    with unit_of_work():
        if _apply(order, action, actor, reason, values={"completed_at": clock.now()}):
            _commit_stock(order)
            _after_commit("shopbuilder_order_completed", order)
    return order


def cancel(order: Order, actor, reason: str = "") -> Order:
    """Cancel an unpaid order and give its stock back."""
    with unit_of_work():
        if _apply(order, "cancel", actor, reason, values={"closed_at": clock.now()}):
            _release_stock(order)
            _after_commit("shopbuilder_order_cancelled", order)
            notify_after_commit("order_cancelled", order, reason=str(reason or ""))
    return order


def _set_stock_state(order: Order, wanted_from: str, to: str) -> bool:
    return db.session.execute(
        update(Order).where(Order.id == order.id, Order.stock_state == wanted_from)
        .values(stock_state=to).execution_options(synchronize_session=False)
    ).rowcount == 1


def _release_stock(order: Order, handed_over: Mapping[int, int] | None = None) -> None:
    """The order ends before completing: its reserved units go back on sale.

    ``handed_over`` ({order line id: units}) already left with the customer (part of
    a pickup): those are taken off the shelf instead.
    """
    if not _set_stock_state(order, "reserved", "released"):
        return
    handed_over = handed_over or {}
    for line in order.lines:
        gone = max(0, min(handed_over.get(line.id, 0), line.quantity))
        if gone:
            stock.commit(order.store_id, line.variant_id, gone)
        if line.quantity > gone:
            stock.release(order.store_id, line.variant_id, line.quantity - gone)


def _units_handed_over(order: Order) -> dict[int, int]:
    """What plugins say the customer of a still-reserved order already took, per line."""
    if order.stock_state != "reserved":
        return {}
    out: dict[int, int] = {}
    for answer in call_money_hook("shopbuilder_order_units_handed_over", order.store,
                                  order=order):
        try:
            for line_id, units in dict(answer).items():
                out[int(line_id)] = max(out.get(int(line_id), 0), int(units))
        except (TypeError, ValueError) as exc:  # not {line id: units}: a plugin's bug
            log.error("shopbuilder_order_units_handed_over answered %r", answer)
            raise PluginFailure(_l("A shop extension failed; nothing was changed.")) from exc
    return out


def _commit_stock(order: Order) -> None:
    if _set_stock_state(order, "reserved", "committed"):
        stock.commit_order(order)


def refund(order: Order, actor, amount_fen: int | None = None, reason: str = "",
           restock: bool | Mapping[int, int] = False, after_sale: AfterSaleRequest | None = None,
           idempotency_key: str | None = None) -> Order:
    """Give money back through the payment's provider, in full (default) or in part.

    A full refund ends the order (``refunded``), gives back reserved stock and
    closes any after-sale request still open on it. ``restock`` puts goods that
    already left back on the shelf (a return): ``{order line id: units}``, or
    True for every unit not yet back (only with a full refund, since a partial
    one must say what came back); never more than was sold.
    ``idempotency_key`` (the refund form's hidden field) makes a repeated
    submission change nothing: the second call returns the order as the first
    left it. Two racing refunds can never give back more than was paid.
    """
    key = (idempotency_key or "").strip()[:64] or None
    outermost = db.session.info.get("orders_depth", 0) == 0
    try:
        with unit_of_work():
            if key is not None and _refund_by_key(order, key) is not None:
                return order
            _refund(order, actor, amount_fen, reason, restock, after_sale, key)
    except IntegrityError:
        # Two submissions of one form at the same moment: the unique key let one through.
        if key is None or not outermost or _refund_by_key(order, key) is None:
            raise
    return order


def _refund_by_key(order: Order, key: str) -> Refund | None:
    return db.session.scalar(
        select(Refund).where(Refund.order_id == order.id, Refund.idempotency_key == key)
    )


def _refund(order: Order, actor, amount_fen, reason, restock, after_sale, key) -> None:
    from ..payments import get_provider

    db.session.refresh(order)
    if order.state not in S.PAID_STATES:
        if order.state == S.REFUNDED and amount_fen is None:
            return
        raise InvalidTransition(order, "refund")
    amount = order.refundable_fen if amount_fen is None else int(amount_fen)
    if amount <= 0 or amount > order.refundable_fen:
        raise OrderError(_l("Refund between ¥0.01 and the amount still paid."))
    seen = order.state
    full = amount == order.refundable_fen
    plan = restock_plan(order, restock, full)
    changed = db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.state == seen,
               Order.refunded_fen + amount <= Order.paid_fen)
        .values(
            refunded_fen=Order.refunded_fen + amount,
            state=case((Order.refunded_fen + amount == Order.paid_fen, S.REFUNDED),
                       else_=Order.state),
            updated_at=clock.now(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise OrderError(_l("The order changed meanwhile; look again and retry."))
    parts = _refund_parts(order, amount)
    rows = []
    for index, (payment, take) in enumerate(parts):
        provider = get_provider(payment.provider, order.store, include_disabled=True)
        if provider is None:
            raise OrderError(_l("The payment provider is not installed."))
        row = Refund(
            chain_id=order.chain_id, store_id=order.store_id, order_id=order.id,
            payment_id=payment.id, amount_fen=take, reason=str(reason),
            actor=actor_of(actor), idempotency_key=key if index == 0 else None,
            after_sale_id=after_sale.id if after_sale is not None else None,
        )
        db.session.add(row)
        rows.append((row, provider, payment, take))
    # Every row is written before any provider is asked: a repeated key stops here.
    db.session.flush()
    if full:
        # Also before any provider is asked: a plugin failing here (what was handed
        # over) stops the refund while no money has moved.
        _release_stock(order, _units_handed_over(order))
    for row, provider, payment, take in rows:
        row.provider_ref = provider.refund(payment, take, str(reason))
        payment.refunded_fen += take
        _ledger("record_refund", order, take, key=f"refund-{row.id}")
    db.session.expire(order)
    to_state = S.REFUNDED if full else seen
    _record(order, actor, "refund", seen, to_state, reason, amount_fen=amount,
            restock={str(line_id): units for line_id, units in plan.items()},
            **({"after_sale": after_sale.id} if after_sale is not None else {}))
    if full:
        db.session.execute(
            update(Order).where(Order.id == order.id)
            .values(closed_at=clock.now()).execution_options(synchronize_session=False)
        )
        _enter_state(order, S.REFUNDED)
        _close_after_sales(order, actor)
    if plan:
        _restock(order, plan)
    _after_commit("shopbuilder_order_refunded", order, amount_fen=amount)
    notify_after_commit("order_refunded", order, amount_fen=amount, full=full,
                        after_sale_id=after_sale.id if after_sale is not None else None)


def _refund_parts(order: Order, amount: int) -> list[tuple[Payment, int]]:
    """``amount`` split over the order's succeeded payments, oldest first."""
    remaining, parts = amount, []
    payments = db.session.scalars(
        select(Payment).where(Payment.order_id == order.id, Payment.state == "succeeded")
        .order_by(Payment.id)
    ).all()
    for payment in payments:
        take = min(remaining, payment.amount_fen - payment.refunded_fen)
        if take > 0:
            parts.append((payment, take))
            remaining -= take
    if remaining:
        raise OrderError(_l("No payment left to refund."))
    return parts


def restock_plan(order: Order, restock, full: bool = False) -> dict[int, int]:
    """``{order line id: units}`` that go back on the shelf, checked against what was sold.

    ``restock`` is such a mapping (ids and units may be text, as a form gives
    them), or True for every unit not yet back (with a full refund only), or
    falsy. Goods that never left the store have nothing to put back: a full
    refund releases their reservation instead.
    """
    if not restock:
        return {}
    lines = {line.id: line for line in order.lines}
    if restock is True:
        if not full:
            raise OrderError(_l("Say which goods come back, and how many of each."))
        wanted = {line.id: line.quantity - line.restocked for line in lines.values()}
    else:
        wanted = {}
        for line_id, units in dict(restock).items():
            try:
                line, units = lines.get(int(line_id)), int(units)
            except (TypeError, ValueError):
                line, units = None, -1
            if line is None or units < 0:
                raise OrderError(_l("Enter how many of each item come back (0 or more)."))
            left = line.quantity - line.restocked
            if units > left:
                raise OrderError(_l("At most %(n)s of %(title)s can come back.", n=left,
                                    title=line.title))
            wanted[line.id] = units
    plan = {line_id: units for line_id, units in wanted.items() if units > 0}
    if plan and order.stock_state != "committed":
        if full:
            return {}
        raise OrderError(_l("These goods have not left the store: there is nothing to put back."))
    return plan


def units_from_form(form, prefix: str) -> dict[int, int]:
    """``{order line id: units}`` from fields named ``<prefix><line id>`` (empty means 0).

    Raises :class:`OrderError` for anything that is not a whole number of 0 or more.
    """
    found = {}
    for name, value in form.items():
        if not name.startswith(prefix) or not name[len(prefix):].isdigit():
            continue
        text = (value or "").strip() or "0"
        if not text.isdigit():
            raise OrderError(_l("Enter how many of each item come back (0 or more)."))
        found[int(name[len(prefix):])] = int(text)
    return found


def _restock(order: Order, plan: dict[int, int]) -> None:
    """Put ``plan``'s units back on the shelf; ``OrderLine.restocked`` never passes ``quantity``."""
    lines = {line.id: line for line in order.lines}
    for line_id, units in sorted(plan.items()):
        moved = db.session.execute(
            update(OrderLine)
            .where(OrderLine.id == line_id, OrderLine.restocked + units <= OrderLine.quantity)
            .values(restocked=OrderLine.restocked + units)
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved != 1:
            raise OrderError(_l("The order changed meanwhile; look again and retry."))
        stock.restock(order.store_id, lines[line_id].variant_id, units)
        db.session.expire(lines[line_id], ["restocked"])
    still_out = db.session.scalar(
        select(func.count(OrderLine.id))
        .where(OrderLine.order_id == order.id, OrderLine.restocked < OrderLine.quantity)
    )
    if not still_out:
        _set_stock_state(order, "committed", "released")


def _close_after_sales(order: Order, actor) -> None:
    """The order was refunded in full: requests still open on it have nothing left to decide."""
    closed = db.session.execute(
        update(AfterSaleRequest)
        .where(AfterSaleRequest.order_id == order.id, AfterSaleRequest.state == "open")
        .values(state="closed", decided_by=actor_of(actor), decided_at=clock.now())
        .execution_options(synchronize_session=False)
    ).rowcount
    if closed:
        _record(order, actor, "after_sale_closed", S.REFUNDED, S.REFUNDED,
                N_("The order was refunded in full."))


def settle(order: Order, actor="system") -> bool:
    """The after-sale window closed: the money is the store's now (ledger settlement)."""
    with unit_of_work():
        done = db.session.execute(
            update(Order)
            .where(Order.id == order.id, Order.state == S.COMPLETED, Order.settled_at.is_(None))
            .values(settled_at=clock.now())
            .execution_options(synchronize_session=False)
        ).rowcount == 1
        if done:
            db.session.expire(order)
            _record(order, actor, "settled", S.COMPLETED, S.COMPLETED)
            _ledger("record_settlement", order, key="")
    return done


# -- what the consoles may offer ------------------------------------------------------------------


def allowed_actions(order: Order) -> list[str]:
    """The transitions a person may start from the order's current state."""
    kind = (order.fulfilment_data or {}).get("kind", "ship")
    actions = []
    if order.state == S.PENDING_PAYMENT:
        actions += ["pay", "cancel"]
    if order.state == S.PAID:
        actions.append("ship" if kind == "ship" else "mark_ready")
    if order.state in (S.READY_FOR_PICKUP, S.SHIPPED):
        actions.append("complete")
    if order.state in S.PAID_STATES and order.refundable_fen > 0:
        actions.append("refund")
    return actions


def timeline(order: Order) -> list[OrderEvent]:
    return list(db.session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
    ))
