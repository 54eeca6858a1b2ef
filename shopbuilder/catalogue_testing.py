"""Seed factories for the catalogue's own models, for the generic tenant-isolation tests."""

from __future__ import annotations

import hashlib

from .models import Product, ProductImage, StockSyncRequest, StoreApiKey
from .testing import register_id_argument, seed, seed_factory, unique


@seed_factory(ProductImage)
def _seed_product_image(session, store):
    product = seed(session, Product, store)
    name = unique("img")
    return ProductImage(chain_id=store.chain_id, product_id=product.id, path=f"{name}.webp",
                        thumb_path=f"{name}-thumb.webp", width=10, height=10)


@seed_factory(StoreApiKey)
def _seed_api_key(session, store):
    secret = unique("key")
    return StoreApiKey(chain_id=store.chain_id, store_id=store.id, name="Till", prefix=secret[:8],
                       key_hash=hashlib.sha256(secret.encode()).hexdigest())


@seed_factory(StockSyncRequest)
def _seed_sync_request(session, store):
    return StockSyncRequest(chain_id=store.chain_id, store_id=store.id,
                            request_id=unique("req"), body_hash="0" * 64, status=200,
                            response={})


register_id_argument("key_id", StoreApiKey)
register_id_argument("image_id", ProductImage)
