"""The store finder: the chain's stores nearest to the customer, and moving a cart between them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy import exists, func, select

from shopbuilder import tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Product, Store, StoreListing, Variant
from shopbuilder.plugins import stores_enabling
from shopbuilder.services import cart as cart_service

from . import slots

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance; good to a few metres at city scale, which is all we need."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass
class Found:
    store: Store
    distance_km: float | None
    open_now: bool | None
    in_stock: bool | None = None
    hours: list = field(default_factory=list)


#: Half-width of the first search box around the customer, and how much each round widens it.
FIRST_RADIUS_KM = 5.0
WIDEN = 4
#: A box this wide holds the whole globe: the last round, which finds every located store.
WHOLE_EARTH_KM = math.pi * EARTH_RADIUS_KM
#: Candidates read per round, per store wanted: the SQL ranks by a flat-earth distance,
#: exact haversine decides among these.
CANDIDATES = 3
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180


def _offers_pickup(chain_id: int) -> tuple:
    """WHERE clauses: the chain's active stores that have the plugin on.

    The core's ``stores_enabling`` is a select of store ids; asked as a correlated
    EXISTS it costs one primary-key probe per store the box holds, where ``IN`` would
    first build the list of every enabling store of the chain on each query.
    """
    enabling = stores_enabling("pickup", chain_id).subquery()
    return (Store.chain_id == chain_id, Store.status == "active",
            exists(select(1).select_from(enabling).where(enabling.c.id == Store.id)))


def _located() -> tuple:
    return Store.lat.is_not(None), Store.lng.is_not(None)


def offers_pickup(chain_id: int, store_id: int) -> bool:
    """Whether one store of the chain is active and offers pickup (one indexed lookup)."""
    # Other stores' plugin choices are their rows: read them with the chain's scope.
    with tenancy.scope(tenancy.TenantScope(chain_id, None)):
        return db.session.scalar(
            select(Store.id).where(Store.id == store_id, *_offers_pickup(chain_id))
        ) is not None


def box(lat: float, lng: float, radius_km: float) -> tuple:
    """WHERE clauses for the latitude/longitude box holding every point within ``radius_km``.

    Longitude is left open where the box would cross a pole or the antimeridian; the
    index on ``(chain_id, lat, lng)`` narrows by latitude first either way.
    """
    dlat = radius_km / KM_PER_DEGREE
    clauses = [Store.lat.between(lat - dlat, lat + dlat)] if dlat < 90 else []
    scale = math.cos(math.radians(lat))
    if abs(lat) + dlat < 90 and scale > 0:
        dlng = dlat / scale
        if lng - dlng >= -180 and lng + dlng <= 180:
            clauses.append(Store.lng.between(lng - dlng, lng + dlng))
    return tuple(clauses)


def _nearest_ids(chain_id: int, lat: float, lng: float, limit: int) -> list[tuple[int, float]]:
    """``[(store id, km)]`` of the ``limit`` located pickup stores nearest to the point.

    Reads a box around the point, widening it (``WIDEN`` times per round) until it
    holds ``limit`` stores within its radius: a store outside the box is farther than
    the radius, so those are the nearest. Each round reads at most ``CANDIDATES *
    limit`` rows ranked in SQL, so the work depends on ``limit``, not on the chain's
    size (100,000 stores cost what 10 do).
    """
    scale = math.cos(math.radians(lat))
    dlat, dlng = Store.lat - lat, (Store.lng - lng) * scale
    radius = FIRST_RADIUS_KM
    while True:
        rows = db.session.execute(
            select(Store.id, Store.lat, Store.lng)
            .where(*_offers_pickup(chain_id), *_located(), *box(lat, lng, radius))
            .order_by(dlat * dlat + dlng * dlng, Store.id)
            .limit(limit * CANDIDATES)
        ).all()
        found = sorted((haversine_km(lat, lng, r.lat, r.lng), r.id) for r in rows)
        within = [(store_id, km) for km, store_id in found if km <= radius]
        if len(within) >= limit or radius >= WHOLE_EARTH_KM:
            return (within if len(within) >= limit
                    else [(store_id, km) for km, store_id in found])[:limit]
        radius *= WIDEN


def city_centre(chain_id: int, city: str) -> tuple[float, float] | None:
    """The mean position of the city's pickup stores (one aggregate query)."""
    row = db.session.execute(
        select(func.avg(Store.lat), func.avg(Store.lng))
        .where(*_offers_pickup(chain_id), *_located(), Store.city == city)
    ).one()
    return None if row[0] is None else (float(row[0]), float(row[1]))


