"""Store staff pages: a manager adds clerks; an invited person chooses a password."""

from __future__ import annotations

import logging

from flask import abort, flash, g, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_user

from ..auth import SetPasswordForm, invitation_token, manager_required, user_for_invitation
from ..extensions import db
from ..hq.forms import StaffForm
from ..services.staff import StaffError, add_store_staff, store_staff
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
    return render_template("manage/staff.html", form=form, roles=store_staff(g.store),
                           invitation=invitation)


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
