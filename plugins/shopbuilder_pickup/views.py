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
from urllib.parse import urlsplit

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
from sqlalchemy import case, func, select

from shopbuilder import clock
from shopbuilder.auth import hq_required, staff_required
from shopbuilder.extensions import db, limiter
from shopbuilder.models import Order, Store
from shopbuilder.paging import page_arg
from shopbuilder.services import cart as cart_service
from shopbuilder.services import orders

from . import codes, finder, service, slots
from .models import PickupCollection, PickupOrder, PickupSlot

store_bp = Blueprint("pickup", __name__, url_prefix="/s/<store>")
manage_bp = Blueprint("pickup_manage", __name__, url_prefix="/s/<store>/manage/pickup")
hq_bp = Blueprint("pickup_hq", __name__, url_prefix="/hq/<chain>/pickup")

REPORT_PAGE = 50
#: Stores per page of the per-day table (one column each; a phone shows a few at a time).
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


def local_day_bounds(day, zone):
    start = datetime.combine(day, time(0), zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), zone)


# -- the store finder -------------------------------------------------------------------------


def _visitor_cart():
    customer_id = current_user.id if getattr(current_user, "kind", None) == "customer" else None
    token = cart_service.visitor_token()
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
    found = finder.nearest(g.chain.id, lat, lng, city, product_id, near=g.store)
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
    if target is None or not finder.offers_pickup(g.chain.id, target.id):
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
    pickup = service.in_step(order)
    if pickup is None:
        return None
    code = codes.code_of(pickup) if pickup.state == "ready" else None
    return render_template(
        "pickup/order_slot.html", pickup=pickup, order=order, store=order.store,
        code=codes.display(code) if code else None, qr=codes.qr_svg(code) if code else None,
        LOCAL=slots.local_zone(order.store),
    )


# -- the store console ---------------------------------------------------------------------------


@manage_bp.get("/")
@staff_required
def today():
    zone = slots.local_zone(g.store)
    day = clock.now().astimezone(zone).date()
    chosen = request.args.get("day")
    if chosen:
        try:
            day = datetime.strptime(chosen, "%Y-%m-%d").date()
        except ValueError:
            flash(_("Write the day as 2026-11-27."), "error")
    start, end = local_day_bounds(day, zone)
    rows = db.session.scalars(
        select(PickupOrder).where(PickupOrder.slot_start >= start, PickupOrder.slot_start < end)
        .order_by(PickupOrder.slot_start, PickupOrder.id)
    ).all()
    by_slot = defaultdict(list)
    for row in rows:
        by_slot[row.slot_start].append(row)
    booked = dict(db.session.execute(
        select(PickupSlot.starts_at, PickupSlot.booked)
        .where(PickupSlot.starts_at >= start, PickupSlot.starts_at < end)
    ).all())
    verified = db.session.scalars(
        select(PickupCollection).where(PickupCollection.at >= start, PickupCollection.at < end)
        .order_by(PickupCollection.at.desc())
    ).all()
    return render_template(
        "pickup/manage_today.html", day=day, verified=verified,
        by_slot=[(slot_start.astimezone(zone), booked.get(slot_start, 0), found)
                 for slot_start, found in sorted(by_slot.items())],
        capacity=slots.config(g.store)["capacity"],
        pickups={p.id: p for p in rows} | {
            p.id: p for p in db.session.scalars(select(PickupOrder).where(
                PickupOrder.id.in_([v.pickup_id for v in verified])))},
        state_labels=orders.STATE_LABELS, LOCAL=zone,
        prev_day=day - timedelta(days=1), next_day=day + timedelta(days=1),
    )


def back_within_store(default: str) -> str:
    """The form's ``back`` when it is a path inside this store's pages, else ``default``.

    Never another site (``//evil.example``, ``https://...``) nor another store's pages.
    """
    target = request.form.get("back") or ""
    parts = urlsplit(target)
    home = url_for("storefront.home")
    if (not parts.scheme and not parts.netloc and "\\" not in target
            and target.startswith(home) and not target.startswith("//")):
        return target
    return default


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
    return redirect(back_within_store(url_for("pickup_manage.today")))


def _clerk_key() -> str:
    return f"pickup-verify:{getattr(current_user, 'id', None) or request.remote_addr}"


def _verify_limit() -> str:
    return current_app.config.get("PICKUP_VERIFY_LIMIT", "10 per 10 minutes")


def _wrong_code(response) -> bool:
    return bool(g.get("pickup_wrong_code"))


@manage_bp.errorhandler(429)
def too_many(error):
    return render_template("pickup/manage_verify.html", result=None, text="",
                           limited=True, LOCAL=slots.local_zone(g.store)), 429


