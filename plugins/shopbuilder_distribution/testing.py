"""Seed factories for the isolation tests (found as ``shopbuilder_distribution.testing``)."""

from __future__ import annotations

from shopbuilder import clock
from shopbuilder.models import Customer, Order, Product
from shopbuilder.testing import register_id_argument, seed, seed_factory, unique

from .models import Binding, Commission, Distributor, Grade, ProductCommission, Withdrawal


@seed_factory(Grade)
def _seed_grade(session, store):
    return Grade(chain_id=store.chain_id, name=unique("Grade "), rate_bp=500, second_rate_bp=100,
                 position=0)


@seed_factory(ProductCommission)
def _seed_fixed(session, store):
    product = seed(session, Product, store)
    return ProductCommission(chain_id=store.chain_id, product_id=product.id, fixed_fen=100,
                             second_fixed_fen=10)


@seed_factory(Distributor)
def _seed_distributor(session, store):
    customer = seed(session, Customer, store)
    return Distributor(chain_id=store.chain_id, customer_id=customer.id,
                       code=unique("D")[:16].upper(), status="active", store_id=store.id,
                       note="", balance_fen=5000, withdrawn_fen=0, decided_by="")


@seed_factory(Binding)
def _seed_binding(session, store):
    distributor = seed(session, Distributor, store)
    customer = seed(session, Customer, store)
    return Binding(chain_id=store.chain_id, customer_id=customer.id,
                   distributor_id=distributor.id, bound_at=clock.now(), expires_at=None)


@seed_factory(Commission)
def _seed_commission(session, store):
    distributor = seed(session, Distributor, store)
    # Built here rather than through an Order factory, which another area owns.
    order = Order(chain_id=store.chain_id, store_id=store.id, number=unique("D-"),
                  goods_fen=1000, total_fen=1000, fulfilment_code="delivery",
                  payment_provider="offline")
    session.add(order)
    session.flush()
    return Commission(chain_id=store.chain_id, store_id=store.id, order_id=order.id,
                      order_number=order.number, distributor_id=distributor.id, level=1,
                      base_fen=1000, full_fen=50, amount_fen=50, net_fen=0, credited_fen=0,
                      state="frozen")


@seed_factory(Withdrawal)
def _seed_withdrawal(session, store):
    distributor = seed(session, Distributor, store)
    return Withdrawal(chain_id=store.chain_id, distributor_id=distributor.id, amount_fen=1000,
                      fee_fen=0, state="pending", reference="", decided_by="")


register_id_argument("distributor_id", Distributor)
register_id_argument("withdrawal_id", Withdrawal)
