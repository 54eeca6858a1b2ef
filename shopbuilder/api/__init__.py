"""The JSON API at ``/api/v1`` for mini-program clients and store tills.

Helpers for plugin authors (see ``docs/api.md``): :func:`api_blueprint`,
:func:`operation`, :func:`current_customer`, :func:`require_customer`,
:func:`problem` and the cursor helpers in :mod:`shopbuilder.api.pagination`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import current_app, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import PathConverter

from .core import (
    API_PREFIX,
    IDEMPOTENCY_HEADER,
    RateLimits,
    api_blueprint,
    current_customer,
    idempotency_key,
    operation,
    require_customer,
)
from .problems import ApiProblem, from_http_exception, problem, problem_response

log = logging.getLogger(__name__)

bp = api_blueprint("api", __name__)

__all__ = [
    "IDEMPOTENCY_HEADER",
    "ApiProblem",
    "api_blueprint",
    "bp",
    "current_customer",
    "idempotency_key",
    "init_app",
    "operation",
    "problem",
    "require_customer",
]


@dataclass
class ApiState:
    """Per-app API state in ``app.extensions["shopbuilder.api"]``."""

    limits: RateLimits
    #: Generated descriptions, by frozenset of enabled plugins ("all" for every one).
    specs: dict = field(default_factory=dict)


def init_app(app) -> None:
    """Register the core API (plugins' API blueprints follow with the plugin host's)."""
    from . import account, catalogue, shopping, stores  # noqa: F401  (routes register on import)

    app.config.setdefault("API_TOKEN_TTL", 30 * 86400)
    app.config.setdefault("API_TOKEN_RATE_LIMIT", "300 per minute")
    app.config.setdefault("API_ADDRESS_RATE_LIMIT", "600 per minute")
    app.config.setdefault("API_MAX_CONTENT_LENGTH", 64 * 1024)
    app.url_map.converters["api_any_path"] = _AnyPathConverter
    state = ApiState(limits=RateLimits(app))
    app.extensions["shopbuilder.api"] = state
    app.register_blueprint(bp)
    # The console pages where HQ and store managers set the allowed web origins (CORS).
    from .console import hq_bp, manage_bp

    app.register_blueprint(hq_bp)
    app.register_blueprint(manage_bp)

    # Plugins' API blueprints (made with api_blueprint) are registered by the plugin host
    # with their other blueprints (shopbuilder.plugins.register_blueprints), which also
    # records which plugin owns each one: see core.plugin_of_blueprint.

    @app.errorhandler(HTTPException)
    def api_routing_errors(error):
        """Errors raised before any blueprint is known (no route, wrong method)."""
        if is_api_request():
            return problem_response(from_http_exception(error))
        return error


def is_api_request() -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


_ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class _AnyPathConverter(PathConverter):
    """Like ``path`` but also across control characters (``.`` stops at a newline)."""

    regex = r"[\s\S]+"
    part_isolating = False


@bp.route("/<api_any_path:rest>", methods=_ANY_METHOD)
def no_such_route(rest):
    """Unknown API paths answer problem+json (the app's 404 page is HTML, themed per store).

    Werkzeug prefers any real route to this catch-all, so reaching it means no
    route matched the path with this method: 405 when another method would do.
    """
    adapter = current_app.url_map.bind("")
    allowed = []
    for method in _ANY_METHOD:
        try:
            endpoint, _args = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != "api.no_such_route":
            allowed.append(method)
    if allowed:
        raise problem("method_not_allowed", headers={"Allow": ", ".join(allowed)})
    raise problem("not_found")


# -- the API's own documents --------------------------------------------------------------------


@bp.get("/")
def index():
    return {"name": "shop api", "version": 1, "openapi": f"{API_PREFIX}/openapi.json",
            "docs": f"{API_PREFIX}/docs"}


@bp.get("/openapi.json")
def openapi_json():
    """The core routes and those of every installed plugin."""
    from .openapi import cached_spec

    return jsonify(cached_spec(None))


@bp.get("/stores/<store>/openapi.json")
def store_openapi_json():
    """The routes this store answers: the core and the plugins it enabled."""
    from ..plugins import enabled_names
    from .openapi import cached_spec

    return jsonify(cached_spec(frozenset(enabled_names(g.store))))


@bp.get("/docs")
def docs():
    """A self-contained page that renders the description (no CDN: works offline)."""
    spec_url = request.args.get("store")
    url = (f"{API_PREFIX}/stores/{spec_url}/openapi.json" if spec_url and spec_url.isascii()
           and spec_url.replace("-", "").isalnum() else f"{API_PREFIX}/openapi.json")
    response = current_app.make_response(render_template("api/docs.html", spec_url=url))
    response.headers["Cache-Control"] = "no-cache"
    return response


# Imported last: these modules add their routes to ``bp``.
from . import stock  # noqa: E402,F401
