"""What every API blueprint shares, the core's and the plugins' alike.

:func:`api_blueprint` makes a blueprint that answers errors as problem+json,
authenticates bearer tokens, applies the rate limits and CORS of the store,
and :func:`operation` declares one route's input, output and documentation
(the OpenAPI description is generated from these declarations).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app, g, make_response, request
from flask_babel import gettext as _
from limits import parse as parse_limit
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError
from werkzeug.exceptions import default_exceptions

from .. import settings as settings_module
from ..extensions import csrf
from .messages import translate
from .problems import ApiProblem, handle_error, problem

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
#: Ids outside 1..MAX_ID exist in no table; answer 404 instead of overflowing the database.
MAX_ID = 2**31 - 1
CORS_ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, If-None-Match, Accept-Language"
CORS_EXPOSE_HEADERS = (
    "ETag, Location, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset"
)
API_SETTINGS_DEFAULTS = {"cors_origins": []}

#: The header of operations that create an order (``operation(headers=[IDEMPOTENCY_HEADER])``).
IDEMPOTENCY_HEADER = {
    "in": "header", "name": "Idempotency-Key", "required": True,
    "description": "A key you make per checkout attempt (a UUID). Sending the same key with "
                   "the same body again returns the same order, never a second one.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255,
               "pattern": r"^[\x21-\x7e]+$"},
}
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


# -- declaring operations -------------------------------------------------------------------


@dataclass
class Operation:
    """What :func:`operation` records on a view, read by :mod:`shopbuilder.api.openapi`."""

    summary: str
    tags: tuple[str, ...] = ()
    description: str | None = None
    query: type[Schema] | None = None
    body: type[Schema] | None = None
    response: Any = None
    status: int = 200
    auth: bool = False
    etag: bool = False
    headers: tuple[dict, ...] = ()
    responses: dict = field(default_factory=dict)


def operation(summary: str, *, tags=(), description=None, query=None, body=None, response=None,
              status=200, auth=False, etag=False, headers=(), responses=None):
    """Declare an API route: validate its input, shape its answer, document it.

    ``query`` and ``body`` are marshmallow schemas; the loaded data reach the
    view as the ``query`` and ``body`` keyword arguments. ``auth=True`` requires
    a customer's bearer token. ``etag=True`` adds an ETag and answers 304 to a
    matching ``If-None-Match``. A view returns a dict or list (JSON) with
    ``status``, or any Flask response.
    """
    meta = Operation(
        summary=summary, tags=tuple(tags), description=description, query=query, body=body,
        response=response, status=status, auth=auth, etag=etag, headers=tuple(headers),
        responses=dict(responses or {}),
    )

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            for value in kwargs.values():
                # Ids are 1..MAX_ID (the description says so): 0 or a huge number is no
                # object, and a huge one would overflow the database's integer.
                if isinstance(value, int) and not 1 <= value <= MAX_ID:
                    raise problem("not_found")
            if meta.auth:
                require_customer()
            if meta.query is not None:
                kwargs["query"] = load(meta.query, request.args.to_dict(), "query", EXCLUDE)
            if meta.body is not None:
                kwargs["body"] = load(meta.body, json_body(), "body", RAISE)
            result = view(*args, **kwargs)
            response = make_response(result)
            if isinstance(result, dict | list):
                response.status_code = meta.status
            if meta.etag and response.status_code == 200:
                response.add_etag()
                response.make_conditional(request)
            return response

        wrapper.__openapi__ = meta
        return wrapper

    return decorator


def json_body():
    if not request.is_json:
        raise problem("unsupported_media_type")
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nested deeper than any of our bodies could be
        data = None
    if data is None:
        raise problem("bad_request", _("The body is not valid JSON."))
    return data


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def flatten_errors(messages, prefix="", where="body") -> list[dict]:
    """marshmallow's nested messages as ``[{"field", "in", "message"}]``, one per problem.

    Messages come in the request's language (:mod:`shopbuilder.api.messages`).
    """
    found = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
            found += flatten_errors(value, name, where)
    elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        for message in messages:
            found.append({"field": prefix or None, "in": where, "message": translate(message)})
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            found += flatten_errors(value, f"{prefix}.{index}" if prefix else str(index), where)
    else:
        found.append({"field": prefix or None, "in": where, "message": str(messages)})
    return found


def load(schema_cls, data, where: str, unknown=RAISE):
    """Load ``data`` with ``schema_cls`` or raise a 422 that names every bad field."""
    if _has_nul(data):
        raise problem("validation_failed", errors=[
            {"field": None, "in": where, "message": _("NUL characters are not allowed.")}])
    try:
        return schema_cls(unknown=unknown).load(data)
    except ValidationError as exc:
        errors = flatten_errors(exc.messages, where=where)
        raise problem("validation_failed", errors=errors) from exc


# -- the blueprint ----------------------------------------------------------------------------


def api_blueprint(name: str, import_name: str, url_prefix: str = "") -> Blueprint:
    """A blueprint under ``/api/v1`` with the API's errors, auth, rate limits and CORS.

    Plugins return these from ``shopbuilder_app_api_blueprints``; routes of a
    plugin answer 404 in stores that have not enabled it.
    """
    bp = Blueprint(name, import_name, url_prefix=API_PREFIX + url_prefix)
    # Clients authenticate with bearer tokens or API keys, never cookies: no CSRF here.
    csrf.exempt(bp)
    bp.before_request(_before_api_request)
    bp.after_request(_after_api_request)
    # Code-specific handlers on the blueprint win over the app's HTML error pages.
    for code in default_exceptions:
        bp.register_error_handler(code, handle_error)
    bp.register_error_handler(ApiProblem, handle_error)
    bp.register_error_handler(Exception, handle_error)
    bp.shopbuilder_api = True
    return bp


def _before_api_request():
    # API bodies are a few hundred bytes; the app's limit is sized for image uploads.
    request.max_content_length = current_app.config["API_MAX_CONTENT_LENGTH"]
    if request.method == "OPTIONS":
        return _preflight()
    _check_plugin_enabled()
    _rate_limit()
    return None


def _after_api_request(response):
    origin = request.headers.get("Origin")
    if origin and _origin_allowed(origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS
    response.vary.add("Origin")
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-cache" if response.get_etag()[0] else "no-store"
    return response


def _check_plugin_enabled():
    """A plugin's API routes exist only in the stores that enabled the plugin."""
    plugin = plugin_of_endpoint(request.endpoint)
    if plugin is None or g.get("store") is None:
        return
    from ..plugins import enabled_names

    if plugin not in enabled_names(g.store):
        raise problem("not_found")


