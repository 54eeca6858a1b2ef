"""The JSON API at ``/api/v1`` for mini-program clients and store tills."""

from __future__ import annotations

from flask import Blueprint

from ..extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Clients authenticate with bearer tokens or API keys, never cookies: no CSRF here.
csrf.exempt(bp)


@bp.get("/")
def index():
    return {"name": "shop api", "version": 1}


# Imported last: these modules add their routes to ``bp``.
from . import stock  # noqa: E402,F401
