"""All core models; importing this module registers them with SQLAlchemy."""

from __future__ import annotations

from .accounts import Customer, StaffRole, User
from .api import ApiIdempotencyKey, ApiToken
from .base import ChainOwned, StoreOptional, StoreOwned, Timestamped, UTCDateTime
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
from .ledger import LedgerEntry, LedgerHead, LedgerTransaction
from .orders import (
    AfterSaleRequest,
    Cart,
    CartLine,
    Deadline,
    Order,
    OrderCounter,
    OrderEvent,
    OrderLine,
    OrderState,
    Payment,
    PaymentNotice,
    Refund,
)
from .plugins import StorePlugin
from .tenancy import SLUG_PATTERN, Chain, Store

__all__ = [
    "ApiIdempotencyKey",
    "ApiToken",
    "AfterSaleRequest",
    "Cart",
    "CartLine",
    "Deadline",
    "Order",
    "OrderCounter",
    "OrderEvent",
    "OrderLine",
    "OrderState",
    "Payment",
    "PaymentNotice",
    "Refund",
    "SLUG_PATTERN",
    "Category",
    "Chain",
    "ChainOwned",
    "Customer",
    "LedgerEntry",
    "LedgerHead",
    "LedgerTransaction",
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
    "StorePlugin",
    "Timestamped",
    "UTCDateTime",
    "User",
    "Variant",
]
