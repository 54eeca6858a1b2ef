"""After-sale (售后): a customer asks for a refund or a return; the store (or HQ) decides.

A request may be opened while the order is paid and, once completed, until
the after-sale window closes (``deadlines.after_sale_days``). While a request is
open the order is neither auto-confirmed nor settled. Approval refunds through
the provider (optionally putting returned goods back in stock, line by line);
each decision is a conditional UPDATE, so two staff clicking at once decide once.
A request still open when the order is refunded in full by other means (a
deadline, the store's own refund) is closed by :func:`orders.refund`.
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

STATE_LABELS = {
    "open": _l("Open"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "closed": _l("Closed: the order was refunded in full"),
}


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


def request(order: Order, customer, kind: str, reason: str, amount_fen: int | None = None,
            return_lines=None):
    """Open a request; raises :class:`orders.OrderError` with the reason it cannot.

    ``return_lines`` (``{order line id: units}``) says what a return brings back;
    a return that says nothing brings everything back.
    """
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
    lines = _returned_lines(order, kind, return_lines)
    with orders.unit_of_work():
        row = AfterSaleRequest(
            chain_id=order.chain_id, store_id=order.store_id, order_id=order.id,
            customer_id=getattr(customer, "id", None), kind=kind, reason=reason[:2000],
            amount_fen=amount, return_lines=lines,
        )
        db.session.add(row)
        db.session.flush()
        orders._record(order, customer, "after_sale_requested", order.state, order.state,
                       reason, request=row.id, after_sale_kind=kind, amount_fen=amount,
                       return_lines=lines)
    return row


def _returned_lines(order: Order, kind: str, wanted) -> dict[str, int]:
    """What a return brings back, as stored (``{"<line id>": units}``); nothing for a refund."""
    if kind != "return":
        return {}
    lines = {line.id: line for line in order.lines}
    if not wanted or not any(dict(wanted).values()):
        return {str(line.id): line.quantity - line.restocked for line in lines.values()
                if line.quantity > line.restocked}
    found = {}
    for line_id, units in dict(wanted).items():
        try:
            line, units = lines.get(int(line_id)), int(units)
        except (TypeError, ValueError):
            line = None
        if line is None or not 0 <= units <= line.quantity - line.restocked:
            raise orders.OrderError(_l("Return at most what you bought."))
        if units:
            found[str(line.id)] = units
    return found


def _decide(row: AfterSaleRequest, state: str, actor, note: str, restock: bool) -> bool:
    return db.session.execute(
        update(AfterSaleRequest)
        .where(AfterSaleRequest.id == row.id, AfterSaleRequest.state == "open")
        .values(state=state, decided_by=orders.actor_of(actor), decided_at=clock.now(),
                decision_note=(note or "")[:2000], restock=restock)
        .execution_options(synchronize_session=False)
    ).rowcount == 1


def approve(row: AfterSaleRequest, actor, restock=False, note: str = ""):
    """Refund the requested amount and put what came back on the shelf.

    ``restock`` is ``{order line id: units}`` (what the store found back in
    sellable shape), or True for what the request said comes back, or falsy.
    """
    order = row.order
    if restock is True:
        restock = dict(row.return_lines or {}) or True
    # Checked before anything is decided, so a wrong count leaves the request open.
    full = row.amount_fen == order.refundable_fen
    plan = orders.restock_plan(order, restock, full)
    with orders.unit_of_work():
        if not _decide(row, "approved", actor, note, bool(plan)):
            db.session.refresh(row)
            if row.state == "approved":
                return row
            raise orders.OrderError(_l("This request was already decided."))
        db.session.execute(
            update(AfterSaleRequest).where(AfterSaleRequest.id == row.id)
            .values(return_lines={str(k): v for k, v in plan.items()})
            .execution_options(synchronize_session=False)
        )
        # The customer's own words; the timeline says it came from an after-sale request.
        orders.refund(order, actor, amount_fen=row.amount_fen, reason=row.reason,
                      restock=plan, after_sale=row, idempotency_key=f"after-sale-{row.id}")
        _notify_decision(row, order, "approved", note)
    db.session.refresh(row)
    return row


def _notify_decision(row: AfterSaleRequest, order: Order, decision: str, note: str) -> None:
    orders.notify_after_commit("after_sale_decided", order, request_id=row.id,
                               decision=decision, kind=row.kind, amount_fen=row.amount_fen,
                               note=note or "")


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
        _notify_decision(row, order, "rejected", note)
    db.session.refresh(row)
    return row


def open_requests(order_id: int) -> list[AfterSaleRequest]:
    return list(db.session.scalars(
        select(AfterSaleRequest).where(AfterSaleRequest.order_id == order_id)
        .order_by(AfterSaleRequest.id)
    ))
