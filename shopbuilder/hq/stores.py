"""HQ's store pages: list, create, edit, suspend, staff, CSV import."""

from __future__ import annotations

import logging

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_

from .. import tenancy
from ..auth import hq_required, invitation_token
from ..extensions import db
from ..models import Store
from ..paging import page_arg
from ..services import stores as rules
from ..services.staff import (
    StaffError,
    add_store_staff,
    is_waiting,
    renew_invitation,
    store_role_row,
    store_staff,
)
from . import bp
from .forms import ConfirmForm, StaffForm, StoreFilterForm, StoreForm

log = logging.getLogger(__name__)

#: What HQ and a manager read after inviting someone who is not yet the chain's staff.
INVITED = _l("Invitation made. Send this one-time link: they join by opening it, or by "
             "signing in at the store console.")


def chain_store_or_404(store_id: int) -> Store:
    """A store of the request's chain; another chain's store is "not found" (no oracle)."""
    store = db.session.scalar(
        db.select(Store).where(Store.id == store_id, Store.chain_id == g.chain.id)
    )
    if store is None:
        abort(404)
    return store


def chain_cities() -> list[str]:
    stmt = (
        db.select(Store.city).where(Store.chain_id == g.chain.id, Store.city != "")
        .distinct().order_by(Store.city)
    )
    return list(db.session.scalars(stmt))


@bp.get("/stores")
@hq_required
def stores():
    form = StoreFilterForm(request.args)
    form.city.choices = [("", _("Any city"))] + [(c, c) for c in chain_cities()]
    stmt = db.select(Store).where(Store.chain_id == g.chain.id)
    text = (form.q.data or "").strip()
    if text:
        # autoescape: a "%" or "_" typed in the search box is a character, not a wildcard.
        stmt = stmt.where(or_(*(column.icontains(text, autoescape=True)
                                for column in (Store.name, Store.slug, Store.city))))
    if form.city.data:
        stmt = stmt.where(Store.city == form.city.data)
    if form.status.data in Store.STATUSES:
        stmt = stmt.where(Store.status == form.status.data)
    page = db.paginate(
        stmt.order_by(Store.city, Store.name, Store.id), page=page_arg(),
        per_page=current_app.config["STORES_PER_PAGE"], error_out=False, count=True,
    )
    # Keep the filters in the pager's links.
    filters = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("hq/stores/list.html", form=form, page=page, filters=filters)


def _taken_fields(form: StoreForm, except_id: int | None = None) -> bool:
    """Mark a slug or domain another store (of any chain) has; True when one is."""
    taken = False
    if rules.slug_taken(form.slug.data.strip(), except_id):
        form.slug.errors.append(_("This address name is taken; choose another."))
        taken = True
    domain = rules.check_store_domain(form.custom_domain.data)
    if domain and rules.domain_taken(domain, except_id):
        form.custom_domain.errors.append(_("Another store already uses this domain."))
        taken = True
    return taken


def _fill_store(store: Store, form: StoreForm) -> None:
    old_domain = store.custom_domain
    store.custom_domain = rules.check_store_domain(form.custom_domain.data)
    if store.custom_domain != old_domain:
        # The host lookup caches misses too: forget both names, or the old one keeps
        # serving this shop and the new one keeps answering "unknown" for a minute.
        tenancy.forget_custom_domain(old_domain)
        tenancy.forget_custom_domain(store.custom_domain)
    store.slug = form.slug.data.strip()
    store.name = form.name.data.strip()
    store.city = form.city.data.strip()
    store.address = form.address.data.strip()
    store.phone = rules.check_phone(form.phone.data)
    store.lat = rules.check_lat(form.lat.data)
    store.lng = rules.check_lng(form.lng.data)
    store.opening_hours = rules.parse_opening_hours(form.opening_hours.data)
    store.description = (form.description.data or "").strip()


@bp.route("/stores/new", methods=["GET", "POST"])
@hq_required
def store_new():
    form = StoreForm()
    if form.validate_on_submit():
        if not _taken_fields(form):
            store = Store(chain_id=g.chain.id)
            _fill_store(store, form)
            db.session.add(store)
            db.session.commit()
            log.info("HQ %s created store %s", g.chain.slug, store.slug)
            flash(_("Store %(name)s created.", name=store.name), "success")
            return redirect(url_for("hq.store_staff_page", store_id=store.id))
    return render_template("hq/stores/form.html", form=form, store=None)


