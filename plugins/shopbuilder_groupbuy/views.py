"""Group-buy pages: the customer's campaign and group pages, the store console, HQ.

Every id in a URL is loaded within the request's store (or chain) and answers
404 when it belongs to another one: a group can never be joined through
another store's address.
"""

from __future__ import annotations

import re
import secrets

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import to_user_timezone
from flask_login import current_user
from sqlalchemy import select

from shopbuilder import clock
from shopbuilder.auth import customer_required, hq_required, staff_required
from shopbuilder.extensions import db
from shopbuilder.models import Product, Store, StoreListing, Variant
from shopbuilder.paging import page_arg
from shopbuilder.payments import providers_for
from shopbuilder.plugins import page_valid_until, store_cached, store_hook
from shopbuilder.services import orders

from . import service
from .forms import CampaignEditForm, CampaignForm, HQCampaignForm, aware, local_input
from .models import Campaign, Group, GroupMember, GroupState

shop_bp = Blueprint("groupbuy", __name__, url_prefix="/s/<store>/groups")
manage_bp = Blueprint("groupbuy_manage", __name__, url_prefix="/s/<store>/manage/groupbuy")
hq_bp = Blueprint("groupbuy_hq", __name__, url_prefix="/hq/<chain>/groupbuy")
PER_PAGE = 30
#: Above this many variants (stores), the form asks for a SKU (store address names) instead
#: of offering a list.
PICKER_LIMIT = 300
STORE_PICKER_LIMIT = 500


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


def _page(name: str = "page") -> int:
    return page_arg(name)


# -- the customer's pages ----------------------------------------------------------------------


def product_context(store, product_id: int, product=None) -> dict | None:
    """The campaign page's data: the live campaign, its prices, the groups this visitor may join.

    Worked out once per request and kept in ``flask.g``. ``product`` is the page's
    product view when there is one.
    """
    known = g.setdefault("groupbuy_product_context", {})
    key = (store.id, product_id)
    if key not in known:
        known[key] = _product_context(store, product_id, product, _customer_id())
    found = known[key]
    return dict(found) if found is not None else None


def product_panel(store, product_id: int, product=None) -> dict | None:
    """The product page's two slots as HTML, ``{"price", "actions", "seated"}``, or None.

    Nothing on them is a visitor's own, except that a visitor is not offered the
    groups they hold a seat in. So the panel drawn for nobody in particular is kept
    for every visitor, signed-in ones too (``store_cached``: renewed with the store's
    pages, expiring at the next moment it changes by itself); only a visitor seated
    in one of its groups gets theirs drawn afresh, without those groups. Both slots
    ask, so it is looked up once per request.
    """
    known = g.setdefault("groupbuy_product_panel", {})
    key = (store.id, product_id)
    if key not in known:
        known[key] = _panel_for_visitor(store, product_id, product)
    return known[key]


def _panel_for_visitor(store, product_id: int, product) -> dict | None:
    panel = store_cached(f"groupbuy:product:{product_id}",
                         lambda: _panel(store, product_id, product, None), store)
    viewer = _customer_id()
    if panel is None or viewer is None or viewer not in panel["seated"]:
        return panel
    return _panel(store, product_id, product, viewer)


def _panel(store, product_id: int, product, viewer: int | None) -> dict | None:
    found = _product_context(store, product_id, product, viewer)
    if found is None:
        return None
    return {
        "price": render_template("groupbuy/slot_price.html", **found),
        "actions": render_template("groupbuy/slot_actions.html", **found),
        "seated": found["seated"],
    }


def _single_fen(store, campaign, product) -> int:
    """The single price shown struck through beside the group price.

    The product page's view already holds it, the same figure the page prints above
    (cached and renewed by the core); other pages price the variant.
    """
    for variant in getattr(product, "variants", ()):
        if variant.id == campaign.variant_id:
            return variant.price_fen
    return service.single_price(store, campaign)


