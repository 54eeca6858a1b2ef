"""HQ steps in on after-sale requests of any of its stores (``/hq/<chain>/after-sales``)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from sqlalchemy import func, select

from ..auth import hq_required
from ..extensions import db
from ..manage.orders import decide_request
from ..models import AfterSaleRequest
from ..paging import page_arg

bp = Blueprint("hq_orders", __name__, url_prefix="/hq/<chain>/after-sales")
PER_PAGE = 25


@bp.get("/")
@hq_required
def index():
    state = request.args.get("state", "open")
    stmt = select(AfterSaleRequest)
    if state in AfterSaleRequest.STATES:
        stmt = stmt.where(AfterSaleRequest.state == state)
    page = page_arg()
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(
        stmt.order_by(AfterSaleRequest.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    return render_template("hq/after_sales.html", requests=rows, state=state, page=page,
                           pages=max((total + PER_PAGE - 1) // PER_PAGE, 1))


@bp.post("/<int:request_id>/<decision>")
@hq_required
def decide(request_id, decision):
    row = db.session.get(AfterSaleRequest, request_id)
    if row is None:
        abort(404)
    return decide_request(row, decision, url_for("hq_orders.index"))
