"""Store staff pages: a manager adds clerks; an invited person chooses a password."""

from __future__ import annotations

import logging

from flask import abort, flash, g, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_user

from ..auth import (
    SetPasswordForm,
    invitation_token,
    join_chain,
    manager_required,
    needs_password,
    rate_limited_login,
    role_for_invitation,
)
from ..extensions import db
from ..hq.forms import ConfirmForm, StaffForm
from ..hq.stores import INVITED
from ..services.staff import (
    StaffError,
    add_store_staff,
    is_waiting,
    owned_by_chain,
    renew_invitation,
    store_role_row,
    store_staff,
)
from . import bp

log = logging.getLogger(__name__)


@bp.route("/staff", methods=["GET", "POST"])
@manager_required
def staff():
    """A manager sees the store's staff and adds clerks (HQ adds managers)."""
    form = StaffForm()
    form.role.choices = [("clerk", _("Clerk"))]
    form.role.data = "clerk"
    invitation = None
    if form.validate_on_submit():
        try:
            result = add_store_staff(g.store, form.email.data, "clerk",
                                     form.password.data or None, form.name.data or "")
        except StaffError as exc:
            form.email.errors.append(str(exc))
        else:
            db.session.commit()
            log.info("store %s added clerk %s", g.store.slug, result.user.email)
            if result.invited:
                invitation = url_for("manage.set_password", token=invitation_token(result.role),
                                     _external=True)
                flash(INVITED, "success")
            else:
                flash(_("%(email)s is now a clerk here.", email=result.user.email), "success")
                return redirect(url_for("manage.staff"))
    return _staff_page(form, invitation)


def _staff_page(form, invitation: str | None = None):
    def invitation_url(role):
        # A manager invites clerks; managers' invitations are HQ's, who added them.
        if role.role != "clerk":
            return None
        return url_for("manage.staff_invitation", staff_role_id=role.id)

    return render_template("manage/staff.html", form=form, roles=store_staff(g.store),
                           invitation=invitation, invitation_url=invitation_url)


def _clerk_form():
    form = StaffForm(formdata=None)
    form.role.choices = [("clerk", _("Clerk"))]
    form.role.data = "clerk"
    return form


@bp.route("/staff/<int:staff_role_id>/invitation", methods=["GET", "POST"])
@manager_required
def staff_invitation(staff_role_id):
    """A new invitation link for a clerk who has not joined yet (asks first)."""
    role = store_role_row(g.store, staff_role_id, roles=("clerk",))
    if role is None:
        abort(404)
    form = ConfirmForm()
    try:
        if form.validate_on_submit():
            renew_invitation(role)
            db.session.commit()
            log.info("store %s renewed the invitation of %s", g.store.slug, role.user.email)
            flash(_("New invitation link made; earlier links no longer work."), "success")
            link = url_for("manage.set_password", token=invitation_token(role),
                           _external=True)
            return _staff_page(_clerk_form(), link)
        if not is_waiting(role):
            raise StaffError(_("%(email)s has already chosen a password.", email=role.user.email))
    except StaffError as exc:
        flash(str(exc), "error")
        return redirect(url_for("manage.staff"))
    return render_template("manage/invitation.html", member=role.user, form=form,
                           back=url_for("manage.staff"))


@bp.route("/set-password/<token>", methods=["GET", "POST"])
@rate_limited_login
def set_password(token):
    """The invitation link: join the store console.

    A new account chooses its first password here; someone who already had a staff
    account enters its password instead (never changes it). Either way their pending
    roles in the chain become real and they are signed in.
    """
    role = role_for_invitation(token, g.store)
    if role is None:
        abort(404)
    user = role.user
    form = SetPasswordForm()
    if form.validate_on_submit():
        if needs_password(user) and owned_by_chain(user, g.store.chain_id):
            user.set_password(form.password.data)
        elif not user.check_password(form.password.data):
            form.password.errors.append(_("Wrong password."))
            return _invitation_page(form, user)
        db.session.commit()
        join_chain(user, g.store.chain_id)
        login_user(user)
        flash(_("Welcome!"), "success")
        return redirect(url_for("manage.index"))
    return _invitation_page(form, user)


def _invitation_page(form, user):
    response = make_response(render_template("manage/set_password.html", form=form, user=user))
    # The token is in the URL: never hand it to another site in a Referer header.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
