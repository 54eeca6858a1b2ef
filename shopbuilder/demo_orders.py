"""Orders for the demo chain, made through the real order, payment and ledger services.

A fresh demo should show every console page with something on it: orders in
each state at west-lake, a second store (riverside) with a cancelled order and
a partly refunded one, ledger entries that ``shopbuilder ledger verify``
accepts, and (when the pickup plugin is installed) an order waiting at the
counter with its pickup code. Nothing here writes an order row by hand: each
step is the service call a customer, clerk or the clock would make, with the
clock set back so the order history reads like the last two weeks.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from . import clock, tenancy
from .extensions import db
from .models import Customer, Order, Store, User, Variant
from .services import aftersale, orders
from .services import cart as cart_service

log = logging.getLogger(__name__)

ADDRESS = "杭州市西湖区文三路 90 号 3 幢 501"


def _place(store, customer, lines, fulfilment="delivery", fulfilment_data=None,
           provider="offline") -> Order:
    cart = cart_service.get_or_create_cart(store, customer_id=customer.id)
    for variant_id, quantity in lines:
        cart_service.add(store, cart, variant_id, quantity)
    db.session.commit()
    return orders.place_order(
        store, customer, cart,
        orders.Checkout(fulfilment_code=fulfilment, payment_provider=provider,
                        fulfilment_data=fulfilment_data or {}, contact_name=customer.name,
                        contact_phone=customer.phone or "", address=ADDRESS,
                        note="演示订单"),
    )


def _pickup_slot(store, customer, lines) -> str | None:
    """The first open pickup slot the checkout offers, if pickup is offered at all."""
    cart = cart_service.get_or_create_cart(store, customer_id=customer.id)
    for option in orders.fulfilment_options(store, cart):
        if option.code == "pickup":
            free = [slot for slot in option.details.get("slots", ()) if not slot.full]
            return free[0].key if free else None
    return None


def load_demo_orders(store: Store, customer: Customer, clerk: User) -> dict[str, str]:
    """Orders at ``store`` in each state; answers ``{state label: order number}``."""
    variants = list(db.session.scalars(
        db.select(Variant).where(Variant.chain_id == store.chain_id).order_by(Variant.id)))
    v = [variant.id for variant in variants]
    staff, buyer = orders.actor_of(clerk), orders.actor_of(customer)
    now = clock.now()
    made: dict[str, str] = {}

    def at(days=0, hours=0):
        return clock.frozen(now - timedelta(days=days, hours=hours))

    with tenancy.store_scope(store):
        # Completed twelve days ago and settled when the seven-day after-sale window closed.
        with at(days=12):
            settled = _place(store, customer, [(v[0], 1), (v[6], 1)])
            orders.mark_paid(settled, staff)
        with at(days=11):
            orders.ship(settled, staff, "SF1400000001")
        with at(days=10):
            orders.confirm_receipt(settled, buyer)
        with at(days=3):
            orders.settle(settled)
        made["settled"] = settled.number

        # Completed yesterday: the after-sale window is still open.
        with at(days=3):
            completed = _place(store, customer, [(v[3], 2)])
            orders.mark_paid(completed, staff)
        with at(days=2):
            orders.ship(completed, staff, "SF1400000002")
        with at(days=1):
            orders.confirm_receipt(completed, buyer)
        made["completed"] = completed.number

        with at(days=1, hours=6):
            shipped = _place(store, customer, [(v[5], 1)])
            orders.mark_paid(shipped, staff)
        with at(days=1):
            orders.ship(shipped, staff, "SF1400000003")
        made["shipped"] = shipped.number

        with at(hours=3):
            paid = _place(store, customer, [(v[1], 1), (v[8], 1)])
            orders.mark_paid(paid, staff)
        made["paid"] = paid.number

        slot = _pickup_slot(store, customer, [(v[2], 1)])
        if slot:
            ready = _place(store, customer, [(v[2], 1)], fulfilment="pickup",
                           fulfilment_data={"pickup_slot": slot})
            orders.mark_paid(ready, staff)
            orders.mark_ready(ready, staff)  # the pickup plugin issues the code here
            made["ready_for_pickup"] = ready.number

        pending = _place(store, customer, [(v[4], 1)])
        made["pending_payment"] = pending.number
    return made


def load_second_store_orders(store: Store, customer: Customer, hq: User) -> dict[str, str]:
    """At ``store`` (riverside): one order cancelled unpaid, one paid online and partly refunded.

    The refund is an approved after-sale request (HQ stepping in, as riverside
    has no staff of its own in the demo), so the ledger holds payments,
    refunds and settlements of two stores.
    """
    v = list(db.session.scalars(
        db.select(Variant.id).where(Variant.chain_id == store.chain_id).order_by(Variant.id)))
    buyer, staff = orders.actor_of(customer), orders.actor_of(hq)
    now = clock.now()
    made: dict[str, str] = {}

    def at(days=0, hours=0):
        return clock.frozen(now - timedelta(days=days, hours=hours))

    with tenancy.store_scope(store):
        with at(days=5):
            unpaid = _place(store, customer, [(v[1], 1)], provider="sandbox")
        with at(days=5, hours=-1):
            # What the pay deadline does to an order left unpaid.
            orders.cancel(unpaid, "system", orders.N_("Not paid in time"))
        made["cancelled"] = unpaid.number

        with at(days=6):
            returned = _place(store, customer, [(v[3], 2), (v[7], 1)], provider="sandbox")
            payment = orders.pending_payment(returned)
            # The gateway's callback confirms it (``sandbox.handle_notification`` calls this).
            orders.confirm_payment(payment, payment.amount_fen, f"demo-{payment.token[:12]}")
        with at(days=5):
            orders.ship(returned, staff, "SF1400000004")
        with at(days=3):
            orders.confirm_receipt(returned, buyer)
        with at(days=2):
            line = returned.lines[0]
            request = aftersale.request(returned, customer, "return", "一罐包装破损，退回一罐。",
                                        amount_fen=line.unit_price_fen,
                                        return_lines={line.id: 1})
        with at(days=1):
            aftersale.approve(request, hq, restock=True, note="同意退回一罐")
        made["refunded in part"] = returned.number
    return made


def enable_pickup_by_default(chain) -> bool:
    """HQ policy: pickup on for every store of the chain unless a store turns it off."""
    from .plugins import get_host
    from .plugins.enablement import set_policy

    if "pickup" not in get_host().names:
        return False
    set_policy(chain, "pickup", "allowed", default=True)
    db.session.commit()
    return True
