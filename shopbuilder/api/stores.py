"""Store information and the store finder (nearest first)."""

from __future__ import annotations

import math

from flask import g

from ..extensions import db
from ..models import Store
from ..plugins import enabled_names
from . import bp
from .core import operation
from .pagination import decode_cursor, page
from .schemas import StoreDetail, StoreFinderQuery, StorePage

EARTH_RADIUS_M = 6_371_000


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> int:
    """Great-circle distance in metres (good to a few metres at city scale)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a))))


def store_summary(store: Store) -> dict:
    return {
        "slug": store.slug, "name": store.name, "city": store.city, "address": store.address,
        "phone": store.phone, "lat": store.lat, "lng": store.lng,
    }


@bp.get("/stores/<store>")
@operation("Store information", tags=["stores"], response=StoreDetail, etag=True)
def store_detail():
    store = g.store
    return {
        **store_summary(store),
        "chain": {"slug": store.chain.slug, "name": store.chain.name},
        "description": store.description,
        "opening_hours": store.opening_hours or {},
        "currency": store.chain.currency,
        "locale": store.effective_locale,
        "plugins": sorted(enabled_names(store)),
    }


@bp.get("/chains/<chain>/stores")
@operation(
    "Find the chain's stores, nearest first", tags=["stores"], query=StoreFinderQuery,
    response=StorePage, etag=True,
    description="With `lat` and `lng` (WGS-84) stores come nearest first with `distance_m`; "
                "`city` keeps one city's stores. Without a point, stores come by name.",
)
def store_finder(query):
    stmt = db.select(Store).where(Store.chain_id == g.chain.id, Store.status == "active")
    if query.get("city"):
        stmt = stmt.where(Store.city == query["city"])
    lat, lng = query.get("lat"), query.get("lng")
    if lat is not None and lng is not None:
        # Order in SQL by the equirectangular distance (plain arithmetic, every database,
        # and the same order as great-circle distance at the scale of a country), so a
        # chain of thousands of stores sends one page of rows; exact metres in Python.
        scale = math.cos(math.radians(lat))
        dlat, dlng = Store.lat - lat, (Store.lng - lng) * scale
        stmt = stmt.order_by(Store.lat.is_(None), dlat * dlat + dlng * dlng, Store.id)
    else:
        stmt = stmt.order_by(Store.name, Store.id)
    kind = f"stores:{g.chain.id}"
    position = decode_cursor(kind, query.get("cursor")) or {}
    offset = position.get("o", 0) if isinstance(position.get("o"), int) else 0
    limit = query["limit"]
    stores = list(db.session.scalars(stmt.offset(max(offset, 0)).limit(limit + 1)))
    more = len(stores) > limit
    rows = []
    for store in stores[:limit]:
        distance = None
        if lat is not None and lng is not None and store.lat is not None and store.lng is not None:
            distance = haversine_m(lat, lng, store.lat, store.lng)
        rows.append({**store_summary(store), "distance_m": distance})
    return page(rows, {"o": offset + limit} if more else None, kind)