def _product_context(store, product_id: int, product, viewer: int | None) -> dict | None:
    """The slots' data, leaving out the groups ``viewer`` is in; says when it goes stale.

    The moments when it changes with no write (the next campaign starts, this one
    ends, a shown group's deadline) go to ``page_valid_until``, which caps the life
    of a page cache entry or a ``store_cached`` panel holding it; writes renew both
    (``service.renew_store_pages``).
    """
    campaigns, next_start = service.product_campaigns(store, product_id)
    page_valid_until(next_start)
    if not campaigns:
        return None
    campaign = campaigns[0]
    groups = service.joinable_groups(store, campaign, viewer)
    page_valid_until(campaign.ends_at)
    page_valid_until(min((gr.expires_at for gr in groups if gr.expires_at), default=None))
    members, seated = service.members_and_seats(groups)
    return {
        "campaign": campaign, "single_fen": _single_fen(store, campaign, product),
        "groups": groups, "members": members, "seated": seated,
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
    closed = service.closed_reason(group)
    return render_template(
        "groupbuy/group.html", group=group, campaign=campaign, members=members, mine=mine,
        single_fen=service.single_price(g.store, campaign), labels=_labels(),
        seconds_left=service.seconds_left(group), share_url=share_url(group), ref=_ref(),
        closed=closed, can_join=closed is None and mine is None,
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
    """Join through a link, which may come from a page drawn (or cached) before the group
    closed: a closed group sends the customer back to its page, which says why, before
    any checkout form. (Placing the order checks again, in SQL.)"""
    group = _own_group(group_id)
    mine = service.member_of(group, _customer_id())
    if group.state == GroupState.PENDING and mine is None:
        abort(404)  # as on the group page: nobody sees a group before its leader paid
    if request.method == "GET" and mine is None:
        if service.closed_reason(group) is not None:
            return redirect(url_for("groupbuy.group_page", group_id=group.id))
    return _buy(group.campaign, group)


# -- the store console -------------------------------------------------------------------------


def campaign_state(campaign: Campaign) -> str:
    """``running``, ``scheduled``, ``ended`` or ``stopped``, for the consoles."""
    if campaign.status == service.STOPPED:
        return "stopped"
    now = clock.now()
    if now < campaign.starts_at:
        return "scheduled"
    return "ended" if now >= campaign.ends_at else "running"


def _campaign_labels():
    return {"running": _("Running"), "scheduled": _("Scheduled"), "ended": _("Ended"),
            "stopped": _("Stopped")}


def _console_context() -> dict:
    return {"labels": _labels(), "campaign_labels": _campaign_labels(),
            "campaign_state": campaign_state, "local": to_user_timezone,
            "order_labels": orders.STATE_LABELS}


@manage_bp.get("/")
@staff_required
def index():
    cpage = _page("cpage")
    campaigns, more_campaigns = service.store_campaigns(g.store, cpage, PER_PAGE)
    state = request.args.get("state") or None
    stmt = select(Group).where(Group.store_id == g.store.id)
    if state:
        stmt = stmt.where(Group.state == state)
    page = _page()
    groups = list(db.session.scalars(stmt.order_by(Group.id.desc())
                                      .offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)))
    rows = service.report_rows(g.chain, by="campaign", store_id=g.store.id,
                               keys=[c.id for c in campaigns])
    return render_template("groupbuy/manage_index.html", campaigns=campaigns, cpage=cpage,
                           more_campaigns=more_campaigns, groups=groups[:PER_PAGE],
                           more=len(groups) > PER_PAGE, page=page, state=state,
                           report={r["key"]: r for r in rows}, **_console_context())


def _manager_only() -> None:
    if g.staff_role != "manager":
        abort(404)


@manage_bp.route("/campaigns/new", methods=["GET", "POST"])
@staff_required
def new_campaign():
    _manager_only()
    form = CampaignForm()
    return _new_campaign(form, store=g.store, back="groupbuy_manage.index")


def _own_store_campaign(campaign_id: int) -> Campaign:
    """A campaign of this store (HQ's campaigns are run, not edited, by a store)."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.store_id != g.store.id:
        abort(404)
    return campaign


@manage_bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@staff_required
def edit_campaign(campaign_id):
    _manager_only()
    return _edit_campaign(_own_store_campaign(campaign_id), hq=False,
                          back="groupbuy_manage.index")


@manage_bp.route("/campaigns/<int:campaign_id>/stop", methods=["GET", "POST"])
@staff_required
def stop_campaign(campaign_id):
    _manager_only()
    return _stop_campaign(_own_store_campaign(campaign_id), hq=False,
                          back="groupbuy_manage.index")


@manage_bp.get("/groups/<int:group_id>")
@staff_required
def group_detail(group_id):
    group = _own_group(group_id)
    members = list(db.session.scalars(select(GroupMember).where(GroupMember.group_id == group.id)
                                      .order_by(GroupMember.id)))
    return render_template("groupbuy/manage_group.html", group=group, members=members,
                           **_console_context())


# -- campaign forms, shared by the store console and HQ ------------------------------------------


def _int_or_none(value):
    return int(value) if value not in (None, "") else None


def variant_choices(chain, store=None, limit: int | None = None) -> list[tuple] | None:
    """``(id, "Product · variant · SKU")`` of the variants a campaign may sell.

    HQ picks from the master catalogue, a store from what it lists. None when
    there are more than ``limit`` (``PICKER_LIMIT``): the form then takes a SKU.
    """
    limit = PICKER_LIMIT if limit is None else limit
    stmt = (select(Variant.id, Product.title, Variant.options, Variant.sku)
            .join(Product, Product.id == Variant.product_id)
            .where(Variant.chain_id == chain.id, Product.status != "archived"))
    if store is None:
        stmt = stmt.where(Product.store_id.is_(None))
    else:
        stmt = stmt.join(StoreListing, (StoreListing.variant_id == Variant.id)
                         & (StoreListing.store_id == store.id))
    rows = db.session.execute(stmt.order_by(Product.title, Variant.position, Variant.id)
                              .limit(limit + 1)).all()
    if len(rows) > limit:
        return None
    return [(vid, " · ".join(p for p in (title, " / ".join(str(v) for v in (options or {})
                                                             .values()), sku) if p))
            for vid, title, options, sku in rows]


def _set_up_variant_picker(form, store=None) -> None:
    choices = variant_choices(g.chain, store)
    form.large_catalogue = choices is None
    form.variant_id.coerce = _int_or_none
    form.variant_id.choices = [("", _("Choose a product"))] + (choices or [])


def _chosen_variant_id(form) -> int | None:
    """The variant the form names (from the picker, or by SKU), or None with a field error."""
    if form.large_catalogue:
        sku = (form.sku.data or "").strip()
        variant_id = db.session.scalar(select(Variant.id).where(
            Variant.chain_id == g.chain.id, Variant.sku == sku)) if sku else None
        if variant_id is None:
            form.sku.errors = [_("No product of this chain has the SKU %(sku)s.", sku=sku)
                               if sku else _("Enter the product's SKU.")]
        return variant_id
    offered = {value for value, _label in form.variant_id.choices if value != ""}
    if form.variant_id.data not in offered:
        form.variant_id.errors = [_("Choose a product.")]
        return None
    return form.variant_id.data


def _set_up_store_picker(form) -> None:
    rows = db.session.execute(select(Store.id, Store.name).where(Store.chain_id == g.chain.id)
                              .order_by(Store.name, Store.id).limit(STORE_PICKER_LIMIT + 1)).all()
    form.large_chain = len(rows) > STORE_PICKER_LIMIT
    form.store_ids.choices = [] if form.large_chain else [(i, name) for i, name in rows]


def _chosen_store_ids(form) -> tuple | None:
    """The stores HQ chose (ids from the picker, or address names typed), None on error.

    Ids are checked against the chain again by ``service.check_campaign``.
    """
    if form.which_stores.data != "chosen":
        return ()
    if not form.large_chain:
        return tuple(form.store_ids.data or ())
    slugs = {s.strip().lower() for s in re.split(r"[\s,;]+", form.store_codes.data or "")
             if s.strip()}
    found = dict(db.session.execute(select(Store.slug, Store.id).where(
        Store.chain_id == g.chain.id, Store.slug.in_(slugs))).all()) if slugs else {}
    unknown = sorted(slugs - set(found))
    if unknown:
        form.store_codes.errors = [_("No store of this chain has the address name: %(names)s.",
                                     names=", ".join(unknown[:10]))]
        return None
    return tuple(sorted(found.values()))


def _input(form, variant_id: int, store_ids: tuple = ()) -> service.CampaignInput:
    hq = hasattr(form, "which_stores")
    return service.CampaignInput(
        title=form.title.data, variant_id=variant_id,
        group_price_fen=form.group_price.fen or 0, leader_price_fen=form.leader_price.fen,
        group_size=form.group_size.data, fill_hours=form.fill_hours.data,
        starts_at=aware(form.starts_at.data), ends_at=aware(form.ends_at.data),
        unit_cap=form.unit_cap.data, per_customer_limit=form.per_customer_limit.data,
        per_order_limit=form.per_order_limit.data, virtual_percent=form.virtual_percent.data,
        commission_allowed=form.commission_allowed.data,
        all_stores=hq and form.which_stores.data == "all", store_ids=store_ids,
    )


def _new_campaign(form, store, back: str):
    """Create a campaign from ``form`` (HQ's when ``store`` is None); 422 with the reasons."""
    hq = store is None
    _set_up_variant_picker(form, store)
    if hq:
        _set_up_store_picker(form)
    if form.validate_on_submit():
        variant_id = _chosen_variant_id(form)
        store_ids = _chosen_store_ids(form) if hq else ()
        if variant_id is not None and store_ids is not None:
            try:
                service.create_campaign(_input(form, variant_id, store_ids), g.chain, store)
            except service.GroupError as exc:
                db.session.rollback()
                flash(str(exc), "error")
            else:
                db.session.commit()
                flash(_("Campaign created."), "success")
                return redirect(url_for(back))
    return render_template("groupbuy/campaign_form.html", form=form, hq=hq), \
        422 if request.method == "POST" else 200


def _edit_campaign(campaign: Campaign, hq: bool, back: str):
    """Change a campaign's safe fields (title, end, caps, limits); a stopped one stays as is."""
    if campaign.status == service.STOPPED:
        flash(_("This campaign was stopped; it can no longer change."), "error")
        return redirect(url_for(back))
    form = CampaignEditForm(obj=None if request.method == "POST" else campaign)
    if request.method != "POST":
        form.ends_at.data = local_input(campaign.ends_at)
    if form.validate_on_submit():
        changes = service.CampaignChanges(
            title=form.title.data, ends_at=aware(form.ends_at.data), unit_cap=form.unit_cap.data,
            per_customer_limit=form.per_customer_limit.data,
            per_order_limit=form.per_order_limit.data)
        try:
            service.update_campaign(campaign, changes, g.chain)
        except service.GroupError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("Campaign saved."), "success")
            return redirect(url_for(back))
    return render_template("groupbuy/campaign_edit.html", form=form, campaign=campaign, hq=hq,
                           back=back), 422 if request.method == "POST" else 200


def _stop_campaign(campaign: Campaign, hq: bool, back: str):
    """Ask first; stopping is for good (no new groups; open groups run to their deadline)."""
    errors = []
    if request.method == "POST":
        if request.form.get("confirm") != "1":
            errors.append(_("Tick the box to confirm that you want to stop this campaign."))
        else:
            if service.stop_campaign(campaign):
                flash(_("Campaign stopped. Open groups run until their deadline."), "success")
            db.session.commit()
            return redirect(url_for(back))
    return render_template("groupbuy/campaign_stop.html", campaign=campaign, hq=hq, back=back,
                           errors=errors, open_groups=service.open_group_count(campaign)), \
        422 if errors else 200


# -- HQ ------------------------------------------------------------------------------------------


@hq_required
def index_hq():
    cpage, spage = _page("cpage"), _page("spage")
    campaigns = list(db.session.scalars(
        select(Campaign).where(Campaign.chain_id == g.chain.id)
        .order_by(Campaign.id.desc()).offset((cpage - 1) * PER_PAGE).limit(PER_PAGE + 1)))
    by_campaign = service.report_rows(g.chain, by="campaign", keys=[c.id for c in campaigns])
    by_store = service.report_rows(g.chain, by="store", limit=PER_PAGE + 1,
                                   offset=(spage - 1) * PER_PAGE)
    # Names only of the rows shown, and only this chain's: never another chain's stores.
    shown = {r["key"] for r in by_store} | {c.store_id for c in campaigns if c.store_id}
    names = dict(db.session.execute(select(Store.id, Store.name).where(
        Store.chain_id == g.chain.id, Store.id.in_(shown))).all())
    return render_template(
        "groupbuy/hq_index.html", campaigns=campaigns[:PER_PAGE],
        more_campaigns=len(campaigns) > PER_PAGE, cpage=cpage,
        report={r["key"]: r for r in by_campaign}, by_store=by_store[:PER_PAGE],
        more_stores=len(by_store) > PER_PAGE, spage=spage, names=names, **_console_context())


@hq_bp.route("/campaigns/new", methods=["GET", "POST"])
@hq_required
def new_campaign_hq():
    return _new_campaign(HQCampaignForm(), store=None, back="groupbuy_hq.index")


def _own_hq_campaign(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.chain_id != g.chain.id or campaign.store_id is not None:
        abort(404)
    return campaign


@hq_bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@hq_required
def edit_campaign_hq(campaign_id):
    return _edit_campaign(_own_hq_campaign(campaign_id), hq=True, back="groupbuy_hq.index")


@hq_bp.route("/campaigns/<int:campaign_id>/stop", methods=["GET", "POST"])
@hq_required
def stop_campaign_hq(campaign_id):
    return _stop_campaign(_own_hq_campaign(campaign_id), hq=True, back="groupbuy_hq.index")


# ``index`` names the HQ page in menus: ``url_for("groupbuy_hq.index")``.
hq_bp.add_url_rule("/", "index", index_hq)