def plugin_of_endpoint(endpoint: str | None) -> str | None:
    if not endpoint or "." not in endpoint:
        return None
    return plugin_of_blueprint(current_app, endpoint.rsplit(".", 1)[0])


def plugin_of_blueprint(app, blueprint: str | None) -> str | None:
    """The plugin that brought API blueprint ``blueprint`` (None for the core's)."""
    if not blueprint:
        return None
    host = app.extensions.get("shopbuilder.plugins")
    return getattr(host, "blueprint_owner", {}).get(blueprint.split(".")[0])


# -- CORS -------------------------------------------------------------------------------------


def allowed_origins() -> list[str]:
    """Origins the request's store (or chain) lets call the API from a browser."""
    store, chain = g.get("store"), g.get("chain")
    if store is not None:
        return list(settings_module.values(store, "api", API_SETTINGS_DEFAULTS)["cors_origins"])
    if chain is not None:
        return list(settings_module.chain_resolve(chain, "api", API_SETTINGS_DEFAULTS)
                    ["cors_origins"])
    return ["*"]  # public, tenant-less documents (the API description)


def _origin_allowed(origin: str) -> bool:
    allowed = allowed_origins()
    return "*" in allowed or origin in allowed


def _preflight():
    response = current_app.make_default_options_response()
    response.status_code = 204
    origin = request.headers.get("Origin")
    if origin and _origin_allowed(origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = response.headers.get(
            "Allow", "GET, POST, PUT, PATCH, DELETE")
        response.headers["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    return response


# -- rate limits --------------------------------------------------------------------------------


class RateLimits:
    """Per-token and per-address windows in Flask-Limiter's storage (memory, or Redis).

    ``hit`` answers ``(allowed, limit, remaining, reset)``; the last two only when refused.
    """

    def __init__(self, app):
        self.storage = storage_from_string(app.config.get("RATELIMIT_STORAGE_URI", "memory://"))
        # Fixed windows: one counter per key and window (INCR in Redis), so the cost of a
        # request does not grow with the limit, as a moving window's list of hits would.
        self.strategy = FixedWindowRateLimiter(self.storage)

    def hit(self, limit_text: str, *identifiers: str):
        item = parse_limit(limit_text)
        if self.strategy.hit(item, "api", *identifiers):
            return True, item, None, None
        reset, remaining = self.strategy.get_window_stats(item, "api", *identifiers)
        return False, item, remaining, reset


def _rate_limit():
    config = current_app.config
    if not config.get("RATELIMIT_ENABLED", True):
        return
    state = current_app.extensions["shopbuilder.api"]

    checks = [(config["API_ADDRESS_RATE_LIMIT"], "addr", request.remote_addr or "-")]
    token = bearer_token()
    if token:
        digest = hashlib.sha256(token.encode()).hexdigest()[:32]
        checks.append((config["API_TOKEN_RATE_LIMIT"], "token", digest))
    for limit_text, kind, key in checks:
        allowed, item, remaining, reset = state.limits.hit(limit_text, kind, key)
        if not allowed:
            retry = max(1, int(reset - time.time()))
            raise problem("rate_limited", headers={
                "Retry-After": str(retry), "RateLimit-Limit": str(item.amount),
                "RateLimit-Remaining": "0", "RateLimit-Reset": str(retry)})


# -- customers and tokens ---------------------------------------------------------------------


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def current_customer():
    """The customer of the request's bearer token in this chain, or None."""
    if "api_customer" not in g:
        from .tokens import customer_for_token

        token = bearer_token()
        g.api_customer = customer_for_token(token) if token else None
    return g.api_customer


def require_customer():
    customer = current_customer()
    if customer is None:
        raise problem("unauthorized", headers={"WWW-Authenticate": 'Bearer realm="api"'})
    return customer


def idempotency_key() -> str:
    """The request's ``Idempotency-Key`` header (see :data:`IDEMPOTENCY_HEADER`), or a 422."""
    key = request.headers.get("Idempotency-Key", "")
    if not _IDEMPOTENCY_KEY.match(key):
        raise problem("validation_failed", errors=[{
            "field": "Idempotency-Key", "in": "header",
            "message": _("Send 1-255 visible ASCII characters, new for each checkout.")}])
    return key


def json_dumps_stable(data) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def rate_limit_now(limit_text: str, name: str) -> None:
    """Apply an extra per-address limit inside a view (sign-in attempts)."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    state = current_app.extensions["shopbuilder.api"]
    address = request.remote_addr or "-"
    allowed, _item, _remaining, reset = state.limits.hit(limit_text, name, address)
    if not allowed:
        retry = max(1, int(reset - time.time()))
        raise problem("rate_limited", headers={"Retry-After": str(retry)})
