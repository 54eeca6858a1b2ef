"""The store finder: the chain's stores nearest to the customer, and moving a cart between them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy import select

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


def pickup_stores(chain_id: int) -> list[Store]:
    """Active stores of the chain that offer pickup."""
    # Other stores' plugin choices are their rows: read them with the chain's scope.
    with tenancy.scope(tenancy.TenantScope(chain_id, None)):
        return list(db.session.scalars(
            select(Store).where(Store.chain_id == chain_id, Store.status == "active",
                                Store.id.in_(stores_enabling("pickup", chain_id)))
        ))


def city_centre(stores: list[Store], city: str) -> tuple[float, float] | None:
    points = [(s.lat, s.lng) for s in stores if s.city == city and s.lat is not None
              and s.lng is not None]
    if not points:
        return None
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


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
            product_id: int | None = None, limit: int = 20) -> list[Found]:
    stores = pickup_stores(chain_id)
    if (lat is None or lng is None) and city:
        centre = city_centre(stores, city)
        if centre is not None:
            lat, lng = centre
    found = []
    for store in stores:
        distance = None
        if lat is not None and lng is not None and store.lat is not None and store.lng is not None:
            distance = haversine_km(lat, lng, store.lat, store.lng)
        found.append(Found(store, distance, slots.is_open(store), hours=hours_of(store)))
    found.sort(key=lambda f: (f.distance_km is None, f.distance_km or 0,
                              f.store.city != city, f.store.name))
    found = found[:limit]
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
    return sorted({s.city for s in pickup_stores(chain_id) if s.city})


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
