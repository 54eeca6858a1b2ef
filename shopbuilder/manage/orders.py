"""The store console's orders: a filtered list, and each order with its timeline and actions."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from ..auth import staff_required
from ..extensions import db
from ..models import AfterSaleRequest, Order, OrderState
from ..money import parse_yuan
from ..paging import page_arg
from ..plugins import render_slot
from ..services import aftersale, orders
from ..services.ledger import LedgerError
from ..services.orders import STATE_LABELS, fulfilment_label

bp = Blueprint("manage_orders", __name__, url_prefix="/s/<store>/manage/orders")
PER_PAGE = 25
LOCAL = ZoneInfo("Asia/Shanghai")


def _day(text: str | None):
    try:
        return datetime.strptime(text or "", "%Y-%m-%d").replace(tzinfo=LOCAL)
    except ValueError:
        return None


@bp.get("/")
@staff_required
def index():
    args = request.args
    stmt = select(Order)
    state = args.get("state") or ""
    if state in OrderState.ALL:
        stmt = stmt.where(Order.state == state)
    fulfilment = args.get("fulfilment") or ""
    if fulfilment:
        stmt = stmt.where(Order.fulfilment_code == fulfilment[:32])
    start, end = _day(args.get("from")), _day(args.get("to"))
    if start:
        stmt = stmt.where(Order.created_at >= start)
    if end:
        stmt = stmt.where(Order.created_at < end + timedelta(days=1))
    if args.get("after_sale") == "open":
        stmt = stmt.where(Order.id.in_(
            select(AfterSaleRequest.order_id).where(AfterSaleRequest.state == "open")
        ))
    query = (args.get("q") or "").strip()
    if query:
        stmt = stmt.where(Order.number.contains(query[:40]))
    page = page_arg()
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(
        stmt.order_by(Order.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    codes = db.session.scalars(select(Order.fulfilment_code).distinct()).all()
    open_requests = db.session.scalar(
        select(func.count(AfterSaleRequest.id)).where(AfterSaleRequest.state == "open")
    )
    return render_template(
        "manage/orders/index.html", orders=rows, page=page, total=total,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1), state_labels=STATE_LABELS,
        fulfilment_codes=codes, filters=args, open_requests=open_requests,
        fulfilment_label=fulfilment_label,
    )


def _order(order_id: int) -> Order:
    order = db.session.get(Order, order_id)
    if order is None or order.store_id != g.store.id:
        abort(404)
    return order


@bp.get("/<int:order_id>")
@staff_required
def detail(order_id):
    order = _order(order_id)
    return render_template(
        "manage/orders/detail.html", order=order, events=orders.timeline(order),
        actions=orders.allowed_actions(order), state_labels=STATE_LABELS,
        requests=aftersale.open_requests(order.id), fulfilment_label=fulfilment_label,
        # A new key each time the page is drawn: resubmitting this form refunds once.
        refund_key=secrets.token_urlsafe(16),
        manage_order_detail=render_slot("manage_order_detail", order=order),
    )


def _back(order):
    return redirect(url_for("manage_orders.detail", order_id=order.id))


def _restock_choice(form):
    """What goes back on the shelf: per line (``restock_<line id>``), or the old checkbox."""
    per_line = orders.units_from_form(form, "restock_")
    if per_line:
        return per_line
    return bool(form.get("restock"))


@bp.post("/<int:order_id>/<action>")
@staff_required
def act(order_id, action):
    order = _order(order_id)
    form = request.form
    who = current_user
    reason = form.get("reason", "").strip()[:500]
    try:
        if action == "pay":
            orders.mark_paid(order, who, form.get("reference", "").strip()[:60])
            message = _("Marked as paid.")
        elif action == "mark_ready":
            orders.mark_ready(order, who, reason)
            message = _("Ready for pickup.")
        elif action == "ship":
            orders.ship(order, who, form.get("tracking_number", ""))
            message = _("Shipped.")
        elif action == "complete":
            orders.complete(order, who, reason)
            message = _("Completed.")
        elif action == "cancel":
            if not form.get("confirm"):
                flash(_("Tick the box to confirm."), "error")
                return _back(order)
            orders.cancel(order, who, reason)
            message = _("Cancelled; the stock is back on sale.")
        elif action == "refund":
            if not form.get("confirm"):
                flash(_("Tick the box to confirm the refund."), "error")
                return _back(order)
            try:
                amount = parse_yuan(form["amount"]) if form.get("amount", "").strip() else None
            except ValueError:
                flash(_("Enter an amount such as 12.80."), "error")
                return _back(order)
            orders.refund(order, who, amount_fen=amount, reason=reason,
                          restock=_restock_choice(form),
                          idempotency_key=form.get("idempotency_key"))
            message = _("Refunded.")
        else:
            abort(404)
    except orders.OrderError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(order)
    except LedgerError as exc:
        db.session.rollback()
        flash(_ledger_refusal(exc), "error")
        return _back(order)
    flash(message, "success")
    return _back(order)


@bp.post("/after-sale/<int:request_id>/<decision>")
@staff_required
def decide(request_id, decision):
    row = db.session.get(AfterSaleRequest, request_id)
    if row is None or row.store_id != g.store.id:
        abort(404)
    return decide_request(row, decision, url_for("manage_orders.detail", order_id=row.order_id))


def decide_request(row, decision: str, back: str):
    """Approve or reject an after-sale request (shared by the store and HQ consoles)."""
    form = request.form
    try:
        if decision == "approve":
            if not form.get("confirm"):
                flash(_("Tick the box to confirm the refund."), "error")
                return redirect(back)
            aftersale.approve(row, current_user, restock=_restock_choice(form),
                              note=form.get("note", ""))
            flash(_("Approved and refunded."), "success")
        elif decision == "reject":
            aftersale.reject(row, current_user, form.get("note", ""))
            flash(_("Request rejected."), "success")
        else:
            abort(404)
    except orders.OrderError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    except LedgerError as exc:
        db.session.rollback()
        flash(_ledger_refusal(exc), "error")
    return redirect(back)


def _ledger_refusal(exc: LedgerError) -> str:
    """The ledger's own reason (nothing was changed): never "enter an amount" for it."""
    return _("The ledger refused this, so nothing was changed: %(reason)s", reason=str(exc))
