"""The plugin's pages: the store finder, the counter (核销) and the consoles.

* ``/s/<store>/stores``: the chain's stores nearest the customer.
* ``/s/<store>/manage/pickup/``: today's pickups by slot, prepare, verified list.
* ``/s/<store>/manage/pickup/verify``: type or scan a code, hand the goods over.
* ``/hq/<chain>/pickup``: pickups per store per day and the no-show rate.

Store pages 404 where the plugin is off (the host's blueprint guard).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from shopbuilder import clock
from shopbuilder.auth import hq_required, staff_required
from shopbuilder.extensions import db, limiter
from shopbuilder.models import Order, Store
from shopbuilder.services import cart as cart_service
from shopbuilder.services import orders

from . import codes, finder, service, slots
from .models import PickupCollection, PickupOrder

store_bp = Blueprint("pickup", __name__, url_prefix="/s/<store>")
manage_bp = Blueprint("pickup_manage", __name__, url_prefix="/s/<store>/manage/pickup")
hq_bp = Blueprint("pickup_hq", __name__, url_prefix="/hq/<chain>/pickup")

LOCAL = slots.LOCAL
REPORT_PAGE = 50
REPORT_DAY_COLUMNS = 12
DAY_LABELS = {"mon": _l("Mon"), "tue": _l("Tue"), "wed": _l("Wed"), "thu": _l("Thu"),
              "fri": _l("Fri"), "sat": _l("Sat"), "sun": _l("Sun")}


def _float(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if -180.0 <= number <= 180.0 else None


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def local_day_bounds(day):
    start = datetime.combine(day, time(0), LOCAL)
    return start, start + timedelta(days=1)


# -- the store finder -------------------------------------------------------------------------


def _visitor_cart():
    customer_id = current_user.id if getattr(current_user, "kind", None) == "customer" else None
    token = cart_service.read_token(request.cookies.get(cart_service.COOKIE_NAME))
    cart = (cart_service.find_cart(g.store, customer_id=customer_id) if customer_id
            else cart_service.find_cart(g.store, token=token) if token else None)
    return cart, customer_id, token


@store_bp.get("/stores")
def stores():
    lat, lng = _float(request.args.get("lat")), _float(request.args.get("lng"))
    if lat is not None and not -90 <= lat <= 90:
        lat = None
    city = (request.args.get("city") or "").strip()[:64]
    product_id = _int(request.args.get("product_id"))
    found = finder.nearest(g.chain.id, lat, lng, city, product_id)
    cart, _customer, _token = _visitor_cart()
    lines = [(line.variant, line.quantity) for line in (cart.lines if cart else [])]
    unavailable = {}
    if lines:
        for f in found:
            if f.store.id != g.store.id:
                unavailable[f.store.id] = finder.check_cart_at(f.store, lines).unavailable
    return render_template(
        "pickup/finder.html", found=found, cities=finder.cities(g.chain.id), city=city,
        lat=lat, lng=lng, product_id=product_id, unavailable=unavailable, has_cart=bool(lines),
        day_labels=DAY_LABELS,
    )


@store_bp.post("/stores/switch")
def switch_store():
    target = db.session.scalar(select(Store).where(
        Store.slug == (request.form.get("to") or "")[:64], Store.chain_id == g.chain.id,
        Store.status == "active"))
    if target is None or target.id not in {s.id for s in finder.pickup_stores(g.chain.id)}:
        abort(404)
    cart, customer_id, token = _visitor_cart()
    if target.id == g.store.id:
        return redirect(url_for("shop_orders.cart"))
    if customer_id is None and token is None and cart is None:
        return redirect(url_for("storefront.home", store=target.slug))
    move = finder.move_cart(cart, target, customer_id, token)
    if move.unavailable:
        flash(_("Not available at %(store)s, so not in your cart there: %(items)s",
                store=target.name, items=", ".join(move.unavailable)), "error")
    if move.kept:
        flash(_("Your cart at %(store)s: %(items)s", store=target.name,
                items=", ".join(move.kept)), "success")
    return redirect(url_for("shop_orders.cart", store=target.slug))


# -- the customer's code ------------------------------------------------------------------------


def customer_pickup_panel(order: Order):
    """The order page's pickup panel: where and when, then the code and its QR once ready."""
    pickup = service.pickup_of(order.id)
    if pickup is None:
        return None
    if order.state == orders.S.READY_FOR_PICKUP and pickup.state == "booked":
        pickup = service.ensure_ready(order)
    code = codes.code_of(pickup) if pickup.state == "ready" else None
    return render_template(
        "pickup/order_slot.html", pickup=pickup, order=order, store=order.store,
        code=codes.display(code) if code else None, qr=codes.qr_svg(code) if code else None,
        LOCAL=LOCAL,
    )


# -- the store console ---------------------------------------------------------------------------