@bp.route("/stores/<int:store_id>/edit", methods=["GET", "POST"])
@hq_required
def store_edit(store_id):
    store = chain_store_or_404(store_id)
    form = StoreForm(obj=store)
    if request.method == "GET":
        form.opening_hours.data = rules.format_opening_hours(store.opening_hours)
        form.lat.data = "" if store.lat is None else str(store.lat)
        form.lng.data = "" if store.lng is None else str(store.lng)
    if form.validate_on_submit():
        if not _taken_fields(form, except_id=store.id):
            _fill_store(store, form)
            db.session.commit()
            flash(_("Store %(name)s saved.", name=store.name), "success")
            return redirect(url_for("hq.stores"))
    return render_template("hq/stores/form.html", form=form, store=store)


def _set_status(store_id: int, status: str, template_action: str):
    store = chain_store_or_404(store_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        store.status = status
        db.session.commit()
        log.info("HQ %s set store %s to %s", g.chain.slug, store.slug, status)
        if status == "suspended":
            flash(_("%(name)s is suspended: its shop shows a closed page.", name=store.name),
                  "success")
        else:
            flash(_("%(name)s is open again.", name=store.name), "success")
        return redirect(url_for("hq.stores"))
    return render_template("hq/stores/confirm.html", form=form, store=store,
                           action=template_action)


@bp.route("/stores/<int:store_id>/suspend", methods=["GET", "POST"])
@hq_required
def store_suspend(store_id):
    return _set_status(store_id, "suspended", "suspend")


@bp.route("/stores/<int:store_id>/reactivate", methods=["GET", "POST"])
@hq_required
def store_reactivate(store_id):
    return _set_status(store_id, "active", "reactivate")


@bp.route("/stores/<int:store_id>/staff", methods=["GET", "POST"])
@hq_required
def store_staff_page(store_id):
    store = chain_store_or_404(store_id)
    form = StaffForm()
    invitation = None
    if form.validate_on_submit():
        try:
            result = add_store_staff(store, form.email.data, form.role.data,
                                     form.password.data or None, form.name.data or "")
        except StaffError as exc:
            form.email.errors.append(str(exc))
        else:
            db.session.commit()
            if result.invited:
                # The same answer whether or not the address had an account elsewhere.
                invitation = url_for("manage.set_password", store=store.slug,
                                     token=invitation_token(result.role), _external=True)
                flash(INVITED, "success")
            else:
                flash(_("%(email)s added to this store.", email=result.user.email), "success")
            if invitation is None:
                return redirect(url_for("hq.store_staff_page", store_id=store.id))
            form = StaffForm(formdata=None)
    return _staff_page(store, form, invitation)


def _staff_page(store: Store, form: StaffForm, invitation: str | None = None):
    def invitation_url(role):
        return url_for("hq.staff_invitation", store_id=store.id, staff_role_id=role.id)

    return render_template("hq/stores/staff.html", store=store, form=form,
                           roles=store_staff(store), invitation=invitation,
                           invitation_url=invitation_url)


@bp.route("/stores/<int:store_id>/staff/<int:staff_role_id>/invitation",
          methods=["GET", "POST"])
@hq_required
def staff_invitation(store_id, staff_role_id):
    """A new invitation link for someone who has not joined yet (the old one expired).

    Asks first: the new link kills every earlier one, also one on its way to the person.
    """
    store = chain_store_or_404(store_id)
    role = store_role_row(store, staff_role_id)
    if role is None:
        abort(404)
    back = url_for("hq.store_staff_page", store_id=store.id)
    form = ConfirmForm()
    try:
        if form.validate_on_submit():
            renew_invitation(role)
            db.session.commit()
            log.info("HQ %s renewed the invitation of %s at %s", g.chain.slug, role.user.email,
                     store.slug)
            flash(_("New invitation link made; earlier links no longer work."), "success")
            link = url_for("manage.set_password", store=store.slug,
                           token=invitation_token(role), _external=True)
            return _staff_page(store, StaffForm(formdata=None), link)
        if not is_waiting(role):
            raise StaffError(_("%(email)s has already chosen a password.", email=role.user.email))
    except StaffError as exc:
        flash(str(exc), "error")
        return redirect(back)
    return render_template("hq/stores/invitation.html", store=store, member=role.user,
                           form=form, back=back)
