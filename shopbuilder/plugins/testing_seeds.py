"""Seed factory for the plugin host's own model, for the generic tenant-isolation tests."""

from __future__ import annotations

from ..models import StorePlugin
from ..testing import seed_factory, unique


@seed_factory(StorePlugin)
def _seed_store_plugin(session, store):
    return StorePlugin(chain_id=store.chain_id, store_id=store.id, plugin=unique("plugin"),
                       enabled=True)
