"""The store console at ``/s/<store>/manage/`` for managers and clerks."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l

from ..auth import rate_limited_login, sign_out, staff_login, staff_required, store_role

bp = Blueprint("manage", __name__, url_prefix="/s/<store>/manage")


@bp.route("/login", methods=["GET", "POST"])
@rate_limited_login
def login():
    return staff_login(
        _l("%(store)s · store console", store=g.store.name),
        lambda user: store_role(user, g.store) is not None,
        url_for("manage.index"),
    )


@bp.post("/logout")
def logout():
    sign_out()
    return redirect(url_for("manage.login"))


@bp.get("/")
@staff_required
def index():
    return render_template("manage/index.html")


# Imported last: these modules add their routes to ``bp``.
from . import listings, staff  # noqa: E402,F401
