"""Store staff pages: a manager adds clerks; an invited person chooses a password."""

from __future__ import annotations

import logging

from flask import abort, flash, g, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_user

from ..auth import (
    SetPasswordForm,
    invitation_token,
    manager_required,
    needs_password,
    user_for_invitation,
)
from ..extensions import db
from ..hq.forms import ConfirmForm, StaffForm
from ..services.staff import (
    StaffError,
    add_store_staff,
    invited_member,
    renew_invitation,
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
                invitation = url_for("manage.set_password", token=invitation_token(result.user),
                                     _external=True)
                flash(_("Account created. Send this one-time link so they choose a password."),
                      "success")
            else:
                flash(_("%(email)s is now a clerk here.", email=result.user.email), "success")
                return redirect(url_for("manage.staff"))
    return _staff_page(form, invitation)


def _staff_page(form, invitation: str | None = None):
    def invitation_url(role):
        # A manager invites clerks; managers' invitations are HQ's, who added them.
        if role.role != "clerk":
            return None
        return url_for("manage.staff_invitation", user_id=role.user_id)

    return render_template("manage/staff.html", form=form, roles=store_staff(g.store),
                           invitation=invitation, invitation_url=invitation_url)


def _clerk_form():
    form = StaffForm(formdata=None)
    form.role.choices = [("clerk", _("Clerk"))]
    form.role.data = "clerk"
    return form


@bp.route("/staff/<int:user_id>/invitation", methods=["GET", "POST"])
@manager_required
def staff_invitation(user_id):
    """A new invitation link for a clerk who never chose a password (asks first)."""
    member = invited_member(g.store, user_id, roles=("clerk",))
    if member is None:
        abort(404)
    form = ConfirmForm()
    try:
        if form.validate_on_submit():
            renew_invitation(member)
            db.session.commit()
            log.info("store %s renewed the invitation of %s", g.store.slug, member.email)
            flash(_("New invitation link made; earlier links no longer work."), "success")
            link = url_for("manage.set_password", token=invitation_token(member),
                           _external=True)
            return _staff_page(_clerk_form(), link)
        if not needs_password(member):
            raise StaffError(_("%(email)s has already chosen a password.", email=member.email))
    except StaffError as exc:
        flash(str(exc), "error")
        return redirect(url_for("manage.staff"))
    return render_template("manage/invitation.html", member=member, form=form,
                           back=url_for("manage.staff"))


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token):
    """The invitation link: choose a first password, then enter the store console."""
    user = user_for_invitation(token)
    if user is None:
        abort(404)
    form = SetPasswordForm()
    if form.validate_on_submit():
        user.set_password(form.password.data)
        db.session.commit()
        login_user(user)
        flash(_("Password saved. Welcome!"), "success")
        return redirect(url_for("manage.index"))
    response = make_response(render_template("manage/set_password.html", form=form, user=user))
    # The token is in the URL: never hand it to another site in a Referer header.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
