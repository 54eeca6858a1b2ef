"""Distribution pages: the distributor centre, share tools, store applications, HQ console.

A visitor's ``?ref=CODE`` is caught on every store page (``referral_bp``): a
signed-in customer is bound at once, an anonymous one keeps the code in a
cookie (``sb_ref``, naming the chain) and is bound on the first page they see
signed in, which covers both signing in and registering. Ids in URLs are loaded
within the request's chain and answer 404 otherwise.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup
from sqlalchemy import func, select

from shopbuilder import clock
from shopbuilder.auth import customer_required, hq_required, manager_required
from shopbuilder.extensions import db
from shopbuilder.models import Product, Variant
from shopbuilder.money import parse_yuan
from shopbuilder.paging import page_arg
from shopbuilder.plugins import enabled_names, slot_html, slot_template, store_cached
from shopbuilder.themes import render_store_template

from . import poster, service
from .models import (
    Binding,
    Commission,
    Distributor,
    DistributorStatus,
    Grade,
    ProductCommission,
    Withdrawal,
    WithdrawalState,
)

log = logging.getLogger(__name__)

shop_bp = Blueprint("distribution", __name__, url_prefix="/s/<store>/distribution")
manage_bp = Blueprint("distribution_manage", __name__,
                      url_prefix="/s/<store>/manage/distribution")
hq_bp = Blueprint("distribution_hq", __name__, url_prefix="/hq/<chain>/distribution")
#: No routes: only catches ``?ref=`` on every store page (the plugin guard has nothing to 404).
referral_bp = Blueprint("distribution_referral", __name__)
REF_COOKIE = "sb_ref"
#: The query parameter of a shared link (declared to the page cache, which must let it through).
REF_PARAM = "ref"
PER_PAGE = 30


def _yuan(text) -> int | None:
    try:
        return parse_yuan((text or "").strip())
    except ValueError:
        return None


def _page() -> int:
    return page_arg()


def _customer():
    return current_user if getattr(current_user, "kind", None) == "customer" else None


def _on_here() -> bool:
    store = g.get("store")
    return store is not None and service.NAME in enabled_names(store)


# -- catching referral links ----------------------------------------------------------------------


@referral_bp.before_app_request
def catch_ref():
    if not _on_here():
        return
    code = (request.args.get(REF_PARAM) or "").strip()[:16]
    customer = _customer()
    if code:
        if customer is not None:
            service.bind(g.chain, customer.id, code, g.store)
            db.session.commit()
        else:
            g.distribution_ref = f"{g.chain.id}:{code}"
        return
    cookie = request.cookies.get(REF_COOKIE, "")
    if customer is not None and cookie:
        chain_id, _sep, saved = cookie.partition(":")
        if chain_id == str(g.chain.id) and saved:
            service.bind(g.chain, customer.id, saved, g.store)
            db.session.commit()
        g.distribution_forget_ref = True


@referral_bp.after_app_request
def keep_ref(response):
    ref = g.get("distribution_ref")
    if ref:
        days = int(service.chain_settings(g.chain)["protection_days"] or 30)
        response.set_cookie(REF_COOKIE, ref, max_age=days * 86400, httponly=True,
                            samesite="Lax", secure=request.is_secure)
    elif g.get("distribution_forget_ref"):
        response.delete_cookie(REF_COOKIE)
    return response


# -- share tools in the storefront ----------------------------------------------------------------


def active_distributor():
    customer = _customer()
    if customer is None or g.get("chain") is None:
        return None
    row = service.distributor_of(g.chain.id, customer.id)
    return row if row is not None and row.status == DistributorStatus.ACTIVE else None


#: Stands for the distributor's code in a share bar kept for every distributor of a store;
#: codes never contain "0" (``service.CODE_ALPHABET``), so it is never part of one.
CODE_STAND_IN = "0CODE0"


def share_slot(slot, store, context):
    """The share bar (link + poster) for a signed-in distributor; the centre link in the menu.

    A product's or the home page's bar is the same for every distributor of the store
    but for the code, so it is drawn once with a stand-in and kept (``store_cached``);
    each page puts the visitor's code in. A group's bar carries the group's own offer.
    """
    if slot == "account_menu":
        return Markup('<a href="{}">{}</a>').format(
            url_for("distribution.centre", store=store.slug), _("Distributor centre"))
    customer = _customer()
    code = service.share_code(store.chain_id, customer.id) if customer is not None else None
    if code is None:
        return None
    product_id = getattr(context.get("product"), "id", None)
    if slot == "group_actions":
        return _share_bar(*_group_links(store, context.get("group"), product_id, code), code)
    if slot == "product_actions" and isinstance(product_id, int):
        key = f"distribution:share-bar:product:{product_id}"

        def links(ref):
            return (url_for("storefront.product", store=store.slug, product_id=product_id,
                            ref=ref, _external=True),
                    url_for("distribution.product_poster", store=store.slug,
                            product_id=product_id))
    elif slot == "home_sections":
        key = "distribution:share-bar:home"

        def links(ref):
            return (url_for("storefront.home", store=store.slug, ref=ref, _external=True),
                    url_for("distribution.store_poster", store=store.slug))
    else:
        return None
    kept = store_cached(key, lambda: str(_share_bar(*links(CODE_STAND_IN), CODE_STAND_IN)),
                        store)
    return slot_html(kept.replace(CODE_STAND_IN, code))


def _group_links(store, group, product_id, code) -> tuple[str, str | None]:
    link = url_for("groupbuy.group_page", store=store.slug, group_id=group.id, ref=code,
                   _external=True)
    poster_url = (url_for("distribution.product_poster", store=store.slug,
                          product_id=product_id, group_id=group.id, offer=group_offer(group))
                  if isinstance(product_id, int) else None)
    return link, poster_url


def _share_bar(link: str, poster_url: str | None, code: str):
    return slot_template("distribution/share_bar.html", link=link, poster_url=poster_url,
                         code=code)


def _offers() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="distribution-group-poster")


def group_offer(group) -> str | None:
    """The group price, signed into the poster's URL, read from the group page's context.

    The poster is drawn in its own request, which knows only ids; signing the price
    the page showed lets it print the group price without reading group-buy's tables
    (and nobody can make a poster with a price of their own).
    """
    price = getattr(getattr(group, "campaign", None), "group_price_fen", None)
    if isinstance(price, bool) or not isinstance(price, int):
        return None
    return _offers().dumps([group.id, price])


def offered_price(group_id: int, offer: str | None) -> int | None:
    """The group price a signed ``offer`` names for ``group_id``, or None."""
    if not offer:
        return None
    try:
        signed_group, price = _offers().loads(offer)
    except (BadSignature, TypeError, ValueError):
        return None
    return price if signed_group == group_id and isinstance(price, int) else None


def _png(data: bytes):
    response = make_response(data)
    response.headers["Content-Type"] = "image/png"
    response.headers["Cache-Control"] = "private, max-age=600"
    return response


@shop_bp.get("/poster/p/<int:product_id>.png")
@customer_required
def product_poster(product_id):
    from shopbuilder.services import storefront_catalogue as catalogue

    distributor = active_distributor()
    found = catalogue.product(g.store, product_id)
    if distributor is None or found is None:
        abort(404)
    group_id = request.args.get("group_id", type=int)
    price_fen, price_label = found.price_fen, None
    if group_id:
        link = url_for("groupbuy.group_page", store=g.store.slug, group_id=group_id,
                       ref=distributor.code, _external=True)
        group_price = offered_price(group_id, request.args.get("offer"))
        if group_price is not None:
            price_fen, price_label = group_price, _("Group price")
    else:
        link = url_for("storefront.product", store=g.store.slug, product_id=product_id,
                       ref=distributor.code, _external=True)
    return _png(poster.render(title=found.title, price_fen=price_fen, price_label=price_label,
                              store_name=g.store.name, link=link,
                              image=poster.product_image(found.image)))


@shop_bp.get("/poster/store.png")
@customer_required
def store_poster():
    distributor = active_distributor()
    if distributor is None:
        abort(404)
    link = url_for("storefront.home", store=g.store.slug, ref=distributor.code, _external=True)
    return _png(poster.render(title=g.store.name, price_fen=None, store_name=g.store.name,
                              link=link, image=None))


# -- the distributor centre -----------------------------------------------------------------------


@shop_bp.get("/")
@customer_required
def centre():
    customer = _customer()
    distributor = service.distributor_of(g.chain.id, customer.id)
    policy = service.chain_settings(g.chain)
    if distributor is None or distributor.status != DistributorStatus.ACTIVE:
        return render_store_template("distribution/join.html", distributor=distributor,
                                     policy=policy)
    view = request.args.get("view", "orders")
    page = _page()
    with service.chain_scope(g.chain.id):
        summary = service.summary(distributor)
        if view == "team":
            query = select(Distributor).where(Distributor.parent_id == distributor.id) \
                .order_by(Distributor.id.desc())
        elif view == "customers":
            query = select(Binding).where(Binding.distributor_id == distributor.id) \
                .order_by(Binding.bound_at.desc())
        elif view == "withdrawals":
            query = select(Withdrawal).where(Withdrawal.distributor_id == distributor.id) \
                .order_by(Withdrawal.id.desc())
        else:
            view = "orders"
            query = select(Commission).where(Commission.distributor_id == distributor.id) \
                .order_by(Commission.id.desc())
        rows = list(db.session.scalars(query.offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)))
    link = url_for("storefront.home", store=g.store.slug, ref=distributor.code, _external=True)
    return render_store_template(
        "distribution/centre.html", distributor=distributor, summary=summary, view=view,
        rows=rows[:PER_PAGE], has_next=len(rows) > PER_PAGE, page=page, link=link,
        policy=policy, mask=service.mask_name, now=clock.now(),
        fee_bp=int(policy["withdraw_fee_bp"] or 0))


@shop_bp.post("/apply")
@customer_required
def apply():
    try:
        row = service.apply(g.chain, _customer(), g.store, request.form.get("note", ""))
        db.session.commit()
    except service.DistributionError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".centre"))
    if row.status == DistributorStatus.ACTIVE:
        flash(_("Welcome! You are a distributor now."), "success")
    else:
        flash(_("Thank you. We will look at your application soon."), "success")
    return redirect(url_for(".centre"))


@shop_bp.post("/withdraw")
@customer_required
def withdraw():
    distributor = active_distributor()
    if distributor is None:
        abort(404)
    amount = _yuan(request.form.get("amount", ""))
    if amount is None:
        flash(_("Enter an amount in yuan, such as 50 or 50.00."), "error")
        return redirect(url_for(".centre"))
    try:
        service.request_withdrawal(distributor, amount)
    except service.DistributionError as exc:
        flash(str(exc), "error")
    else:
        flash(_("Your withdrawal was requested; HQ pays it soon."), "success")
    return redirect(url_for(".centre", view="withdrawals"))


# -- the store console: applications made in this store ---------------------------------------


@manage_bp.get("/", endpoint="index")
@manager_required
def manage_index():
    with service.chain_scope(g.chain.id):
        pending = list(db.session.scalars(select(Distributor).where(
            Distributor.store_id == g.store.id, Distributor.status == DistributorStatus.PENDING
        ).order_by(Distributor.id).limit(100)))
        members = list(db.session.scalars(select(Distributor).where(
            Distributor.store_id == g.store.id, Distributor.status == DistributorStatus.ACTIVE
        ).order_by(Distributor.id.desc()).limit(100)))
    return render_template("distribution/manage_index.html", pending=pending, members=members)


@manage_bp.post("/applications/<int:distributor_id>")
@manager_required
def decide_application(distributor_id):
    row = service.get_distributor(g.chain.id, distributor_id)
    if row is None or row.store_id != g.store.id:
        abort(404)
    approve = request.form.get("decision") == "approve"
    if service.decide(row, approve, f"staff:{current_user.id}"):
        db.session.commit()
        flash(_("Application approved.") if approve else _("Application rejected."), "success")
    else:
        flash(_("Someone already decided this application."), "error")
    return redirect(url_for(".index"))


# -- HQ console ------------------------------------------------------------------------------------


def _money(field: str) -> int | None:
    value = _yuan(request.form.get(field, "") or "0")
    return value if value is not None and value >= 0 else None


def _int(field: str, low: int, high: int) -> int | None:
    try:
        value = int(request.form.get(field, ""))
    except ValueError:
        return None
    return value if low <= value <= high else None


def percent_to_bp(text, high_bp: int) -> int | None:
    """``"12.5"`` (or ``"12.5%"``) → 1250 basis points; None unless 0 ≤ it ≤ ``high_bp``.

    HQ thinks in percentages; the tables keep integer basis points so commission
    arithmetic stays in integers. Two decimals at most (0.01 % is one basis point).
    """
    try:
        value = Decimal((text or "").strip().rstrip("%").strip()) * 100
    except InvalidOperation:
        return None
    if not value.is_finite() or value != value.to_integral_value():
        return None
    bp = int(value)
    return bp if 0 <= bp <= high_bp else None


def bp_percent(bp: int) -> str:
    """1000 → ``"10"``, 1250 → ``"12.5"``, 5 → ``"0.05"``: basis points as HQ types them."""
    return format((Decimal(int(bp or 0)) / 100).normalize(), "f")


def _percent(field: str, high_bp: int) -> int | None:
    return percent_to_bp(request.form.get(field, ""), high_bp)


def settings_labels() -> dict[str, str]:
    """What HQ sees beside each rule (the error message names these, not setting keys)."""
    return {
        "join_policy": _("Who may join"),
        "join_min_spend_fen": _("Minimum spend (yuan)"),
        "binding_mode": _("Binding"),
        "protection_days": _("Protection period (days)"),
        "freeze_days": _("Extra freeze after the after-sale period (days)"),
        "withdraw_min_fen": _("Minimum withdrawal (yuan)"),
        "withdraw_fee_bp": _("Withdrawal fee (%)"),
        "self_purchase": _("Distributors earn on their own purchases"),
    }


#: At most this many products are offered in the fixed-commission picker (any SKU may be typed).
PICKER_SIZE = 500


@hq_bp.get("/", endpoint="index")
@hq_required
def hq_index():
    chain = g.chain
    with service.chain_scope(chain.id):
        grades = list(db.session.scalars(select(Grade).where(Grade.chain_id == chain.id)
                                         .order_by(Grade.position, Grade.id)))
        pending = list(db.session.scalars(select(Distributor).where(
            Distributor.status == DistributorStatus.PENDING).order_by(Distributor.id).limit(100)))
        payouts = list(db.session.scalars(select(Withdrawal).where(
            Withdrawal.state == WithdrawalState.PENDING).order_by(Withdrawal.id).limit(100)))
        fixed = list(db.session.scalars(select(ProductCommission).order_by(
            ProductCommission.product_id).limit(200)))
        titles = dict(db.session.execute(select(Product.id, Product.title).where(
            Product.id.in_([f.product_id for f in fixed] or [0]))).all())
        picker = db.session.execute(
            select(Variant.sku, Product.title).join(Product, Product.id == Variant.product_id)
            .where(Variant.chain_id == chain.id)
            .order_by(Product.title, Variant.sku).limit(PICKER_SIZE)).all()
        top = service.top_distributors(chain.id)
        total = db.session.scalar(select(func.count(Distributor.id))) or 0
    return render_template("distribution/hq_index.html", grades=grades, pending=pending,
                           payouts=payouts, fixed=fixed, titles=titles, picker=picker,
                           top=top, policy=service.chain_settings(chain), total=total,
                           modes=service.BINDING_MODES, policies=service.JOIN_POLICIES,
                           pct=bp_percent, labels=settings_labels())


@hq_bp.post("/settings")
@hq_required
def save_settings():
    values = {
        "join_policy": request.form.get("join_policy"),
        "binding_mode": request.form.get("binding_mode"),
        "join_min_spend_fen": _money("join_min_spend"),
        "protection_days": _int("protection_days", 1, 3650),
        "freeze_days": _int("freeze_days", 0, 365),
        "withdraw_min_fen": _money("withdraw_min"),
        "withdraw_fee_bp": _percent("withdraw_fee", 2000),
        "self_purchase": request.form.get("self_purchase") == "on",
    }
    bad = {k for k, v in values.items() if v is None}
    if values["join_policy"] not in service.JOIN_POLICIES:
        bad.add("join_policy")
    if values["binding_mode"] not in service.BINDING_MODES:
        bad.add("binding_mode")
    if bad:
        labels = settings_labels()
        names = [labels[key] for key in labels if key in bad]  # in the order of the form
        flash(_("Please correct: %(fields)s.", fields=", ".join(names)), "error")
        return redirect(url_for(".index"))
    service.save_chain_settings(g.chain, values)
    db.session.commit()
    flash(_("Distribution settings saved."), "success")
    return redirect(url_for(".index"))


@hq_bp.post("/grades")
@hq_required
def save_grade():
    name = (request.form.get("name") or "").strip()[:60]
    rate = _percent("rate", 5000)
    second = _percent("second_rate", 5000)
    if not name or rate is None or second is None:
        flash(_("A grade needs a name and rates from 0 to 50 percent, such as 10 or 12.5."),
              "error")
        return redirect(url_for(".index"))
    grade_id = request.form.get("grade_id", type=int)
    with service.chain_scope(g.chain.id):
        grade = db.session.get(Grade, grade_id) if grade_id else None
        if grade_id and (grade is None or grade.chain_id != g.chain.id):
            abort(404)
        if grade is None:
            grade = Grade(chain_id=g.chain.id, position=_int("position", 0, 999) or 0)
            db.session.add(grade)
        grade.name, grade.rate_bp, grade.second_rate_bp = name, rate, second
        try:
            db.session.commit()
        except Exception:
            db.session.rollback()
            flash(_("Another grade already has that name."), "error")
            return redirect(url_for(".index"))
    flash(_("Grade saved."), "success")
    return redirect(url_for(".index"))


@hq_bp.post("/fixed")
@hq_required
def save_fixed():
    first, second = _money("fixed"), _money("second_fixed")
    with service.chain_scope(g.chain.id):
        product = _chosen_product()
        if product is None or first is None or second is None:
            flash(_("Choose a product by its SKU and enter amounts in yuan."), "error")
            return redirect(url_for(".index"))
        row = db.session.scalar(select(ProductCommission).where(
            ProductCommission.product_id == product.id))
        if request.form.get("remove"):
            if row is not None:
                db.session.delete(row)
        else:
            row = row or ProductCommission(chain_id=g.chain.id, product_id=product.id)
            row.fixed_fen, row.second_fixed_fen = first, second
            db.session.add(row)
        db.session.commit()
    flash(_("Product commission saved."), "success")
    return redirect(url_for(".index"))


def _chosen_product() -> Product | None:
    """The product HQ picked: by SKU (typed or from the list), or by id (a row's own buttons)."""
    sku = (request.form.get("sku") or "").strip()
    if sku:
        product_id = db.session.scalar(select(Variant.product_id).where(
            Variant.chain_id == g.chain.id, Variant.sku == sku[:64]))
    else:
        product_id = request.form.get("product_id", type=int)
    product = db.session.get(Product, product_id) if product_id else None
    return product if product is not None and product.chain_id == g.chain.id else None


@hq_bp.get("/distributors")
@hq_required
def distributors():
    page = _page()
    with service.chain_scope(g.chain.id):
        rows = list(db.session.scalars(select(Distributor).order_by(Distributor.id.desc())
                                       .offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)))
        grades = list(db.session.scalars(select(Grade).order_by(Grade.position, Grade.id)))
    return render_template("distribution/hq_distributors.html", rows=rows[:PER_PAGE],
                           has_next=len(rows) > PER_PAGE, page=page, grades=grades)