@manage_bp.get("/")
@staff_required
def today():
    day = clock.now().astimezone(LOCAL).date()
    chosen = request.args.get("day")
    if chosen:
        try:
            day = datetime.strptime(chosen, "%Y-%m-%d").date()
        except ValueError:
            flash(_("Write the day as 2026-11-27."), "error")
    start, end = local_day_bounds(day)
    rows = db.session.scalars(
        select(PickupOrder).where(PickupOrder.slot_start >= start, PickupOrder.slot_start < end)
        .order_by(PickupOrder.slot_start, PickupOrder.id)
    ).all()
    by_slot = defaultdict(list)
    for row in rows:
        by_slot[row.slot_start.astimezone(LOCAL)].append(row)
    verified = db.session.scalars(
        select(PickupCollection).where(PickupCollection.at >= start, PickupCollection.at < end)
        .order_by(PickupCollection.at.desc())
    ).all()
    return render_template(
        "pickup/manage_today.html", day=day, by_slot=sorted(by_slot.items()), verified=verified,
        pickups={p.id: p for p in rows} | {
            p.id: p for p in db.session.scalars(select(PickupOrder).where(
                PickupOrder.id.in_([v.pickup_id for v in verified])))},
        state_labels=orders.STATE_LABELS, LOCAL=LOCAL,
        prev_day=day - timedelta(days=1), next_day=day + timedelta(days=1),
    )


@manage_bp.post("/<int:pickup_order_id>/prepare")
@staff_required
def prepare(pickup_order_id):
    pickup = db.session.get(PickupOrder, pickup_order_id)
    if pickup is None:
        abort(404)
    try:
        service.mark_prepared(pickup.order, current_user)
    except orders.OrderError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        flash(_("Order %(number)s is ready; the customer was told.",
                number=pickup.order.number), "success")
    return redirect(request.form.get("back") or url_for("pickup_manage.today"))


def _clerk_key() -> str:
    return f"pickup-verify:{getattr(current_user, 'id', None) or request.remote_addr}"


def _verify_limit() -> str:
    return current_app.config.get("PICKUP_VERIFY_LIMIT", "10 per 10 minutes")


def _wrong_code(response) -> bool:
    return bool(g.get("pickup_wrong_code"))


@manage_bp.errorhandler(429)
def too_many(error):
    return render_template("pickup/manage_verify.html", result=None, text="",
                           limited=True, LOCAL=LOCAL), 429


@manage_bp.route("/verify", methods=["GET", "POST"])
@staff_required
@limiter.limit(_verify_limit, key_func=_clerk_key, methods=["POST"], deduct_when=_wrong_code)
def verify():
    if request.method == "GET":
        return render_template("pickup/manage_verify.html", result=None, text="", LOCAL=LOCAL)
    text = (request.form.get("code") or "")[:600]
    result = service.lookup(g.store, text)
    g.pickup_wrong_code = result.wrong
    status = 200
    if request.form.get("action") == "collect" and result.outcome == "ok":
        quantities = {}
        for line in result.pickup.lines:
            n = _int(request.form.get(f"qty_{line.id}"), 0)
            if n < 0 or n > line.remaining:
                flash(_("Hand over between 0 and %(n)s of %(title)s.", n=line.remaining,
                        title=line.order_line.title), "error")
                return render_template("pickup/manage_verify.html", result=result, text=text,
                                       LOCAL=LOCAL), 422
            quantities[line.id] = n
        try:
            record = service.collect(g.store, result.pickup.id, quantities, current_user)
        except orders.OrderError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            result = service.lookup(g.store, text)
            status = 409
        else:
            if record.complete:
                flash(_("Collected: order %(number)s is complete.",
                        number=result.pickup.order.number), "success")
            else:
                flash(_("Handed over; the rest of order %(number)s stays ready.",
                        number=result.pickup.order.number), "success")
            return redirect(url_for("pickup_manage.verify"))
    elif result.outcome != "ok":
        status = 404 if result.wrong else 409
    return render_template("pickup/manage_verify.html", result=result, text=text,
                           LOCAL=LOCAL), status


# -- HQ -----------------------------------------------------------------------------------------


@hq_bp.get("/")
@hq_required
def report():
    days = min(max(_int(request.args.get("days"), 14) or 14, 1), 92)
    today_local = clock.now().astimezone(LOCAL).date()
    first = today_local - timedelta(days=days - 1)
    start, _end = local_day_bounds(first)
    rows = db.session.execute(
        select(PickupOrder.store_id, PickupOrder.state, PickupOrder.collected_at,
               PickupOrder.closed_at)
        .where(PickupOrder.state.in_(("collected", "expired")), PickupOrder.closed_at >= start)
    ).all()
    table = defaultdict(lambda: defaultdict(lambda: {"collected": 0, "expired": 0}))
    totals = defaultdict(lambda: {"collected": 0, "expired": 0})
    for row in rows:
        day = row.closed_at.astimezone(LOCAL).date()
        table[row.store_id][day][row.state] += 1
        totals[row.store_id][row.state] += 1
    # Stores with pickups in the period first (busiest first), then the rest; paginated.
    all_stores = sorted(service.stores_of_chain(g.chain.id), key=lambda s: (
        -(totals[s.id]["collected"] + totals[s.id]["expired"]) if s.id in totals else 1, s.name))
    page = max(_int(request.args.get("page"), 1) or 1, 1)
    stores = all_stores[(page - 1) * REPORT_PAGE:page * REPORT_PAGE]
    active = [s for s in stores if s.id in totals][:REPORT_DAY_COLUMNS]
    day_list = [first + timedelta(days=i) for i in range(days)]

    def rate(counts):
        done = counts["collected"] + counts["expired"]
        return None if done == 0 else counts["expired"] / done

    return render_template(
        "pickup/hq_report.html", stores=stores, active=active, table=table, totals=totals,
        days=day_list, rate=rate, n_days=days, page=page,
        pages=max((len(all_stores) + REPORT_PAGE - 1) // REPORT_PAGE, 1),
    )
