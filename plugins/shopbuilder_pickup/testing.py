"""Seed factories for the kit's generic isolation tests (``shopbuilder.testing.seed``).

Imported on demand by ``shopbuilder.testing.find_seed_factory``; each factory builds one row
of a pickup model belonging to ``store``.
"""

from __future__ import annotations

from datetime import timedelta

from shopbuilder import clock

try:
    from shopbuilder.testing import seed, seed_factory
except ImportError:  # a kit without seed factories: nothing to register
    seed = seed_factory = None

from .models import PickupCollection, PickupLine, PickupOrder, PickupSlot

if seed_factory is not None:

    @seed_factory(PickupSlot)
    def _seed_slot(session, store):
        return PickupSlot(chain_id=store.chain_id, store_id=store.id,
                          starts_at=clock.now() + timedelta(hours=2, seconds=store.id), booked=1)

    @seed_factory(PickupOrder)
    def _seed_pickup_order(session, store):
        from shopbuilder.models import Order

        order = seed(session, Order, store)
        start = clock.now() + timedelta(hours=2)
        return PickupOrder(chain_id=store.chain_id, store_id=store.id, order_id=order.id,
                           slot_start=start, slot_end=start + timedelta(minutes=30),
                           state="booked", collected_by="")

    @seed_factory(PickupLine)
    def _seed_pickup_line(session, store):
        from shopbuilder.models import OrderLine

        pickup = seed(session, PickupOrder, store)
        line = seed(session, OrderLine, store)
        return PickupLine(chain_id=store.chain_id, store_id=store.id, pickup_id=pickup.id,
                          order_line_id=line.id, quantity=1, picked=0)

    @seed_factory(PickupCollection)
    def _seed_collection(session, store):
        from shopbuilder.models import User

        pickup = seed(session, PickupOrder, store)
        user = seed(session, User, store)
        return PickupCollection(chain_id=store.chain_id, store_id=store.id, pickup_id=pickup.id,
                                at=clock.now(), user_id=user.id, user_name="Seed",
                                quantities={}, complete=False)
