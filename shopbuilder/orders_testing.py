"""Seed factories for the order models, for the generic tenant-isolation tests."""

from __future__ import annotations

from datetime import timedelta

from . import clock
from .models import (
    AfterSaleRequest,
    Cart,
    CartLine,
    Deadline,
    Order,
    OrderCounter,
    OrderEvent,
    OrderLine,
    Payment,
    PaymentNotice,
    Refund,
    Variant,
)
from .testing import register_id_argument, seed, seed_factory, unique


@seed_factory(Cart)
def _seed_cart(session, store):
    return Cart(chain_id=store.chain_id, store_id=store.id, token=unique("cart"))


@seed_factory(CartLine)
def _seed_cart_line(session, store):
    cart = seed(session, Cart, store)
    variant = seed(session, Variant, store)
    return CartLine(chain_id=store.chain_id, store_id=store.id, cart_id=cart.id,
                    variant_id=variant.id, quantity=1)


@seed_factory(Order)
def _seed_order(session, store):
    return Order(chain_id=store.chain_id, store_id=store.id, number=unique("SEED-"),
                 goods_fen=1000, total_fen=1000, fulfilment_code="delivery",
                 payment_provider="offline")


@seed_factory(OrderLine)
def _seed_order_line(session, store):
    order = seed(session, Order, store)
    variant = seed(session, Variant, store)
    return OrderLine(chain_id=store.chain_id, store_id=store.id, order_id=order.id,
                     variant_id=variant.id, title="Seed", unit_price_fen=1000, quantity=1,
                     line_total_fen=1000)


@seed_factory(OrderEvent)
def _seed_order_event(session, store):
    order = seed(session, Order, store)
    return OrderEvent(chain_id=store.chain_id, store_id=store.id, order_id=order.id,
                      actor="seed", kind="created")


@seed_factory(OrderCounter)
def _seed_order_counter(session, store):
    return OrderCounter(chain_id=store.chain_id, store_id=store.id, day=unique("d")[-8:])


@seed_factory(Deadline)
def _seed_deadline(session, store):
    order = seed(session, Order, store)
    return Deadline(chain_id=store.chain_id, store_id=store.id, order_id=order.id,
                    kind="pay", due_at=clock.now() + timedelta(minutes=30))


@seed_factory(Payment)
def _seed_payment(session, store):
    order = seed(session, Order, store)
    return Payment(chain_id=store.chain_id, store_id=store.id, order_id=order.id,
                   provider="offline", token=unique("pay"), amount_fen=order.total_fen)


@seed_factory(Refund)
def _seed_refund(session, store):
    payment = seed(session, Payment, store)
    return Refund(chain_id=store.chain_id, store_id=store.id, order_id=payment.order_id,
                  payment_id=payment.id, amount_fen=100, actor="seed")


@seed_factory(PaymentNotice)
def _seed_payment_notice(session, store):
    return PaymentNotice(chain_id=store.chain_id, store_id=store.id, provider="sandbox",
                         nonce=unique("nonce"))


@seed_factory(AfterSaleRequest)
def _seed_after_sale(session, store):
    order = seed(session, Order, store)
    return AfterSaleRequest(chain_id=store.chain_id, store_id=store.id, order_id=order.id,
                            kind="refund", reason="seed", amount_fen=100)


register_id_argument("request_id", AfterSaleRequest)
# The customer's order pages name an order by its number: /s/<store>/orders/<number>.
register_id_argument("number", Order, attribute="number")