@manage_bp.route("/verify", methods=["GET", "POST"])
@staff_required
@limiter.limit(_verify_limit, key_func=_clerk_key, methods=["POST"], deduct_when=_wrong_code)
def verify():
    zone = slots.local_zone(g.store)
    if request.method == "GET":
        return render_template("pickup/manage_verify.html", result=None, text="", LOCAL=zone)
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
                                       LOCAL=zone), 422
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
                           LOCAL=zone), status


# -- HQ -----------------------------------------------------------------------------------------


@hq_bp.get("/")
@hq_required
def report():
    """Pickups collected and no-shows per store and per day, counted in SQL.

    Stores are paged in SQL (busiest first, then by name), the per-day table
    has its own pager over the stores that had pickups (``REPORT_DAY_COLUMNS``
    columns at a time), so the page costs the same for 10 stores or 100,000.
    """
    zone = slots.local_zone()
    days = min(max(_int(request.args.get("days"), 14) or 14, 1), 92)
    first = clock.now().astimezone(zone).date() - timedelta(days=days - 1)
    day_list = [first + timedelta(days=i) for i in range(days)]
    edges = [local_day_bounds(day, zone)[0] for day in day_list]
    edges.append(local_day_bounds(day_list[-1], zone)[1])
    closed = select(
        PickupOrder.store_id, PickupOrder.state,
        # The local day as an index into day_list: the boundaries come from zoneinfo,
        # so this is right on any database and across daylight-saving changes.
        case(*[(PickupOrder.closed_at < edge, i) for i, edge in enumerate(edges[1:])])
        .label("day"),
    ).where(PickupOrder.chain_id == g.chain.id, PickupOrder.state.in_(("collected", "expired")),
            PickupOrder.closed_at >= edges[0], PickupOrder.closed_at < edges[-1]).subquery()
    collected = func.sum(case((closed.c.state == "collected", 1), else_=0))
    expired = func.sum(case((closed.c.state == "expired", 1), else_=0))
    per_store = select(closed.c.store_id, collected.label("collected"),
                       expired.label("expired")).group_by(closed.c.store_id).subquery()
    busy = func.coalesce(per_store.c.collected, 0) + func.coalesce(per_store.c.expired, 0)

    page = page_arg()
    n_stores = db.session.scalar(select(func.count(Store.id)).where(Store.chain_id == g.chain.id))
    store_rows = db.session.execute(
        select(Store, func.coalesce(per_store.c.collected, 0),
               func.coalesce(per_store.c.expired, 0))
        .outerjoin(per_store, per_store.c.store_id == Store.id)
        .where(Store.chain_id == g.chain.id)
        .order_by(busy.desc(), Store.name, Store.id)
        .limit(REPORT_PAGE).offset((page - 1) * REPORT_PAGE)
    ).all()
    stores = [row[0] for row in store_rows]
    totals = {row[0].id: {"collected": int(row[1]), "expired": int(row[2])} for row in store_rows}

    cols = page_arg("cols")
    n_active = db.session.scalar(select(func.count()).select_from(per_store))
    active = list(db.session.scalars(
        select(Store).join(per_store, per_store.c.store_id == Store.id)
        .order_by(busy.desc(), Store.name, Store.id)
        .limit(REPORT_DAY_COLUMNS).offset((cols - 1) * REPORT_DAY_COLUMNS)
    ))
    table = defaultdict(lambda: defaultdict(lambda: {"collected": 0, "expired": 0}))
    for store_id, day, state, n in db.session.execute(
            select(closed.c.store_id, closed.c.day, closed.c.state, func.count())
            .where(closed.c.store_id.in_([s.id for s in active]))
            .group_by(closed.c.store_id, closed.c.day, closed.c.state)):
        table[store_id][day_list[day]][state] = n
    chain_days = defaultdict(lambda: {"collected": 0, "expired": 0})
    for day, state, n in db.session.execute(
            select(closed.c.day, closed.c.state, func.count())
            .group_by(closed.c.day, closed.c.state)):
        chain_days[day_list[day]][state] = n

    def rate(counts):
        done = counts["collected"] + counts["expired"]
        return None if done == 0 else counts["expired"] / done

    return render_template(
        "pickup/hq_report.html", stores=stores, active=active, table=table, totals=totals,
        chain_days=chain_days, days=day_list, rate=rate, n_days=days, page=page,
        pages=max((n_stores + REPORT_PAGE - 1) // REPORT_PAGE, 1), cols=cols,
        col_pages=max((n_active + REPORT_DAY_COLUMNS - 1) // REPORT_DAY_COLUMNS, 1),
        first_col=(cols - 1) * REPORT_DAY_COLUMNS + 1, n_active=n_active,
    )
