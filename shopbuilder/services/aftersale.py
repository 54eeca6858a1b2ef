"""After-sale (售后): a customer asks for a refund or a return; the store (or HQ) decides.

A request may be opened while the order is paid and, once completed, until
the after-sale window closes (``deadlines.after_sale_days``). While a request is
open the order is neither auto-confirmed nor settled. Approval refunds through
the provider (optionally putting returned goods back in stock); each decision
is a conditional UPDATE, so two staff clicking at once decide once.
"""

from __future__ import annotations

from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from .. import clock
from ..extensions import db
from ..models import AfterSaleRequest, Order, OrderState
from . import orders
from .deadlines import has_open_after_sale

S = OrderState
REQUESTABLE = (S.PAID, S.AWAITING_GROUP, S.READY_FOR_PICKUP, S.SHIPPED, S.COMPLETED)


def window_closes_at(order: Order):
    if order.completed_at is None:
        return None
    days = int(orders.deadline_values(order.store)["after_sale_days"])
    return order.completed_at + timedelta(days=days)


def can_request(order: Order) -> bool:
    if order.state not in REQUESTABLE or order.refundable_fen <= 0 or order.settled_at:
        return False
    closes = window_closes_at(order)
    return closes is None or clock.now() <= closes


def request(order: Order, customer, kind: str, reason: str, amount_fen: int | None = None):
    """Open a request; raises :class:`orders.OrderError` with the reason it cannot."""
    reason = (reason or "").strip()
    if kind not in AfterSaleRequest.KINDS:
        raise orders.OrderError(_l("Choose a refund or a return."))
    if not reason:
        raise orders.OrderError(_l("Tell the store why."))
    if not can_request(order):
        raise orders.OrderError(_l("This order can no longer have an after-sale request."))
    if has_open_after_sale(order.id):
        raise orders.OrderError(_l("This order already has an open request."))
    amount = order.refundable_fen if amount_fen is None else int(amount_fen)
    if not 0 < amount <= order.refundable_fen:
        raise orders.OrderError(_l("Ask for at most what was paid."))
    with orders.unit_of_work():
        row = AfterSaleRequest(
            chain_id=order.chain_id, store_id=order.store_id, order_id=order.id,
            customer_id=getattr(customer, "id", None), kind=kind, reason=reason[:2000],
            amount_fen=amount,
        )
        db.session.add(row)
        db.session.flush()
        orders._record(order, customer, "after_sale_requested", order.state, order.state,
                       reason, request=row.id, after_sale_kind=kind, amount_fen=amount)
    return row


def _decide(row: AfterSaleRequest, state: str, actor, note: str, restock: bool) -> bool:
    return db.session.execute(
        update(AfterSaleRequest)
        .where(AfterSaleRequest.id == row.id, AfterSaleRequest.state == "open")
        .values(state=state, decided_by=orders.actor_of(actor), decided_at=clock.now(),
                decision_note=(note or "")[:2000], restock=restock)
        .execution_options(synchronize_session=False)
    ).rowcount == 1


def approve(row: AfterSaleRequest, actor, restock: bool = False, note: str = ""):
    """Refund the requested amount (and restock a return when asked)."""
    with orders.unit_of_work():
        if not _decide(row, "approved", actor, note, restock):
            db.session.refresh(row)
            if row.state == "approved":
                return row
            raise orders.OrderError(_l("This request was already decided."))
        orders.refund(row.order, actor, amount_fen=row.amount_fen,
                      reason=f"after-sale: {row.reason}", restock=restock, after_sale=row)
    db.session.refresh(row)
    return row


def reject(row: AfterSaleRequest, actor, note: str = ""):
    note = (note or "").strip()
    if not note:
        raise orders.OrderError(_l("Say why the request is rejected."))
    with orders.unit_of_work():
        if not _decide(row, "rejected", actor, note, False):
            db.session.refresh(row)
            if row.state == "rejected":
                return row
            raise orders.OrderError(_l("This request was already decided."))
        order = row.order
        orders._record(order, actor, "after_sale_rejected", order.state, order.state, note,
                       request=row.id)
    db.session.refresh(row)
    return row


def open_requests(order_id: int) -> list[AfterSaleRequest]:
    return list(db.session.scalars(
        select(AfterSaleRequest).where(AfterSaleRequest.order_id == order_id)
        .order_by(AfterSaleRequest.id)
    ))
