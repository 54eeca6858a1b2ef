"""Opaque, signed cursors for paginated lists.

A cursor carries the position after the last item sent (keyset values, or an
offset for computed orders such as distance). It is signed with the app's
secret so a client cannot forge positions or read the sort keys as an API;
a tampered or stale cursor is a 422 on the ``cursor`` field.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from marshmallow import Schema, fields, validate

from .problems import problem

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def _serializer(kind: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"api-cursor:{kind}")


def encode_cursor(kind: str, position: dict) -> str:
    return _serializer(kind).dumps(position)


def decode_cursor(kind: str, cursor: str | None) -> dict | None:
    if not cursor:
        return None
    try:
        position = _serializer(kind).loads(cursor)
    except BadSignature:
        position = None
    if not isinstance(position, dict):
        raise problem("validation_failed", errors=[
            {"field": "cursor", "in": "query",
             "message": _("Unknown cursor; start from the first page.")}])
    return position


class PageQuery(Schema):
    cursor = fields.String(metadata={"description": "`next_cursor` of the previous page."})
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT),
        metadata={"description": f"Items per page (1-{MAX_LIMIT})."})


def page(items: list, next_position: dict | None, kind: str) -> dict:
    return {
        "items": items,
        "next_cursor": encode_cursor(kind, next_position) if next_position else None,
    }


def offset_page(all_items: list, query: dict, kind: str) -> dict:
    """Paginate an already ordered list (computed orders): the cursor holds an offset."""
    position = decode_cursor(kind, query.get("cursor")) or {"o": 0}
    start = position.get("o", 0)
    if not isinstance(start, int) or start < 0:
        start = 0
    limit = query["limit"]
    chunk = all_items[start:start + limit]
    more = start + limit < len(all_items)
    return page(chunk, {"o": start + limit} if more else None, kind)
