"""The platform's own front door: where the operator and HQ staff find their consoles."""

from __future__ import annotations

from flask import Blueprint, render_template

from .. import tenancy

bp = Blueprint("platform", __name__)


@bp.get("/")
def index():
    tenancy.set_request_scope(tenancy.UNSCOPED)
    return render_template("platform/index.html")


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
