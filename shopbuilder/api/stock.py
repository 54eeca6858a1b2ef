"""``PUT /api/v1/stores/<store>/stock``: a store's till or ERP sends its stock.

Authenticated by the store's API key (``Authorization: Bearer <key>``). A key
that matches nothing gets 401; a valid key of another store gets 404, the
same answer as a store that does not exist, so keys cannot probe stores.
Errors are RFC 9457 ``application/problem+json``. See ``docs/catalogue.md``.
"""

from __future__ import annotations

from flask import g, jsonify, request

from .. import clock
from ..extensions import db, limiter
from ..services import catalogue as service
from . import bp


def _answer(status: int, body: dict, headers: dict | None = None):
    response = jsonify(body)
    response.status_code = status
    if status >= 400:
        response.mimetype = "application/problem+json"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _store_key_limit():
    return "600 per minute"


@bp.put("/stores/<store>/stock")
@limiter.limit(_store_key_limit, key_func=lambda: f"stock-sync:{g.store.id}")
def stock_sync():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    key = service.find_api_key(token.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        return _answer(*service.problem(401, "Unauthorized", "Send a valid store API key as "
                                        "'Authorization: Bearer <key>'."),
                       {"WWW-Authenticate": 'Bearer realm="stock"'})
    if key.store_id != g.store.id:
        return _answer(*service.problem(404, "Not Found"))
    payload = request.get_json(silent=True)
    if payload is None:
        return _answer(*service.problem(400, "Bad request", "The body must be JSON "
                                        "(Content-Type: application/json)."))
    status, body = service.sync_stock(g.store, payload)
    # Recorded after the batch, in its own small transaction.
    key.last_used_at = clock.now()
    db.session.commit()
    return _answer(status, body)