def product_in_stock(chain_id: int, product_id: int, store_ids: list[int]) -> set[int]:
    """Ids of the stores (among ``store_ids``) with any unit of the product for sale."""
    with tenancy.scope(tenancy.TenantScope(chain_id, None)):
        rows = db.session.execute(
            select(StoreListing.store_id, StoreListing.stock_on_hand, StoreListing.reserved,
                   StoreListing.listed)
            .join(Variant, Variant.id == StoreListing.variant_id)
            .join(Product, Product.id == Variant.product_id)
            .where(Variant.product_id == product_id, Product.status == "active",
                   StoreListing.store_id.in_(store_ids))
        ).all()
    return {r.store_id for r in rows if r.listed is not False and r.stock_on_hand > r.reserved}


def nearest(chain_id: int, lat: float | None, lng: float | None, city: str = "",
            product_id: int | None = None, limit: int = 20, near: Store | None = None
            ) -> list[Found]:
    """The chain's ``limit`` pickup stores nearest to the customer, nearest first.

    The point is the customer's (``lat``/``lng``), else the centre of ``city``;
    distances are shown from those. Without either the stores nearest ``near``
    (the store being browsed) come first, with no distance shown: it is not the
    customer's. Stores without coordinates fill the list only when the chain has
    fewer located ones than ``limit``.
    """
    with tenancy.scope(tenancy.TenantScope(chain_id, None)):
        if (lat is None or lng is None) and city:
            lat, lng = city_centre(chain_id, city) or (None, None)
        shown = lat is not None and lng is not None
        if not shown and near is not None and near.lat is not None and near.lng is not None:
            lat, lng = near.lat, near.lng
        ranked = _nearest_ids(chain_id, lat, lng, limit) if lat is not None and lng is not None \
            else []
        if len(ranked) < limit:
            ranked += [(store_id, None) for store_id in db.session.scalars(
                select(Store.id).where(*_offers_pickup(chain_id),
                                       Store.id.not_in([i for i, _km in ranked]),
                                       (Store.lat.is_(None) | Store.lng.is_(None)) if ranked
                                       else db.true())
                .order_by(Store.city != city, Store.name).limit(limit - len(ranked)))]
        by_id = {s.id: s for s in db.session.scalars(
            select(Store).where(Store.id.in_([i for i, _km in ranked])))}
    found = [Found(by_id[store_id], km if shown else None, slots.is_open(by_id[store_id]),
                   hours=hours_of(by_id[store_id]))
             for store_id, km in ranked if store_id in by_id]
    if product_id:
        stocked = product_in_stock(chain_id, product_id, [f.store.id for f in found])
        for f in found:
            f.in_stock = f.store.id in stocked
    return found


def hours_of(store) -> list[tuple[str, str]]:
    """[(day key, "09:00–21:00, ...")] for display."""
    result = []
    for key in slots.DAY_KEYS:
        periods = (store.opening_hours or {}).get(key) or []
        text = ", ".join(f"{p[0]}–{p[1]}" for p in periods if isinstance(p, list | tuple)
                         and len(p) == 2)
        result.append((key, text))
    return result


def cities(chain_id: int) -> list[str]:
    """The cities with a pickup store, for the city chooser (one DISTINCT query)."""
    with tenancy.scope(tenancy.TenantScope(chain_id, None)):
        return list(db.session.scalars(
            select(Store.city).where(*_offers_pickup(chain_id), Store.city != "")
            .distinct().order_by(Store.city)
        ))


# -- moving a cart -------------------------------------------------------------------------


@dataclass
class Move:
    kept: list[str]
    unavailable: list[str]


def check_cart_at(target: Store, lines) -> Move:
    """Which of ``lines`` (``(variant, quantity)``) the ``target`` store can sell."""
    kept, missing = [], []
    with tenancy.store_scope(target):
        for variant, quantity in lines:
            title = f"{variant.product.title} {variant.label}".strip()
            priced = cart_service.price_variant(target, variant)
            if priced.sellable and priced.available >= quantity:
                kept.append(title)
            else:
                missing.append(title)
    return Move(kept, missing)


def move_cart(source_cart, target: Store, customer_id: int | None, token: str | None) -> Move:
    """Copy the lines ``target`` can sell into the visitor's cart there; report the rest.

    The source cart is left as it was: coming back to the first store finds it.
    """
    lines = [(line.variant, line.quantity) for line in (source_cart.lines if source_cart else [])]
    move = check_cart_at(target, lines)
    if not lines:
        return move
    with tenancy.store_scope(target):
        cart = cart_service.get_or_create_cart(target, customer_id=customer_id, token=token)
        kept, missing = [], []
        for variant, quantity in lines:
            title = f"{variant.product.title} {variant.label}".strip()
            priced = cart_service.price_variant(target, variant)
            if not priced.sellable or priced.available < quantity:
                missing.append(title)
                continue
            existing = next((ln for ln in cart.lines if ln.variant_id == variant.id), None)
            if existing is None:
                cart_service.add(target, cart, variant.id, quantity)
            kept.append(title)
        db.session.commit()
    return Move(kept, missing)
