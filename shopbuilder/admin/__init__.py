"""The platform operator's console at ``/admin/``."""

from __future__ import annotations

import logging

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from .. import tenancy
from ..auth import admin_required, rate_limited_login, sign_out, staff_login
from ..extensions import db
from ..models import SLUG_PATTERN, Chain, StaffRole, Store, User
from ..paging import page_arg

log = logging.getLogger(__name__)

bp = Blueprint("admin", __name__, url_prefix="/admin")


class ChainForm(FlaskForm):
    """A new chain and the HQ account that will run it."""

    slug = StringField(
        _l("Address name (slug)"),
        validators=[DataRequired(), Length(max=64),
                    Regexp(SLUG_PATTERN, message=_l("Use lower-case letters, digits and dashes."))],
        description=_l("The HQ console is at /hq/<slug>/"),
    )
    name = StringField(_l("Chain name"), validators=[DataRequired(), Length(max=120)])
    locale = SelectField(_l("Language"), choices=[("zh_CN", "中文"), ("en", "English")])
    hq_email = EmailField(_l("HQ account email"),
                          validators=[DataRequired(), Email(), Length(max=255)])
    hq_password = PasswordField(
        _l("Initial password"), validators=[Optional(), Length(min=8, max=128)],
        description=_l("Needed for a new account; leave empty to use an existing account."),
    )


@bp.before_request
def platform_scope():
    # The operator sees every tenant; pages here are guarded by admin_required.
    tenancy.set_request_scope(tenancy.UNSCOPED)


@bp.route("/login", methods=["GET", "POST"])
@rate_limited_login
def login():
    return staff_login(
        _l("Platform console"), lambda user: user.is_platform_admin, url_for("admin.index")
    )


@bp.post("/logout")
def logout():
    sign_out()
    return redirect(url_for("admin.login"))


@bp.get("/")
@admin_required
def index():
    page = db.paginate(db.select(Chain).order_by(Chain.name), page=page_arg(), per_page=50,
                       error_out=False)
    counts = dict(db.session.execute(
        db.select(Store.chain_id, db.func.count(Store.id))
        .where(Store.chain_id.in_([c.id for c in page.items]))
        .group_by(Store.chain_id)
    ).all())
    return render_template("admin/index.html", page=page, counts=counts)


@bp.route("/chains/new", methods=["GET", "POST"])
@admin_required
def chain_new():
    form = ChainForm()
    if form.validate_on_submit():
        slug = form.slug.data.strip()
        email = form.hq_email.data.strip().lower()
        user = db.session.scalar(db.select(User).where(User.email == email))
        if db.session.scalar(db.select(Chain.id).where(Chain.slug == slug)):
            form.slug.errors.append(_("This address name is taken; choose another."))
        elif user is None and not form.hq_password.data:
            form.hq_password.errors.append(_("A new account needs an initial password."))
        else:
            chain = Chain(slug=slug, name=form.name.data.strip(), locale=form.locale.data)
            db.session.add(chain)
            if user is None:
                user = User(email=email, name=email.split("@")[0])
                user.set_password(form.hq_password.data)
                db.session.add(user)
            db.session.flush()
            db.session.add(StaffRole(user_id=user.id, chain_id=chain.id, role="hq"))
            db.session.commit()
            log.info("platform admin created chain %s (HQ %s)", slug, email)
            flash(_("Chain %(name)s created; %(email)s can sign in at its HQ console.",
                    name=chain.name, email=email), "success")
            return redirect(url_for("admin.index"))
    return render_template("admin/chain_form.html", form=form, next=request.path)
