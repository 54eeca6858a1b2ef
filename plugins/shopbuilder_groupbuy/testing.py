"""Seed factories for the generic isolation tests (found as ``shopbuilder_groupbuy.testing``)."""

from __future__ import annotations

from datetime import timedelta

from shopbuilder import clock
from shopbuilder.models import Customer, Order, Variant
from shopbuilder.testing import (
    hq_seed_factory,
    register_id_argument,
    seed,
    seed_factory,
    unique,
)

from .models import Campaign, CampaignCustomer, CampaignStore, Group, GroupMember


@seed_factory(Campaign)
def _seed_campaign(session, store):
    return _campaign(session, store, store_id=store.id)


@hq_seed_factory(Campaign)
def _seed_hq_campaign(session, store):
    return _campaign(session, store, store_id=None)


def _campaign(session, store, store_id):
    variant = seed(session, Variant, store)
    now = clock.now()
    return Campaign(chain_id=store.chain_id, store_id=store_id, title=unique("Campaign "),
                    variant_id=variant.id, product_id=variant.product_id, group_price_fen=80,
                    group_size=2, fill_hours=24, starts_at=now - timedelta(days=1),
                    ends_at=now + timedelta(days=7), unit_cap=5, per_customer_limit=1,
                    per_order_limit=1, virtual_percent=0, commission_allowed=True,
                    all_stores=False, status="active")


@seed_factory(CampaignStore)
def _seed_campaign_store(session, store):
    campaign = seed(session, Campaign, store)
    return CampaignStore(chain_id=store.chain_id, store_id=store.id, campaign_id=campaign.id,
                         chosen=True, units_taken=0)


@seed_factory(CampaignCustomer)
def _seed_campaign_customer(session, store):
    campaign = seed(session, Campaign, store)
    customer = seed(session, Customer, store)
    return CampaignCustomer(chain_id=store.chain_id, campaign_id=campaign.id,
                            customer_id=customer.id, units=1)


@seed_factory(Group)
def _seed_group(session, store):
    campaign = seed(session, Campaign, store)
    return Group(chain_id=store.chain_id, store_id=store.id, campaign_id=campaign.id,
                 state="open", size=2, seats_taken=0, paid_count=0,
                 expires_at=clock.now() + timedelta(hours=24), outcome="")


@seed_factory(GroupMember)
def _seed_member(session, store):
    group = seed(session, Group, store)
    customer = seed(session, Customer, store)
    order = Order(chain_id=store.chain_id, store_id=store.id, number=unique("GB-"),
                  customer_id=customer.id, state="awaiting_group", goods_fen=80, total_fen=80,
                  paid_fen=80, fulfilment_code="delivery", payment_provider="offline")
    session.add(order)
    session.flush()
    return GroupMember(chain_id=store.chain_id, store_id=store.id, group_id=group.id,
                       campaign_id=group.campaign_id, customer_id=customer.id,
                       seat_customer_id=customer.id, order_id=order.id, quantity=1,
                       unit_price_fen=80, is_leader=True, state="paid")


register_id_argument("campaign_id", Campaign)
register_id_argument("group_id", Group)