@hq_bp.post("/distributors/<int:distributor_id>")
@hq_required
def update_distributor(distributor_id):
    row = service.get_distributor(g.chain.id, distributor_id)
    if row is None:
        abort(404)
    decision = request.form.get("decision")
    actor = f"staff:{current_user.id}"
    with service.chain_scope(g.chain.id):
        if decision in ("approve", "reject"):
            if not service.decide(row, decision == "approve", actor):
                flash(_("Someone already decided this application."), "error")
                return redirect(url_for(".index"))
        elif decision in ("suspend", "reinstate"):
            row.status = (DistributorStatus.SUSPENDED if decision == "suspend"
                          else DistributorStatus.ACTIVE)
        grade_id = request.form.get("grade_id", type=int)
        if grade_id:
            grade = db.session.get(Grade, grade_id)
            if grade is None or grade.chain_id != g.chain.id:
                abort(404)
            row.grade_id = grade.id
        db.session.commit()
    flash(_("Distributor updated."), "success")
    return redirect(request.form.get("back") == "list" and url_for(".distributors")
                    or url_for(".index"))


@hq_bp.post("/withdrawals/<int:withdrawal_id>")
@hq_required
def decide_payout(withdrawal_id):
    with service.chain_scope(g.chain.id):
        row = db.session.get(Withdrawal, withdrawal_id)
    if row is None or row.chain_id != g.chain.id:
        abort(404)
    approve = request.form.get("decision") == "pay"
    try:
        done = service.decide_withdrawal(row, approve, f"staff:{current_user.id}",
                                         request.form.get("reference", ""))
    except service.DistributionError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".index"))
    if done:
        flash(_("Withdrawal marked as paid.") if approve else _("Withdrawal rejected."),
              "success")
    else:
        flash(_("Someone already decided this withdrawal."), "error")
    return redirect(url_for(".index"))
