"""Orders for the demo chain, made through the real order, payment and ledger services.

A fresh demo should show every console page with something on it: orders in
each state at west-lake, ledger entries that ``shopbuilder ledger verify``
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
from .services import cart as cart_service
from .services import orders

log = logging.getLogger(__name__)

ADDRESS = "杭州市西湖区文三路 90 号 3 幢 501"


def _place(store, customer, lines, fulfilment="delivery", fulfilment_data=None) -> Order:
    cart = cart_service.get_or_create_cart(store, customer_id=customer.id)
    for variant_id, quantity in lines:
        cart_service.add(store, cart, variant_id, quantity)
    db.session.commit()
    return orders.place_order(
        store, customer, cart,
        orders.Checkout(fulfilment_code=fulfilment, payment_provider="offline",
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
            orders.complete(settled, buyer, "确认收货")
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
            orders.complete(completed, buyer, "确认收货")
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


def enable_pickup_by_default(chain) -> bool:
    """HQ policy: pickup on for every store of the chain unless a store turns it off."""
    from .plugins import get_host
    from .plugins.enablement import set_policy

    if "pickup" not in get_host().names:
        return False
    set_policy(chain, "pickup", "allowed", default=True)
    db.session.commit()
    return True
