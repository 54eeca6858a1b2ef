"""The demo's social commerce: a group-buy campaign, an open group and a distributor.

So that a fresh ``make run`` can be tried the way a customer uses it: open the
group 李团长 started at west-lake and join it, or share a product as the demo
customer (a distributor) and buy through the link as someone else. Loaded only
when the group-buy and distribution plugins are installed; HQ policy turns them
on for every store, as it does pickup.
"""

from __future__ import annotations

from datetime import timedelta

from . import clock, tenancy
from .extensions import db
from .models import Customer, Variant
from .plugins import get_host
from .plugins.enablement import set_policy
from .services import orders

#: The demo's group leader, a second customer to try things with.
LEADER = ("leader@example.com", "李团长", "13900000000")
CAMPAIGN_SKU = "LJ-50"


def load_social_demo(chain, stores, customer, password: str, open_group: bool) -> list[str]:
    """Turn group-buy and distribution on for the chain and give each something to show.

    ``open_group=False`` leaves out the leader's group (it holds stock), for tests
    that count stock and orders. Returns the lines ``init --demo`` prints.
    """
    installed = get_host().names
    lines = []
    leader = Customer(chain_id=chain.id, email=LEADER[0], name=LEADER[1], phone=LEADER[2],
                      home_store_id=stores["west-lake"].id)
    leader.set_password(password)
    db.session.add(leader)
    db.session.commit()
    if "groupbuy" in installed:
        set_policy(chain, "groupbuy", "allowed", default=True)
        campaign = _campaign(chain)
        db.session.commit()
        lines.append(f"Group-buy (拼团): campaign '{campaign.title}' in every demo store.")
        if open_group:
            open_demo_group(stores["west-lake"], leader, campaign.id)
            lines.append(f"  {LEADER[1]} ({LEADER[0]}) opened a group at west-lake; join it.")
    if "distribution" in installed:
        set_policy(chain, "distribution", "allowed", default=True)
        _distributor(chain, customer, stores["west-lake"])
        db.session.commit()
        lines.append(f"Distribution (分销): {customer.name} ({customer.email}) is a distributor.")
    return lines


def _campaign(chain):
    from shopbuilder_groupbuy import service as groupbuy

    variant = db.session.scalar(db.select(Variant).where(
        Variant.chain_id == chain.id, Variant.sku == CAMPAIGN_SKU))
    now = clock.now()
    return groupbuy.create_campaign(groupbuy.CampaignInput(
        title="龙井三人团", variant_id=variant.id, group_price_fen=9900, group_size=3,
        fill_hours=24, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=30),
        unit_cap=8, per_customer_limit=2, all_stores=True,
    ), chain)


def open_demo_group(store, leader, campaign_id: int) -> None:
    """The leader's order, paid at the counter: the group opens, one of three."""
    from shopbuilder_groupbuy import service as groupbuy

    with tenancy.store_scope(store):
        order = groupbuy.start_group(
            store, leader, groupbuy.get_campaign(store, campaign_id),
            orders.Checkout(fulfilment_code="delivery", payment_provider="offline",
                            contact_name=LEADER[1], contact_phone=LEADER[2],
                            address="杭州市西湖区北山街 1 号"),
            idempotency_key="demo-leader-group")
        orders.mark_paid(order, "system")
    db.session.commit()


def _distributor(chain, customer, store) -> None:
    from shopbuilder_distribution import service as distribution
    from shopbuilder_distribution.models import Grade

    distribution.save_chain_settings(chain, {"join_policy": "open"})
    db.session.add(Grade(chain_id=chain.id, name="铜牌", rate_bp=1000, second_rate_bp=200))
    db.session.flush()
    distribution.apply(chain, customer, store)
