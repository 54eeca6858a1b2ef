"""What happens to a pickup order: booked at checkout, ready, collected, expired.

Order states change only through :mod:`shopbuilder.services.orders`; this
module keeps the pickup side (slot, code, picked quantities) in step, in the
same transactions (``orders.unit_of_work``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from shopbuilder import clock, tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Order, OrderEvent, OrderLine, OrderState, User
from shopbuilder.plugins import store_hook
from shopbuilder.services import orders
from shopbuilder.services import stock as stock_service

from . import codes, slots
from .models import PickupCollection, PickupLine, PickupOrder

log = logging.getLogger(__name__)
CODE = "pickup"
SAFETY_NET = timedelta(days=30)
S = OrderState


def N_(message: str) -> str:
    return message


class PickupError(orders.OrderError):
    """Something the clerk or customer is told in words."""


# -- checkout -----------------------------------------------------------------------------


def validate_choice(store, checkout: dict) -> list[str]:
    if checkout.get("fulfilment") != CODE:
        return []
    key = (checkout.get("data") or {}).get("pickup_slot")
    if not key:
        return [str(_l("Choose when you will pick up your order."))]
    slot = slots.find_slot(store, key)
    if slot is None:
        return [str(_l("That pickup time is no longer available; choose another."))]
    if slot.full:
        return [str(_l("That pickup time is full; choose another."))]
    return []


def book_for_order(store, order: Order, checkout: dict) -> PickupOrder | None:
    """Inside the order's transaction: take the slot's place and write the pickup row."""
    if order.fulfilment_code != CODE:
        return None
    cfg = slots.config(store)
    slot = slots.find_slot(store, (checkout.get("data") or {}).get("pickup_slot"))
    if slot is None:
        raise orders.CheckoutError(_l("That pickup time is no longer available; choose another."))
    if not slots.book(store, slot.start, cfg["capacity"]):
        raise orders.CheckoutError(_l("That pickup time just filled up; choose another."))
    pickup = PickupOrder(chain_id=store.chain_id, store_id=store.id, order_id=order.id,
                         slot_start=slot.start, slot_end=slot.end, state="booked")
    db.session.add(pickup)
    db.session.flush()
    for line in db.session.scalars(select(OrderLine).where(
            OrderLine.order_id == order.id)):
        db.session.add(PickupLine(chain_id=store.chain_id, store_id=store.id,
                                  pickup_id=pickup.id, order_line_id=line.id,
                                  quantity=line.quantity))
    db.session.flush()
    return pickup


# -- ready for pickup ---------------------------------------------------------------------


def pickup_of(order_id: int) -> PickupOrder | None:
    return db.session.scalar(select(PickupOrder).where(PickupOrder.order_id == order_id))


def notify(store, order: Order, event: str, **context) -> None:
    """Tell the customer through whatever channel plugins provide (display hook: logged)."""
    if order.customer_id is None:
        return
    try:
        store_hook("shopbuilder_notify", store)(
            store=store, customer=order.customer, event=event,
            context={"order": order, "order_number": order.number, "order_id": order.id,
                     **context},
        )
    except Exception:
        log.exception("notification %s failed for order %s", event, order.number)


def mark_prepared(order: Order, actor) -> Order:
    """The clerk set the goods aside: the order becomes ready (paid orders only).

    An order a group-buy holds (``awaiting_group``) is refused by the order
    service until the hold is released.
    """
    if order.fulfilment_code != CODE:
        raise PickupError(_l("This order is not for pickup."))
    orders.mark_ready(order, actor)
    ensure_ready(order)
    return order


def ensure_ready(order: Order) -> PickupOrder | None:
    """Once the order is ready: issue the code, start the expiry clock, notify (once)."""
    pickup = pickup_of(order.id)
    db.session.refresh(order, ["state"])
    if pickup is None or order.state != S.READY_FOR_PICKUP:
        return pickup
    now = clock.now()
    cfg = slots.config(order.store)
    expires = now + timedelta(days=max(cfg["pickup_days"], 1))
    remind = expires - timedelta(hours=max(cfg["reminder_hours"], 0))
    with orders.unit_of_work():
        claimed = db.session.execute(
            update(PickupOrder)
            .where(PickupOrder.id == pickup.id, PickupOrder.state == "booked")
            .values(state="ready", ready_at=now, expires_at=expires, reminded_at=None,
                    remind_at=remind)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed:
            codes.issue(pickup)
            # The plugin owns the pickup deadline (it knows partial pickups); the core's
            # full refund stays only as a far safety net should the plugin be uninstalled.
            orders.schedule(order, "pickup", expires + SAFETY_NET)
    db.session.refresh(pickup)
    if claimed:
        notify(order.store, order, "order_ready", pickup_code=codes.code_of(pickup),
               slot_start=pickup.slot_start.isoformat())
    return pickup


def release(order: Order) -> None:
    """The order was cancelled or refunded in full: give the slot back, void the code."""
    pickup = pickup_of(order.id)
    if pickup is None:
        return
    db.session.refresh(order, ["state"])
    if order.state not in S.ENDS:
        return
    was_booked = db.session.execute(
        update(PickupOrder)
        .where(PickupOrder.id == pickup.id, PickupOrder.slot_booked.is_(True),
               PickupOrder.state == "booked")
        .values(slot_booked=False).execution_options(synchronize_session=False)
    ).rowcount
    if was_booked:
        slots.release(pickup.store_id, pickup.slot_start)
    db.session.execute(
        update(PickupOrder)
        .where(PickupOrder.id == pickup.id, PickupOrder.state.in_(("booked", "ready")))
        .values(state="cancelled", open_code_hash=None, closed_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


# -- completed elsewhere ---------------------------------------------------------------------


def completion_by(order: Order) -> tuple[datetime, str, int | None]:
    """When and by whom ``order`` was completed: ``(at, name, staff user id or None)``.

    Read from the order's ``complete`` event (``staff:7``, ``system``, ...), so a
    completion from the core order console is credited to the person who pressed it.
    """
    event = db.session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.kind == "complete")
        .order_by(OrderEvent.id.desc())
    ).first()
    if event is None:
        return clock.now(), "", None
    kind, _sep, ident = event.actor.partition(":")
    user = db.session.get(User, int(ident)) if kind == "staff" and ident.isdigit() else None
    if user is None:
        return event.at, event.actor[:120], None
    return event.at, (user.name or user.email)[:120], user.id


def close_completed(order: Order, open_states=("booked", "ready")) -> PickupOrder | None:
    """The order completed without the counter (the core console's *Complete*): close the pickup.

    The goods were handed over however the order got there, so the pickup is
    ``collected``: its code is void, every line counts as picked, and the worker
    no longer expires it (which would count a collected order as a no-show).
    A staff member's completion is also recorded as a hand-over, so it appears
    in the store's list of verifications. Does nothing for a pickup already
    closed (the counter's own completion lands here too, after the fact).
    """
    pickup = pickup_of(order.id)
    if pickup is None:
        return None
    db.session.refresh(order, ["state"])
    if order.state != S.COMPLETED:
        return pickup
    at, who, user_id = completion_by(order)
    with orders.unit_of_work():
        claimed = db.session.execute(
            update(PickupOrder)
            .where(PickupOrder.id == pickup.id, PickupOrder.state.in_(open_states))
            .values(state="collected", open_code_hash=None, collected_at=at, collected_by=who,
                    closed_at=at)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed:
            lines = db.session.scalars(
                select(PickupLine).where(PickupLine.pickup_id == pickup.id)
                .execution_options(populate_existing=True)
            ).all()
            handed = {str(line.id): line.remaining for line in lines if line.remaining}
            db.session.execute(
                update(PickupLine).where(PickupLine.pickup_id == pickup.id)
                .values(picked=PickupLine.quantity)
                .execution_options(synchronize_session=False)
            )
            if user_id is not None and handed:
                db.session.add(PickupCollection(
                    chain_id=pickup.chain_id, store_id=pickup.store_id, pickup_id=pickup.id,
                    at=at, user_id=user_id, user_name=who, quantities=handed, complete=True))
    return pickup


def in_step(order: Order) -> PickupOrder | None:
    """The pickup of ``order``, first caught up with the order should a hook have been missed.

    Order-event hooks run after the order's commit and a failure there is only
    logged; the pages that show a pickup call this so the code appears once the
    order is ready and disappears once it is completed, whatever happened.
    """
    pickup = pickup_of(order.id)
    if pickup is None or pickup.state not in ("booked", "ready"):
        return pickup
    if order.state == S.READY_FOR_PICKUP and pickup.state == "booked":
        return ensure_ready(order)
    if order.state == S.COMPLETED:
        return close_completed(order)
    return pickup


# -- verification at the counter (核销) -------------------------------------------------------


@dataclass
class Lookup:
    """What a typed or scanned code leads to. ``outcome``:

    ``unknown`` (no such code: counts against the clerk's limit), ``other_store``,
    ``collected`` (with ``pickup.collected_at``/``collected_by``), ``not_ready``,
    ``closed`` (expired or cancelled), ``ok``.
    """

    outcome: str
    pickup: PickupOrder | None = None
    code: str | None = None

    @property
    def wrong(self) -> bool:
        return self.outcome in ("unknown", "other_store")


def lookup(store, text: str | None) -> Lookup:
    code = codes.read_input(text)
    if code is None:
        return Lookup("unknown")
    digest = codes.code_hash(code)
    with tenancy.scope(tenancy.TenantScope(store.chain_id, None)):
        found = db.session.scalars(
            select(PickupOrder).where(PickupOrder.code_hash == digest)
            .order_by(PickupOrder.open_code_hash.is_(None), PickupOrder.id.desc())
        ).first()
        if found is None:
            return Lookup("unknown")
        if found.store_id != store.id:
            db.session.expunge(found)
            return Lookup("other_store")
    pickup = in_step(db.session.get(PickupOrder, found.id, populate_existing=True).order)
    if pickup.state == "collected":
        return Lookup("collected", pickup, code)
    if pickup.state in ("expired", "cancelled"):
        return Lookup("closed", pickup, code)
    if pickup.order.state != S.READY_FOR_PICKUP or pickup.state != "ready":
        return Lookup("not_ready", pickup, code)
    return Lookup("ok", pickup, code)


def collect(store, pickup_id: int, quantities: dict[int, int], user) -> PickupCollection:
    """Hand over ``quantities`` ({pickup line id: n}); completes the order when all is out.

    Exactly one of two clerks confirming the same goods at once succeeds: the
    pickup row is claimed first (``WHERE state = 'ready'``), then every line
    with ``picked + n <= quantity``; a loser raises :class:`PickupError` and
    changes nothing.
    """
    wanted = {int(k): int(v) for k, v in quantities.items() if int(v) > 0}
    if not wanted:
        raise PickupError(_l("Choose at least one item to hand over."))
    now = clock.now()
    who = (getattr(user, "name", "") or getattr(user, "email", ""))[:120]
    with orders.unit_of_work():
        claimed = db.session.execute(
            update(PickupOrder)
            .where(PickupOrder.id == pickup_id, PickupOrder.store_id == store.id,
                   PickupOrder.state == "ready")
            .values(state=PickupOrder.state)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            raise PickupError(_l("This pickup was already handled; look the code up again."))
        pickup = db.session.get(PickupOrder, pickup_id, populate_existing=True)
        ids = {line.id for line in pickup.lines}
        for line_id, n in wanted.items():
            if line_id not in ids:
                raise PickupError(_l("That item is not part of this order."))
            moved = db.session.execute(
                update(PickupLine)
                .where(PickupLine.id == line_id, PickupLine.pickup_id == pickup_id,
                       PickupLine.picked + n <= PickupLine.quantity)
                .values(picked=PickupLine.picked + n)
                .execution_options(synchronize_session=False)
            ).rowcount
            if moved != 1:
                raise PickupError(_l("More than what is left was asked for; look again."))
        for line in pickup.lines:
            db.session.refresh(line)
        complete = all(line.picked == line.quantity for line in pickup.lines)
        record = PickupCollection(chain_id=store.chain_id, store_id=store.id,
                                  pickup_id=pickup_id, at=now, user_id=user.id, user_name=who,
                                  quantities={str(k): v for k, v in wanted.items()},
                                  complete=complete)
        db.session.add(record)
        if complete:
            db.session.execute(
                update(PickupOrder).where(PickupOrder.id == pickup_id)
                .values(state="collected", open_code_hash=None, collected_at=now,
                        collected_by=who, closed_at=now)
                .execution_options(synchronize_session=False)
            )
            orders.complete(pickup.order, user, N_("Collected at the counter"))
    db.session.refresh(pickup)
    return record


# -- the worker: reminders and no-shows ----------------------------------------------------


def tick(now: datetime) -> dict:
    """Remind customers a day before their pickup expires; expire what is overdue.

    Each row is claimed by a conditional UPDATE before anything is done, so two
    workers never remind twice or refund twice.
    """
    counts = {"reminded": 0, "expired": 0}
    with tenancy.unscoped():
        due = list(db.session.scalars(
            select(PickupOrder.id).where(PickupOrder.state == "ready",
                                         PickupOrder.reminded_at.is_(None),
                                         PickupOrder.remind_at <= now,
                                         PickupOrder.expires_at > now).limit(500)
        ))
        db.session.rollback()
        for pickup_id in due:
            claimed = db.session.execute(
                update(PickupOrder)
                .where(PickupOrder.id == pickup_id, PickupOrder.reminded_at.is_(None),
                       PickupOrder.state == "ready")
                .values(reminded_at=now).execution_options(synchronize_session=False)
            ).rowcount
            db.session.commit()
            if claimed:
                pickup = db.session.get(PickupOrder, pickup_id)
                counts["reminded"] += 1
                notify(pickup.order.store, pickup.order, "pickup_reminder",
                       expires_at=pickup.expires_at.isoformat(),
                       pickup_code=codes.code_of(pickup))
        overdue = list(db.session.scalars(
            select(PickupOrder.id).where(PickupOrder.state == "ready",
                                         PickupOrder.expires_at <= now).limit(500)
        ))
        db.session.rollback()
        for pickup_id in overdue:
            try:
                if expire_one(pickup_id, now):
                    counts["expired"] += 1
            except Exception:
                db.session.rollback()
                log.exception("pickup %s could not be expired", pickup_id)
    return counts


def expire_one(pickup_id: int, now: datetime) -> bool:
    """Not collected in time: refund what was not handed over and put it back on sale."""
    with orders.unit_of_work():
        claimed = db.session.execute(
            update(PickupOrder)
            .where(PickupOrder.id == pickup_id, PickupOrder.state == "ready",
                   PickupOrder.expires_at <= now)
            .values(state="expired", open_code_hash=None, closed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            return False
        pickup = db.session.get(PickupOrder, pickup_id, populate_existing=True)
        order = pickup.order
        db.session.refresh(order)
        if order.state == S.COMPLETED:
            # Completed elsewhere and the pickup missed it: collected, not a no-show.
            close_completed(order, open_states=("expired",))
            return False
        if order.state != S.READY_FOR_PICKUP:
            return True
        reason = N_("Not picked up in time")
        if not pickup.picked_any:
            # Full refund: the order ends and its reserved stock is released.
            orders.refund(order, "system", reason=reason)
            return True
        shelve_the_rest(order, pickup, reason)
    return True


def units_collected(order: Order) -> dict[int, int]:
    """``{order line id: units}`` the customer already took at the counter.

    A full refund of a partly collected order puts only the rest back on sale
    (the core asks through ``shopbuilder_order_units_handed_over``).
    """
    pickup = pickup_of(order.id)
    if pickup is None:
        return {}
    return {line.order_line_id: line.picked for line in pickup.lines if line.picked}


def shelve_the_rest(order: Order, pickup: PickupOrder, reason: str) -> None:
    """Partly collected: complete the order, refund what stayed and put it back on sale.

    The order completes first, so its stock leaves the shelf; the refund then
    restocks the units that stayed through the order service, which counts them
    in ``OrderLine.restocked``: a later return of the collected part can put back
    only what the customer took home, never these units a second time.
    """
    left = {line.order_line_id: line.remaining for line in pickup.lines if line.remaining}
    amount = sum(line.order_line.unit_price_fen * n for line in pickup.lines
                 for n in [left.get(line.order_line_id, 0)])
    amount = min(amount, order.refundable_fen)
    orders.complete(order, "system", reason)
    if amount > 0:
        orders.refund(order, "system", amount_fen=amount, reason=reason, restock=left)
        return
    # Nothing to give back (free goods, or a fully discounted order): no refund can
    # carry the restock, so the units go back directly.
    for line in pickup.lines:
        if line.remaining:
            stock_service.restock(order.store_id, line.order_line.variant_id, line.remaining)
