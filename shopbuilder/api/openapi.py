"""The OpenAPI 3.1 description, generated from the routes' :func:`operation` declarations.

Built with apispec and its marshmallow plugin by walking the app's URL map, so
a route cannot be served without being described. Plugin routes appear when
the plugin is installed (``/api/v1/openapi.json``) or, for one store's
description (``/api/v1/stores/<store>/openapi.json``), when it is enabled there.
"""

from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app

from .core import MAX_ID, Operation
from .problems import CODES, PROBLEM_MEDIA_TYPE

_RULE_ARG = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>\w+)>")
_METHODS = ("get", "post", "put", "patch", "delete")

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details; switch on `code`, show `title` or `detail`.",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "enum": sorted(CODES)},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "Each refused field and why (validation_failed).",
            "items": {
                "type": "object",
                "required": ["field", "in", "message"],
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "in": {"type": "string", "enum": ["query", "body", "path", "header"]},
                    "message": {"type": "string"},
                },
            },
        },
    },
}

#: The description's introduction: what a client developer reads first.
OVERVIEW = """JSON API for mini-program clients: the same stores, prices, stock, carts and \
orders as the store's web shop.

Conventions: money is integer fen (`12800` is 128.00) with `currency`; times are ISO 8601 \
in UTC; stores and chains are named by slug in the path; errors are RFC 9457 \
`application/problem+json` with a stable `code` (switch on it; show `title` or `detail`), \
and `validation_failed` lists each refused field in `errors`. Lists page with `next_cursor`. \
Another customer's or store's id answers 404.

A purchase, by operation id:

1. `api_store_finder` (with `lat`/`lng`: nearest first), then `api_store_detail`.
2. `api_sign_in` (or `api_register`): send `access_token` as `Authorization: Bearer <token>` \
to every operation that needs it; it works at every store of the chain.
3. `api_categories`, `api_products`, `api_search`, `api_product_detail` (variants with their \
price here and `available`).
4. `api_add_to_cart` with a variant `id`; `api_get_cart`.
5. `api_checkout_options`: fulfilment and payment codes. For `pickup`, choose a slot with \
`pickup_api_slot_list`.
6. `api_place_order` with a fresh `Idempotency-Key` header.
7. `api_start_payment`: open `payment_url` (the sandbox's hosted page has *Pay* and *Fail* \
buttons), then poll `api_get_payment` until `state` is `succeeded`.
8. `api_get_order`: the order moves `paid` → `ready_for_pickup` (the clerk prepared it) → \
`completed`. For pickup, `pickup_api_pickup_detail` shows the 12-digit `code` once ready.

Group-buy (`groupbuy_api_*`) and distribution (`distribution_api_*`) operations exist in \
stores that enabled those plugins: `/api/v1/stores/{store}/openapi.json` lists only what that \
store answers.
"""

_STANDARD = {
    304: "Not modified: the `ETag` sent in `If-None-Match` is still current.",
    400: "The body is not JSON (`bad_request`).",
    401: "No valid bearer token (`unauthorized`).",
    404: "No such store, object, or not visible to you (`not_found`).",
    413: "The body is larger than 64 KiB (`payload_too_large`).",
    415: "The body is not `application/json` (`unsupported_media_type`).",
    422: "Invalid input: `errors` lists each field and why (`validation_failed`).",
    429: "Too many requests (`rate_limited`); retry after `Retry-After` seconds.",
    503: "The store is closed (`store_closed`).",
}


def openapi_path(rule: str) -> tuple[str, list[dict]]:
    params = []

    def replace(match):
        name, converter = match.group("name"), match.group("converter") or "string"
        schema = ({"type": "integer", "minimum": 1, "maximum": MAX_ID} if converter == "int"
                  else {"type": "string", "pattern": r"^[^/]+$"})
        if name == "store":
            schema = {"type": "string", "description": "The store's slug, e.g. `west-lake`."}
        elif name == "chain":
            schema = {"type": "string", "description": "The chain's slug, e.g. `mingcha`."}
        params.append({"in": "path", "name": name, "required": True, "schema": schema})
        return "{" + name + "}"

    return _RULE_ARG.sub(replace, rule), params


def _problem(description: str) -> dict:
    return {"description": description,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def operation_dict(endpoint: str, meta: Operation, path_params: list[dict]) -> dict:
    op: dict = {
        "operationId": endpoint.replace(".", "_"),
        "summary": meta.summary,
        "tags": list(meta.tags),
        "parameters": list(path_params) + list(meta.headers),
    }
    if meta.description:
        op["description"] = meta.description
    if meta.query is not None:
        op["parameters"].append({"in": "query", "schema": meta.query})
    if meta.body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": meta.body}}}
    responses: dict = {}
    if meta.response is not None:
        responses[str(meta.status)] = {
            "description": "OK",
            "content": {"application/json": {"schema": meta.response}},
        }
    elif meta.status == 204:
        responses["204"] = {"description": "Done; no content."}
    codes = {429}
    if path_params:
        codes |= {404}
    if any(p["name"] == "store" for p in path_params):
        codes |= {503}
    if meta.query is not None or meta.body is not None:
        codes |= {422}
    if any(p["schema"].get("type") == "integer" for p in path_params):
        codes |= {404}
    if meta.body is not None:
        codes |= {400, 413, 415}
    if meta.auth:
        codes |= {401}
        op["security"] = [{"bearerAuth": []}]
    if meta.etag:
        responses["304"] = {"description": _STANDARD[304]}
    for code in sorted(codes):
        responses[str(code)] = _problem(_STANDARD[code])
    for code, extra in meta.responses.items():
        if isinstance(extra, str):
            if str(code) in responses:
                responses[str(code)]["description"] = extra
            elif int(code) >= 400:
                responses[str(code)] = _problem(extra)
            else:
                responses[str(code)] = {"description": extra}
        else:
            responses[str(code)] = extra
    op["responses"] = responses
    return op


def build_spec(app, enabled: frozenset[str] | None = None, title: str = "Shop API") -> dict:
    """The description of the core routes and of the plugins in ``enabled`` (None: all)."""
    from .core import plugin_of_blueprint

    spec = APISpec(
        title=title, version="1.0.0", openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": OVERVIEW},
    )
    spec.components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer",
        "description": "Token from `POST /api/v1/stores/{store}/auth/token`."})
    spec.components.schema("Problem", PROBLEM_SCHEMA)
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        meta = getattr(view, "__openapi__", None)
        if meta is None:
            continue
        blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else None
        plugin = plugin_of_blueprint(app, blueprint)
        if plugin is not None and enabled is not None and plugin not in enabled:
            continue
        path, params = openapi_path(rule.rule)
        for method in sorted(m.lower() for m in rule.methods or ()):
            if method in _METHODS:
                op = operation_dict(rule.endpoint, meta, params)
                if plugin is not None:
                    op["x-plugin"] = plugin
                paths.setdefault(path, {})[method] = op
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def cached_spec(enabled: frozenset[str] | None) -> dict:
    """One description per set of enabled plugins (few sets exist, however many stores)."""
    state = current_app.extensions["shopbuilder.api"]
    key = enabled if enabled is not None else "all"
    if key not in state.specs:
        state.specs[key] = build_spec(current_app._get_current_object(), enabled)
    return state.specs[key]
