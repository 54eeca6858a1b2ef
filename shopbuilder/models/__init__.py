"""All core models; importing this module registers them with SQLAlchemy."""

from __future__ import annotations

from .accounts import Customer, StaffRole, User
from .api import ApiIdempotencyKey, ApiToken
from .base import ChainOwned, StoreOptional, StoreOwned, UTCDateTime
from .catalogue import (
    Category,
    Product,
    ProductImage,
    Publication,
    StockSyncRequest,
    StoreApiKey,
    StoreListing,
    Variant,
)
from .tenancy import SLUG_PATTERN, Chain, Store

__all__ = [
    "ApiIdempotencyKey",
    "ApiToken",
    "SLUG_PATTERN",
    "Category",
    "Chain",
    "ChainOwned",
    "Customer",
    "Product",
    "ProductImage",
    "Publication",
    "StaffRole",
    "Store",
    "StockSyncRequest",
    "StoreApiKey",
    "StoreListing",
    "StoreOptional",
    "StoreOwned",
    "UTCDateTime",
    "User",
    "Variant",
]
