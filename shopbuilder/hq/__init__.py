"""The chain HQ console at ``/hq/<chain>/``."""

from __future__ import annotations

import logging

from flask import Blueprint, g, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l

from ..auth import hq_required, is_hq, rate_limited_login, sign_out, staff_login

log = logging.getLogger(__name__)

bp = Blueprint("hq", __name__, url_prefix="/hq/<chain>")


@bp.route("/login", methods=["GET", "POST"])
@rate_limited_login
def login():
    return staff_login(
        _l("%(chain)s HQ", chain=g.chain.name),
        lambda user: is_hq(user, g.chain),
        url_for("hq.index"),
    )


@bp.post("/logout")
def logout():
    sign_out()
    return redirect(url_for("hq.login"))


@bp.get("/")
@hq_required
def index():
    return render_template("hq/index.html")


# Imported last: these modules add their routes to ``bp``.
from . import products, settings, store_import, stores  # noqa: E402,F401
