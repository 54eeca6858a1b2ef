"""The platform operator's console at ``/admin/``."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l

from .. import tenancy
from ..auth import admin_required, rate_limited_login, sign_out, staff_login
from ..extensions import db
from ..models import Chain

bp = Blueprint("admin", __name__, url_prefix="/admin")


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
    chains = db.session.scalars(db.select(Chain).order_by(Chain.name)).all()
    return render_template("admin/index.html", chains=chains)
