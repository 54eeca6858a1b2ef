"""Group-buy pages: the customer's campaign and group pages, the store console, HQ.

Every id in a URL is loaded within the request's store (or chain) and answers
404 when it belongs to another one: a group can never be joined through
another store's address.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from shopbuilder.auth import customer_required, hq_required, staff_required
from shopbuilder.extensions import db
from shopbuilder.models import Store, Variant
from shopbuilder.payments import providers_for
from shopbuilder.plugins import store_hook
from shopbuilder.services import orders

from . import service
from .forms import CampaignForm, HQCampaignForm, aware
from .models import Campaign, Group, GroupMember, GroupState

shop_bp = Blueprint("groupbuy", __name__, url_prefix="/s/<store>/groups")
manage_bp = Blueprint("groupbuy_manage", __name__, url_prefix="/s/<store>/manage/groupbuy")
hq_bp = Blueprint("groupbuy_hq", __name__, url_prefix="/hq/<chain>/groupbuy")
PER_PAGE = 30

def _labels():
    return {
        "pending": _("Waiting for the leader to pay"), "open": _("Group open"),
        "succeeded": _("Group complete"), "failed": _("Did not fill"), "cancelled": _("Cancelled"),
        "reserved": _("Paying"), "paid": _("Joined"), "refund_due": _("Refund due"),
        "refunded": _("Refunded"),
    }


def _customer_id() -> int | None:
    return current_user.id if getattr(current_user, "kind", None) == "customer" else None


def _ref() -> str | None:
    ref = (request.args.get("ref") or request.form.get("ref") or "").strip()
    return ref[:64] or None


def _page() -> int:
    try:
        return max(1, int(request.args.get("page", 1)))
    except ValueError:
        return 1


# -- the customer's pages ----------------------------------------------------------------------


def product_context(store, product_id: int) -> dict | None:
    """What the product page slots show: the live campaign, its prices, groups to join.

    Both product-page slots (below the price, the actions) ask for it, so it is worked
    out once per request and kept in ``flask.g``: the page runs the campaign queries
    once, not once per slot.
    """
    known = g.setdefault("groupbuy_product_context", {})
    key = (store.id, product_id)
    if key not in known:
        known[key] = _product_context(store, product_id)
    found = known[key]
    return dict(found) if found is not None else None


def _product_context(store, product_id: int) -> dict | None:
    campaigns = service.live_campaigns(store, product_id)
    if not campaigns:
        return None
    campaign = campaigns[0]
    groups = service.joinable_groups(store, campaign, _customer_id())
    return {
        "campaign": campaign, "single_fen": service.single_price(store, campaign),
        "groups": groups, "members": {gr.id: service.shown_members(gr) for gr in groups},
        "seconds_left": service.seconds_left, "store": store,
    }


def _own_campaign(campaign_id: int) -> Campaign:
    campaign = service.get_campaign(g.store, campaign_id)
    if campaign is None:
        abort(404)
    return campaign


def _own_group(group_id: int) -> Group:
    group = service.get_group(g.store, group_id)
    if group is None:
        abort(404)
    return group


@shop_bp.get("/c/<int:campaign_id>")
def campaign_page(campaign_id):
    campaign = _own_campaign(campaign_id)
    found = product_context(g.store, campaign.product_id) or {
        "campaign": campaign, "single_fen": service.single_price(g.store, campaign),
        "groups": [], "members": {}, "seconds_left": service.seconds_left, "store": g.store}
    found["campaign"] = campaign
    return render_template("groupbuy/campaign.html", live=campaign in service.live_campaigns(
        g.store, campaign.product_id), **found)


def share_url(group: Group) -> str:
    """The group's link to share; carries the sharer's referral code when a plugin gives one.

    Distribution answers ``shopbuilder_share_ref`` with the customer's code; a link
    opened with ``?ref=`` keeps it, so a friend who shares further credits the
    same distributor.
    """
    args = {}
    ref = _ref()
    if _customer_id() is not None:
        ref = store_hook("shopbuilder_share_ref")(store=g.store, customer=current_user) or ref
    if ref:
        args["ref"] = str(ref)[:64]
    return url_for("groupbuy.group_page", group_id=group.id, _external=True, **args)


@shop_bp.get("/<int:group_id>")
def group_page(group_id):
    group = _own_group(group_id)
    if group.state == GroupState.PENDING and service.member_of(group, _customer_id()) is None:
        abort(404)  # nobody sees a group before its leader paid
    campaign = group.campaign
    members = service.shown_members(group)
    mine = service.member_of(group, _customer_id())
    return render_template(
        "groupbuy/group.html", group=group, campaign=campaign, members=members, mine=mine,
        single_fen=service.single_price(g.store, campaign), labels=_labels(),
        seconds_left=service.seconds_left(group), share_url=share_url(group), ref=_ref(),
        can_join=group.state == GroupState.OPEN and group.seats_taken < group.size
        and mine is None and service.seconds_left(group) > 0,
    )


def _checkout_from_form() -> orders.Checkout:
    form = request.form
    return orders.Checkout(
        fulfilment_code=form.get("fulfilment", ""),
        payment_provider=form.get("payment_provider", ""),
        fulfilment_data={k[2:]: v[:200] for k, v in form.items() if k.startswith("f_")},
        contact_name=form.get("contact_name", "")[:120],
        contact_phone=form.get("contact_phone", "")[:32],
        address=form.get("address", "")[:500], note=form.get("note", "")[:500])


def _buy(campaign: Campaign, group: Group | None):
    """The group checkout: how to get it, contact, payment; then pay."""
    errors: list[str] = []
    leader = group is None
    quantity = 1
    try:
        quantity = max(1, int(request.form.get("quantity", request.args.get("quantity", 1))))
    except ValueError:
        errors.append(_("Enter a quantity."))
    intent = {"campaign_id": campaign.id, "group_id": getattr(group, "id", None),
              "leader": leader, "quantity": quantity}
    try:
        cart = service.group_cart(g.store, current_user, campaign, quantity, intent)
        options = orders.fulfilment_options(g.store, cart)
    except (orders.OrderError, service.GroupError) as exc:
        options, errors = [], [str(exc)]
    if request.method == "POST" and not errors:
        chosen = _checkout_from_form()
        key = (request.form.get("idempotency_key") or "")[:64] or None
        if not chosen.contact_name.strip() or not chosen.contact_phone.strip():
            errors.append(_("Enter your name and phone number."))
        else:
            try:
                if leader:
                    order = service.start_group(g.store, current_user, campaign, chosen,
                                                quantity, key, _ref())
                else:
                    order = service.join_group(g.store, current_user, group, chosen, quantity,
                                               key, _ref())
            except service.GroupError as exc:
                errors.append(str(exc))
            else:
                return redirect(url_for("shop_orders.pay", number=order.number))
    unit = service.price_for(campaign, leader)
    return render_template(
        "groupbuy/checkout.html", campaign=campaign, group=group, options=options,
        providers=providers_for(g.store), errors=errors, form=request.form, quantity=quantity,
        unit_fen=unit, total_fen=unit * quantity, ref=_ref(),
        idempotency_key=request.form.get("idempotency_key") or secrets.token_urlsafe(16),
    ), 422 if errors else 200


@shop_bp.route("/c/<int:campaign_id>/start", methods=["GET", "POST"])
@customer_required
def start(campaign_id):
    return _buy(_own_campaign(campaign_id), None)


@shop_bp.route("/<int:group_id>/join", methods=["GET", "POST"])
@customer_required
def join(group_id):
    group = _own_group(group_id)
    return _buy(group.campaign, group)


# -- the store console -------------------------------------------------------------------------


@manage_bp.get("/")
@staff_required
def index():
    campaigns = list(db.session.scalars(select(Campaign).order_by(Campaign.id.desc()).limit(100)))
    campaigns = [c for c in campaigns if service.campaign_runs_in(c, g.store)]
    state = request.args.get("state") or None
    stmt = select(Group).where(Group.store_id == g.store.id)
    if state:
        stmt = stmt.where(Group.state == state)
    page = _page()
    groups = list(db.session.scalars(stmt.order_by(Group.id.desc())
                                      .offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)))
    rows = service.report_rows(g.chain, by="campaign", store_id=g.store.id)
    return render_template("groupbuy/manage_index.html", campaigns=campaigns,
                           groups=groups[:PER_PAGE], more=len(groups) > PER_PAGE, page=page,
                           state=state, labels=_labels(), report={r["key"]: r for r in rows})


@manage_bp.route("/campaigns/new", methods=["GET", "POST"])
@staff_required
def new_campaign():
    if g.staff_role != "manager":
        abort(404)
    form = CampaignForm()
    if form.validate_on_submit():
        try:
            service.create_campaign(_input(form), g.chain, g.store)
        except service.GroupError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("Campaign created."), "success")
            return redirect(url_for("groupbuy_manage.index"))
    return render_template("groupbuy/campaign_form.html", form=form, hq=False), \
        422 if request.method == "POST" else 200


@manage_bp.get("/groups/<int:group_id>")
@staff_required
def group_detail(group_id):
    group = _own_group(group_id)
    members = list(db.session.scalars(select(GroupMember).where(GroupMember.group_id == group.id)
                                      .order_by(GroupMember.id)))
    return render_template("groupbuy/manage_group.html", group=group, members=members,
                           labels=_labels())


def _input(form) -> service.CampaignInput:
    return service.CampaignInput(
        title=form.title.data, variant_id=form.variant_id.data,
        group_price_fen=form.group_price.fen or 0, leader_price_fen=form.leader_price.fen,
        group_size=form.group_size.data, fill_hours=form.fill_hours.data,
        starts_at=aware(form.starts_at.data), ends_at=aware(form.ends_at.data),
        unit_cap=form.unit_cap.data, per_customer_limit=form.per_customer_limit.data,
        per_order_limit=form.per_order_limit.data, virtual_percent=form.virtual_percent.data,
        commission_allowed=form.commission_allowed.data,
        all_stores=bool(getattr(form, "all_stores", None) and form.all_stores.data),
        store_ids=tuple(getattr(form, "store_ids", None).data or ())
        if getattr(form, "store_ids", None) else (),
    )


# -- HQ ------------------------------------------------------------------------------------------


@hq_required
def index_hq():
    campaigns = list(db.session.scalars(select(Campaign).where(Campaign.store_id.is_(None))
                                        .order_by(Campaign.id.desc()).limit(100)))
    by_campaign = service.report_rows(g.chain, by="campaign")
    by_store = service.report_rows(g.chain, by="store")
    names = dict(db.session.execute(select(Store.id, Store.name)).all())
    titles = dict(db.session.execute(select(Campaign.id, Campaign.title)).all())
    return render_template("groupbuy/hq_index.html", campaigns=campaigns,
                           by_campaign=by_campaign, by_store=by_store, names=names,
                           titles=titles)


@hq_bp.route("/campaigns/new", methods=["GET", "POST"])
@hq_required
def new_campaign_hq():
    form = HQCampaignForm()
    form.store_ids.choices = [(s.id, s.name) for s in db.session.scalars(
        select(Store).order_by(Store.name).limit(500))]
    if form.validate_on_submit():
        try:
            service.create_campaign(_input(form), g.chain, None)
        except service.GroupError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("Campaign created."), "success")
            return redirect(url_for("groupbuy_hq.index"))
    return render_template("groupbuy/campaign_form.html", form=form, hq=True), \
        422 if request.method == "POST" else 200


# ``index`` names the HQ page in menus: ``url_for("groupbuy_hq.index")``.
hq_bp.add_url_rule("/", "index", index_hq)


def variant_choices():
    """Variants HQ or a store can pick (for the forms' help text)."""
    return db.session.execute(select(Variant.id, Variant.sku).limit(200)).all()


