"""Group-buy rules: campaigns, starting and joining groups, filling, expiring and refunding.

How a seat is won, exactly, however many processes race for it:

1. Before any money moves, placing the order takes a seat with one conditional
   UPDATE on the group (``seats_taken = seats_taken + 1 WHERE seats_taken < size
   AND state = 'open'``) and units with another on the store's campaign counter,
   inside the order's own transaction (the ``shopbuilder_checkout_placed`` hook).
   Whoever finds no row to update is refused: no order, nothing to pay.
2. The seat is held as long as the order may be paid: the order's pay deadline is
   shortened to the store's ``seat_hold_minutes``. When it lapses the core cancels
   the order, and the ``shopbuilder_order_cancelled`` hook gives the seat back.
3. The payment (``shopbuilder_order_hold_after_payment``, in the payment's
   transaction) counts the member with another conditional UPDATE that only
   succeeds while the group is open; the order is held (``awaiting_group``).
   A payment that finds the group closed marks the member ``refund_due`` and is
   refunded right after the commit (and by the worker, should that fail).
4. The payment that fills the group turns it ``succeeded`` in the same UPDATE;
   every paid member's order is then released to fulfilment through
   :func:`shopbuilder.services.orders.release_hold`.

Every step is idempotent and the worker (:func:`tick`) repeats whatever a crash
may have left half done, so a paid member always ends with a place or a refund.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from shopbuilder import clock
from shopbuilder.extensions import db
from shopbuilder.models import Order, OrderState, Store, StoreListing, Variant
from shopbuilder.plugins import plugin_settings
from shopbuilder.services import cart as cart_service
from shopbuilder.services import orders
from shopbuilder.services.storefront_catalogue import note_chain_changed, note_store_changed

from .models import (
    Campaign,
    CampaignCustomer,
    CampaignStore,
    Group,
    GroupMember,
    GroupState,
    MemberState,
)

log = logging.getLogger(__name__)

NAME = "groupbuy"
INTENT_KEY = "groupbuy.intent"
REFUSAL_KEY = "groupbuy.refusal"
#: ``Campaign.status`` values.
ACTIVE = "active"
STOPPED = "stopped"
S = OrderState
G = GroupState
M = MemberState


def N_(message: str) -> str:
    """Mark a stored English reason for translation (shown translated)."""
    return message


HOLD_REASON = N_("Waiting for the group to fill")


#: Above this many chosen stores, a campaign change renews the whole chain's pages.
STORE_NOTES_MAX = 50


class GroupError(Exception):
    """A group-buy action that cannot be done; ``str(error)`` is said to the customer."""


# -- the storefront's cached pages -------------------------------------------------------------


def renew_store_pages(store_id: int) -> None:
    """A group of ``store_id`` changed: its cached product pages are drawn again after commit.

    Anonymous product pages are kept in the storefront's page cache with the groups
    to join; opening, joining, paying, filling, expiring, cancelling and refunds
    change what they show. The note is part of the caller's transaction: a rollback
    renews nothing (nothing changed).
    """
    note_store_changed(db.session, store_id)


def renew_campaign_pages(campaign: Campaign, store_ids=None) -> None:
    """A campaign was created, edited or stopped: renew the pages of the stores it runs in.

    A store's own campaign renews that store; HQ's for all stores, or for more than
    :data:`STORE_NOTES_MAX` chosen ones, renews the chain (one token for every
    store of the chain, cheaper than one per store); otherwise each chosen store.
    ``store_ids`` saves looking the chosen stores up when the caller has them.
    """
    if campaign.store_id is not None:
        note_store_changed(db.session, campaign.store_id)
        return
    if not campaign.all_stores and store_ids is None:
        store_ids = campaign_targets(campaign)
    if campaign.all_stores or store_ids is None or len(store_ids) > STORE_NOTES_MAX:
        note_chain_changed(db.session, campaign.chain_id)
        return
    for store_id in store_ids:
        note_store_changed(db.session, int(store_id))


# -- campaigns ---------------------------------------------------------------------------------


@dataclass
class CampaignInput:
    title: str
    variant_id: int
    group_price_fen: int
    group_size: int
    fill_hours: int
    starts_at: object
    ends_at: object
    unit_cap: int
    per_customer_limit: int = 1
    per_order_limit: int = 1
    leader_price_fen: int | None = None
    virtual_percent: int = 0
    commission_allowed: bool = True
    all_stores: bool = False
    store_ids: tuple = ()


def available_units(store_id: int, variant_id: int) -> int:
    listing = db.session.scalar(select(StoreListing).where(
        StoreListing.store_id == store_id, StoreListing.variant_id == variant_id))
    return listing.available if listing is not None else 0


def foreign_store_ids(chain, store_ids) -> list[int]:
    """The ids among ``store_ids`` that are not stores of ``chain`` (never named: no oracle)."""
    wanted = {int(i) for i in store_ids}
    if not wanted:
        return []
    own = set(db.session.scalars(select(Store.id).where(Store.id.in_(wanted),
                                                        Store.chain_id == chain.id)))
    return sorted(wanted - own)


def stores_short_of(chain, variant_id: int, store_ids, units_needed) -> list[str]:
    """``Name (available)`` of every target store with less stock than needed.

    ``store_ids`` None means every store of the chain that lists the variant (an
    all-stores campaign), read in the same query rather than as a list of ids.
    ``units_needed`` is a number, or a function of the store id (for an edit,
    where what a store already sold in the campaign is already reserved).
    """
    need = units_needed if callable(units_needed) else (lambda _store_id: units_needed)
    available = StoreListing.stock_on_hand - StoreListing.reserved
    stmt = select(StoreListing.store_id, available).where(
        StoreListing.chain_id == chain.id, StoreListing.variant_id == variant_id)
    if store_ids is None:
        if not callable(units_needed):
            stmt = stmt.where(available < units_needed)
    else:
        store_ids = sorted({int(i) for i in store_ids})
        stmt = stmt.where(StoreListing.store_id.in_(store_ids))
    have = dict(db.session.execute(stmt).all())
    targets = sorted(have) if store_ids is None else store_ids
    short_ids = [i for i in targets if need(i) > have.get(i, 0)]
    names = dict(db.session.execute(select(Store.id, Store.name).where(
        Store.id.in_(short_ids[:11]), Store.chain_id == chain.id)).all())
    return [f"{names.get(i, i)} ({have.get(i, 0)})" for i in short_ids]


def _short_message(short: list[str]):
    return _l("The unit cap is above the stock available in: %(stores)s.",
              stores=", ".join(short[:10]) + (" …" if len(short) > 10 else ""))


def check_campaign(data: CampaignInput, chain, store=None) -> list[str]:
    """Every reason ``data`` cannot be a campaign (empty when it can)."""
    problems = []
    if not 2 <= data.group_size <= 50:
        problems.append(_l("A group has 2 to 50 people."))
    if data.group_price_fen <= 0:
        problems.append(_l("The group price must be above zero."))
    if data.leader_price_fen is not None and not 0 < data.leader_price_fen <= data.group_price_fen:
        problems.append(_l("The leader price must be above zero and at most the group price."))
    if not 1 <= data.fill_hours <= 24 * 30:
        problems.append(_l("A group has 1 to 720 hours to fill."))
    if data.ends_at <= data.starts_at:
        problems.append(_l("The campaign must end after it starts."))
    problems += _check_limits(data.unit_cap, data.per_customer_limit, data.per_order_limit)
    if not 0 <= data.virtual_percent <= 100:
        problems.append(_l("Virtual completion is a percentage between 0 and 100."))
    variant = db.session.get(Variant, data.variant_id)
    if variant is None or variant.chain_id != chain.id:
        problems.append(_l("Choose a product variant of this chain."))
        return problems
    if store is None and not data.all_stores:
        if not data.store_ids:
            problems.append(_l("Choose the stores, or all stores."))
        foreign = foreign_store_ids(chain, data.store_ids)
        if foreign:
            # Ids only: the name of another chain's store is none of this chain's business.
            problems.append(_l("These stores are not stores of this chain: %(ids)s.",
                               ids=", ".join(str(i) for i in foreign[:10])))
            return problems
    if store is not None:
        targets = [store.id]
    else:
        targets = None if data.all_stores else data.store_ids
    short = stores_short_of(chain, variant.id, targets, data.unit_cap)
    if short:
        problems.append(_short_message(short))
    return problems


def _check_limits(unit_cap: int, per_customer: int, per_order: int) -> list:
    problems = []
    if not 1 <= per_order <= per_customer:
        problems.append(_l("The limit per order must be at least 1 and at most the limit per "
                           "customer."))
    if unit_cap < 1:
        problems.append(_l("The unit cap must be at least 1."))
    return problems


def create_campaign(data: CampaignInput, chain, store=None) -> Campaign:
    """Create a campaign by HQ (``store`` None) or by ``store`` for itself; caller commits.

    Chosen store ids outside ``chain`` are refused (:func:`check_campaign`), so a
    form tampered with cannot attach another chain's store to a campaign.
    """
    problems = check_campaign(data, chain, store)
    if problems:
        raise GroupError(" ".join(str(p) for p in problems))
    variant = db.session.get(Variant, data.variant_id)
    campaign = Campaign(
        chain_id=chain.id, store_id=store.id if store is not None else None,
        title=data.title.strip()[:120] or variant.product.title, variant_id=variant.id,
        product_id=variant.product_id, group_price_fen=data.group_price_fen,
        leader_price_fen=data.leader_price_fen, group_size=data.group_size,
        fill_hours=data.fill_hours, starts_at=data.starts_at, ends_at=data.ends_at,
        unit_cap=data.unit_cap, per_customer_limit=data.per_customer_limit,
        per_order_limit=data.per_order_limit, virtual_percent=data.virtual_percent,
        commission_allowed=data.commission_allowed,
        all_stores=bool(store is None and data.all_stores),
    )
    db.session.add(campaign)
    db.session.flush()
    if store is None and not data.all_stores:
        for store_id in sorted({int(i) for i in data.store_ids}):
            db.session.add(CampaignStore(chain_id=chain.id, store_id=store_id,
                                         campaign_id=campaign.id, chosen=True))
    db.session.flush()
    renew_campaign_pages(campaign, sorted({int(i) for i in data.store_ids}))
    return campaign


@dataclass
class CampaignChanges:
    """What can change in a running campaign without breaking a promise already made.

    Prices, the group size, the hours to fill, the variant, the stores and the
    virtual rule are fixed: open groups and placed orders rely on them.
    """

    title: str
    ends_at: object
    unit_cap: int
    per_customer_limit: int
    per_order_limit: int


def campaign_targets(campaign: Campaign) -> list[int] | None:
    """The stores a campaign runs in; None for an all-stores campaign (every listing)."""
    if campaign.store_id is not None:
        return [campaign.store_id]
    if campaign.all_stores:
        return None
    return list(db.session.scalars(select(CampaignStore.store_id).where(
        CampaignStore.campaign_id == campaign.id, CampaignStore.chosen.is_(True))))


def update_campaign(campaign: Campaign, changes: CampaignChanges, chain) -> Campaign:
    """Change the safe fields of a campaign; caller commits.

    A higher unit cap is checked against each store's stock like a new campaign,
    counting what the store already sold in it (those units are reserved or gone).
    """
    problems = []
    now = clock.now()
    if changes.ends_at <= campaign.starts_at:
        problems.append(_l("The campaign must end after it starts."))
    elif changes.ends_at <= now and campaign.ends_at > now:
        problems.append(_l("Choose an end in the future; to end the campaign now, stop it."))
    problems += _check_limits(changes.unit_cap, changes.per_customer_limit,
                              changes.per_order_limit)
    if not problems and changes.unit_cap > campaign.unit_cap:
        taken = dict(db.session.execute(select(CampaignStore.store_id, CampaignStore.units_taken)
                                        .where(CampaignStore.campaign_id == campaign.id)).all())
        short = stores_short_of(chain, campaign.variant_id, campaign_targets(campaign),
                                lambda store_id: changes.unit_cap - taken.get(store_id, 0))
        if short:
            problems.append(_short_message(short))
    if problems:
        raise GroupError(" ".join(str(p) for p in problems))
    campaign.title = changes.title.strip()[:120] or campaign.title
    campaign.ends_at = changes.ends_at
    campaign.unit_cap = changes.unit_cap
    campaign.per_customer_limit = changes.per_customer_limit
    campaign.per_order_limit = changes.per_order_limit
    db.session.flush()
    renew_campaign_pages(campaign)
    log.info("campaign %s edited", campaign.id)
    return campaign


def stop_campaign(campaign: Campaign) -> bool:
    """Stop a campaign for good: no new group starts; the open ones run to their deadline.

    Open groups keep their promise: friends may still join through the shared
    link until the group's own deadline, and a group that does not fill is
    refunded by the worker as always. True when this call stopped it.
    """
    stopped = db.session.execute(
        update(Campaign).where(Campaign.id == campaign.id, Campaign.status == ACTIVE)
        .values(status=STOPPED).execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.expire(campaign)
    if stopped:
        renew_campaign_pages(campaign)
        log.info("campaign %s stopped", campaign.id)
    return stopped


def open_group_count(campaign: Campaign) -> int:
    return int(db.session.scalar(select(func.count(Group.id)).where(
        Group.campaign_id == campaign.id, Group.state.in_(G.ACTIVE))) or 0)


def _runs_in_clause(store):
    """SQL for "this campaign runs in ``store``": its own, or HQ's for all or chosen stores."""
    chosen = select(CampaignStore.campaign_id).where(
        CampaignStore.store_id == store.id, CampaignStore.chosen.is_(True))
    return (Campaign.chain_id == store.chain_id) & or_(
        Campaign.store_id == store.id,
        Campaign.store_id.is_(None) & (Campaign.all_stores.is_(True) | Campaign.id.in_(chosen)))


def store_campaigns(store, page: int = 1, per_page: int = 30) -> tuple[list[Campaign], bool]:
    """One page of the campaigns that run (or ran) in ``store``, newest first; and whether
    there are more. Filtered in SQL, so a chain with thousands of campaigns costs one page.
    """
    rows = list(db.session.scalars(
        select(Campaign).where(_runs_in_clause(store)).order_by(Campaign.id.desc())
        .offset((max(page, 1) - 1) * per_page).limit(per_page + 1)))
    return rows[:per_page], len(rows) > per_page


def campaign_runs_in(campaign: Campaign, store) -> bool:
    if campaign.chain_id != store.chain_id:
        return False
    if campaign.store_id is not None:
        return campaign.store_id == store.id
    if campaign.all_stores:
        return True
    return bool(db.session.scalar(select(CampaignStore.id).where(
        CampaignStore.campaign_id == campaign.id, CampaignStore.store_id == store.id,
        CampaignStore.chosen.is_(True))))


def _campaigns_in(store, product_id: int | None, now, upcoming: bool = False,
                  with_variant: bool = True):
    """Active campaigns of ``store`` running at ``now`` (also those still to come: ``upcoming``).

    The campaign's product comes with its variant (joined), but not its image gallery:
    nothing that lists campaigns shows it, and on the product page it was one more
    query per request (it still loads when something reads ``product.images``).
    The product page's slots read neither (``with_variant=False``): the page has
    its product already.
    """
    from sqlalchemy.orm import defaultload, lazyload

    from shopbuilder.models import Product

    chosen = select(CampaignStore.campaign_id).where(
        CampaignStore.store_id == store.id, CampaignStore.chosen.is_(True))
    if with_variant:
        load = defaultload(Campaign.variant).defaultload(Variant.product).lazyload(
            Product.images)
    else:
        load = lazyload(Campaign.variant)
    stmt = select(Campaign).options(load).where(
        Campaign.chain_id == store.chain_id, Campaign.status == "active",
        Campaign.ends_at > now,
        or_(Campaign.store_id == store.id,
            Campaign.store_id.is_(None) & (Campaign.all_stores.is_(True)
                                           | Campaign.id.in_(chosen))),
    ).order_by(Campaign.id)
    if not upcoming:
        stmt = stmt.where(Campaign.starts_at <= now)
    if product_id is not None:
        stmt = stmt.where(Campaign.product_id == product_id)
    return list(db.session.scalars(stmt))


def live_campaigns(store, product_id: int | None = None) -> list[Campaign]:
    """Campaigns running now in ``store`` (for one product, or all)."""
    return _campaigns_in(store, product_id, clock.now())


def product_campaigns(store, product_id: int):
    """``(live, next_start)``: the product's campaigns running now in ``store``, and when the
    next one still to come starts (None when none is scheduled), in one query.

    The product page needs both: a page cached before a campaign starts must be
    drawn again when it does (see ``views._product_context``).
    """
    now = clock.now()
    found = _campaigns_in(store, product_id, now, upcoming=True, with_variant=False)
    live = [c for c in found if c.starts_at <= now]
    next_start = min((c.starts_at for c in found if c.starts_at > now), default=None)
    return live, next_start


def single_price(store, campaign: Campaign) -> int:
    return cart_service.price_variant(store, campaign.variant).unit_price_fen


def price_for(campaign: Campaign, leader: bool) -> int:
    if leader and campaign.leader_price_fen is not None:
        return campaign.leader_price_fen
    return campaign.group_price_fen


def get_campaign(store, campaign_id: int) -> Campaign | None:
    """A campaign this store runs, or None (another store's or chain's: None, for a 404)."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or not campaign_runs_in(campaign, store):
        return None
    return campaign


def get_group(store, group_id: int) -> Group | None:
    """A group of this store, or None: a group is never reachable through another store."""
    group = db.session.scalar(select(Group).where(Group.id == group_id,
                                                  Group.store_id == store.id))
    return group


# -- reading groups ----------------------------------------------------------------------------


def shown_members(group: Group) -> list[GroupMember]:
    """Paid members, leader first (refunded and unpaid members are not shown)."""
    return shown_members_of([group])[group.id]


def shown_members_of(groups) -> dict[int, list[GroupMember]]:
    """``{group id: shown members}`` of several groups in one query (a page of open groups)."""
    return members_and_seats(groups)[0]


def members_and_seats(groups) -> tuple[dict[int, list[GroupMember]], set[int]]:
    """``({group id: shown members}, {customers holding a seat})`` of ``groups``, one query.

    A seat is held from joining (paying or paid) until the member leaves; the product
    page needs both answers for the same groups. The members' groups are already loaded
    (they were passed in), so the query does not join them again.
    """
    from sqlalchemy.orm import lazyload

    shown: dict[int, list[GroupMember]] = {group.id: [] for group in groups}
    seated: set[int] = set()
    if not shown:
        return shown, seated
    for member in db.session.scalars(
            select(GroupMember).options(lazyload(GroupMember.group))
            .where(GroupMember.group_id.in_(list(shown)),
                   or_(GroupMember.state.in_(M.SHOWN), GroupMember.seat_customer_id.is_not(None)))
            .order_by(GroupMember.group_id, GroupMember.is_leader.desc(), GroupMember.paid_at,
                      GroupMember.id)):
        if member.state in M.SHOWN:
            shown[member.group_id].append(member)
        if member.seat_customer_id is not None:
            seated.add(member.seat_customer_id)
    return shown, seated


def joinable_groups(store, campaign: Campaign, viewer_id: int | None = None, limit: int = 10):
    """Open groups of ``campaign`` in ``store`` with a free seat, closest to filling first.

    Their campaign is ``campaign`` (already loaded): not joined again, which would also
    load its product's pictures once more.
    """
    from sqlalchemy.orm import lazyload

    now = clock.now()
    stmt = (
        select(Group).options(lazyload(Group.campaign))
        .where(Group.store_id == store.id, Group.campaign_id == campaign.id,
               Group.state == G.OPEN, Group.expires_at > now, Group.seats_taken < Group.size)
        .order_by((Group.size - Group.paid_count), Group.expires_at).limit(limit)
    )
    if viewer_id is not None:
        mine = select(GroupMember.group_id).where(GroupMember.seat_customer_id == viewer_id)
        stmt = stmt.where(Group.id.not_in(mine))
    return list(db.session.scalars(stmt))


def seconds_left(group: Group) -> int:
    if group.expires_at is None:
        return 0
    return max(0, int((group.expires_at - clock.now()).total_seconds()))


def closed_reason(group: Group):
    """Why nobody can join ``group`` now, said to the customer; None while one can.

    A group whose deadline passed may still read ``open`` until the worker closes it
    (and a page drawn earlier, or kept in a cache, may still offer it): it is
    closed all the same.
    """
    if group.state == G.OPEN and seconds_left(group) > 0:
        return _l("This group is full.") if group.seats_taken >= group.size else None
    if group.state == G.FAILED or (group.state == G.OPEN and group.expires_at is not None):
        return _l("Time ran out for this group. You can start a new group instead.")
    if group.state == G.SUCCEEDED:
        return _l("The group is complete.")
    return _l("This group is closed.")


def member_for_order(order_id: int) -> GroupMember | None:
    return db.session.scalar(select(GroupMember).where(GroupMember.order_id == order_id))


def member_of(group: Group, customer_id: int | None) -> GroupMember | None:
    if customer_id is None:
        return None
    return db.session.scalar(select(GroupMember).where(
        GroupMember.group_id == group.id, GroupMember.customer_id == customer_id,
        GroupMember.state.in_(M.SEATED)).order_by(GroupMember.id.desc()))


def customer_units(campaign: Campaign, customer_id: int) -> int:
    """Units ``customer_id`` holds in ``campaign`` (in every store of the chain)."""
    return int(db.session.scalar(select(CampaignCustomer.units).where(
        CampaignCustomer.campaign_id == campaign.id,
        CampaignCustomer.customer_id == customer_id)) or 0)


# -- starting and joining: placing the order --------------------------------------------------


def _check_quantity(campaign: Campaign, customer, quantity: int) -> None:
    """Friendly refusals before the order is built; the counters decide for certain later."""
    if quantity < 1 or quantity > campaign.per_order_limit:
        raise GroupError(_l("You can buy %(n)s per order in this group-buy.",
                            n=campaign.per_order_limit))
    if customer_units(campaign, customer.id) + quantity > campaign.per_customer_limit:
        raise GroupError(_l("You can buy at most %(n)s in this group-buy.",
                            n=campaign.per_customer_limit))


def _check_can_start(campaign: Campaign, customer, quantity: int) -> None:
    now = clock.now()
    if campaign.status != ACTIVE or not campaign.starts_at <= now < campaign.ends_at:
        raise GroupError(_l("This group-buy is not running."))
    _check_quantity(campaign, customer, quantity)


def _check_can_join(group: Group, customer, quantity: int) -> None:
    """Joining needs an open group, not a running campaign: a group opened before the
    campaign ended or was stopped may still fill until its own deadline."""
    if group.state != G.OPEN or seconds_left(group) <= 0:
        raise GroupError(closed_reason(group))
    if member_of(group, customer.id) is not None:
        raise GroupError(_l("You are already in this group."))
    if group.seats_taken >= group.size:
        raise GroupError(_l("This group is full."))
    _check_quantity(group.campaign, customer, quantity)


def earlier_order(store, customer, idempotency_key: str | None, campaign: Campaign,
                  group: Group | None = None) -> Order | None:
    """The order a first try with this idempotency key placed, for a retry to answer with.

    Looked up before any limit or membership check: the first try made the
    customer a member and used up their limit, so checking first would refuse
    a double-clicked form or a retried API call instead of giving back its order.
    """
    existing = orders.find_by_key(store, idempotency_key)
    if existing is None:
        return None
    member = member_for_order(existing.id)
    if (existing.customer_id != customer.id or member is None
            or member.campaign_id != campaign.id
            or (group is not None and member.group_id != group.id)):
        raise GroupError(_l("This form was already used for another order; "
                            "reload the page and try again."))
    return existing


def group_cart(store, customer, campaign: Campaign, quantity: int, intent: dict):
    """A one-product checkout (``cart.buy_now``) that carries the group-buy intent."""
    try:
        cart = cart_service.buy_now(store, customer.id, campaign.variant_id, quantity)
    except cart_service.CartError as exc:
        raise GroupError(_l("Choose between 1 and %(n)s.", n=cart_service.MAX_QUANTITY)) \
            from exc
    cart.groupbuy = intent
    return cart


def intent_of(cart) -> dict | None:
    return getattr(cart, "groupbuy", None)


def _place(store, customer, campaign: Campaign, quantity: int, checkout, intent: dict,
           idempotency_key: str | None):
    cart = group_cart(store, customer, campaign, quantity, intent)
    info = db.session.info
    info[INTENT_KEY] = intent
    info.pop(REFUSAL_KEY, None)
    try:
        return orders.place_order(store, customer, cart, checkout,
                                  idempotency_key=idempotency_key)
    except orders.OrderError as exc:
        refusal = info.pop(REFUSAL_KEY, None)
        if refusal is not None:
            raise GroupError(refusal) from exc
        raise GroupError(str(exc)) from exc
    finally:
        info.pop(INTENT_KEY, None)


def start_group(store, customer, campaign: Campaign, checkout, quantity: int = 1,
                idempotency_key: str | None = None, ref: str | None = None) -> Order:
    """Place the leader's order; the group opens when it is paid.

    A retry with the same ``idempotency_key`` gets the first try's order back.
    """
    existing = earlier_order(store, customer, idempotency_key, campaign)
    if existing is not None:
        return existing
    _check_can_start(campaign, customer, quantity)
    intent = {"campaign_id": campaign.id, "group_id": None, "leader": True,
              "quantity": quantity, "ref": ref}
    return _place(store, customer, campaign, quantity, checkout, intent, idempotency_key)


def join_group(store, customer, group: Group, checkout, quantity: int = 1,
               idempotency_key: str | None = None, ref: str | None = None) -> Order:
    """Take a seat in ``group`` and place the order that pays for it (refused when full).

    A retry with the same ``idempotency_key`` gets the first try's order back.
    """
    if group.store_id != store.id:
        raise GroupError(_l("This group is closed."))
    campaign = group.campaign
    existing = earlier_order(store, customer, idempotency_key, campaign, group)
    if existing is not None:
        return existing
    _check_can_join(group, customer, quantity)
    intent = {"campaign_id": campaign.id, "group_id": group.id, "leader": False,
              "quantity": quantity, "ref": ref}
    return _place(store, customer, campaign, quantity, checkout, intent, idempotency_key)


def price_adjustment_fen(store, cart) -> int | None:
    """The group discount of a group-buy cart: (group price − single price) × quantity."""
    intent = intent_of(cart)
    if intent is None:
        return None
    campaign = db.session.get(Campaign, intent["campaign_id"])
    line = cart.lines[0]
    single = cart_service.price_variant(store, line.variant).unit_price_fen
    return (price_for(campaign, intent["leader"]) - single) * line.quantity


def validate(store, cart) -> list:
    """Refusals of a group-buy cart at checkout (the cart holds one line of the campaign)."""
    intent = intent_of(cart)
    if intent is None:
        return []
    if len(cart.lines) != 1 or cart.lines[0].quantity != intent["quantity"]:
        return [_l("A group-buy order holds one product.")]
    return []


def _refuse(message) -> None:
    db.session.info[REFUSAL_KEY] = message
    raise GroupError(message)


def _dialect_insert():
    return postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else \
        sqlite.insert


def _take_units(store, campaign: Campaign, quantity: int) -> bool:
    table = CampaignStore.__table__
    db.session.execute(
        _dialect_insert()(table)
        .values(chain_id=store.chain_id, store_id=store.id, campaign_id=campaign.id,
                chosen=False, units_taken=0)
        .on_conflict_do_nothing(index_elements=["campaign_id", "store_id"])
    )
    return db.session.execute(
        update(CampaignStore)
        .where(CampaignStore.campaign_id == campaign.id, CampaignStore.store_id == store.id,
               CampaignStore.units_taken + quantity <= campaign.unit_cap)
        .values(units_taken=CampaignStore.units_taken + quantity)
        .execution_options(synchronize_session=False)
    ).rowcount == 1


def _take_customer_units(store, campaign: Campaign, customer_id: int, quantity: int) -> bool:
    """The exact per-customer limit: one conditional UPDATE on the customer's counter row."""
    db.session.execute(
        _dialect_insert()(CampaignCustomer.__table__)
        .values(chain_id=store.chain_id, campaign_id=campaign.id, customer_id=customer_id,
                units=0)
        .on_conflict_do_nothing(index_elements=["campaign_id", "customer_id"])
    )
    return db.session.execute(
        update(CampaignCustomer)
        .where(CampaignCustomer.campaign_id == campaign.id,
               CampaignCustomer.customer_id == customer_id,
               CampaignCustomer.units + quantity <= campaign.per_customer_limit)
        .values(units=CampaignCustomer.units + quantity)
        .execution_options(synchronize_session=False)
    ).rowcount == 1


def _give_units(member: GroupMember) -> None:
    """Give a member's units back to the store's cap and to the customer's limit.

    Called exactly once per member: every caller first moved the member out of a
    state that holds units with a conditional UPDATE.
    """
    db.session.execute(
        update(CampaignCustomer)
        .where(CampaignCustomer.campaign_id == member.campaign_id,
               CampaignCustomer.customer_id == member.customer_id,
               CampaignCustomer.units >= member.quantity)
        .values(units=CampaignCustomer.units - member.quantity)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(CampaignStore)
        .where(CampaignStore.campaign_id == member.campaign_id,
               CampaignStore.store_id == member.store_id,
               CampaignStore.units_taken >= member.quantity)
        .values(units_taken=CampaignStore.units_taken - member.quantity)
        .execution_options(synchronize_session=False)
    )


def on_order_placed(store, order: Order) -> None:
    """Inside the order's transaction: take the units and the seat, or refuse the order."""
    intent = db.session.info.get(INTENT_KEY)
    if intent is None:
        return
    campaign = db.session.get(Campaign, intent["campaign_id"])
    quantity = int(intent["quantity"])
    now = clock.now()
    if not _take_units(store, campaign, quantity):
        _refuse(_l("This group-buy has sold out in this store."))
    if not _take_customer_units(store, campaign, order.customer_id, quantity):
        _refuse(_l("You can buy at most %(n)s in this group-buy.",
                   n=campaign.per_customer_limit))
    if intent["leader"]:
        group = Group(chain_id=store.chain_id, store_id=store.id, campaign_id=campaign.id,
                      state=G.PENDING, size=campaign.group_size, seats_taken=1,
                      leader_customer_id=order.customer_id)
        db.session.add(group)
        db.session.flush()
    else:
        group = db.session.get(Group, intent["group_id"])
        seated = db.session.execute(
            update(Group)
            .where(Group.id == group.id, Group.store_id == store.id, Group.state == G.OPEN,
                   Group.expires_at > now, Group.seats_taken < Group.size)
            .values(seats_taken=Group.seats_taken + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        if seated != 1:
            _refuse(_l("Sorry, this group just filled up or closed."))
        if db.session.scalar(select(GroupMember.id).where(
                GroupMember.group_id == group.id,
                GroupMember.seat_customer_id == order.customer_id)) is not None:
            _refuse(_l("You are already in this group."))
    hold_minutes = int(plugin_settings(NAME, store)["seat_hold_minutes"])
    hold_until = now + timedelta(minutes=hold_minutes)
    member = GroupMember(
        chain_id=store.chain_id, store_id=store.id, group_id=group.id, campaign_id=campaign.id,
        customer_id=order.customer_id, seat_customer_id=order.customer_id, order_id=order.id,
        quantity=quantity, unit_price_fen=price_for(campaign, intent["leader"]),
        is_leader=bool(intent["leader"]), state=M.RESERVED, ref=intent.get("ref"),
        hold_until=hold_until,
    )
    db.session.add(member)
    try:
        db.session.flush()
    except IntegrityError:
        # Two orders of one customer for one group raced past the check above.
        _refuse(_l("You are already in this group."))
    # The seat is held as long as the order may be paid: a shorter pay deadline.
    orders.schedule(order, "pay", hold_until)
    renew_store_pages(store.id)  # a seat fewer: a full group leaves the list to join


# -- payment: inside the payment's transaction -------------------------------------------------


def on_payment(order: Order) -> str | None:
    """Count the paying member (``shopbuilder_order_hold_after_payment``); return the hold.

    Runs in the payment's transaction, so the member's state and the group's
    counters move with the payment or not at all.
    """
    member = member_for_order(order.id)
    if member is None:
        return None
    now = clock.now()
    group = member.group
    campaign = group.campaign
    db.session.refresh(member, ["state"])
    counted = False
    if member.state == M.RESERVED:
        if member.is_leader:
            counted = db.session.execute(
                update(Group)
                .where(Group.id == group.id, Group.state == G.PENDING)
                .values(state=G.OPEN, paid_count=1, opened_at=now,
                        expires_at=now + timedelta(hours=campaign.fill_hours))
                .execution_options(synchronize_session=False)
            ).rowcount == 1
        else:
            counted = db.session.execute(
                update(Group)
                .where(Group.id == group.id, Group.state == G.OPEN, Group.expires_at > now,
                       Group.paid_count < Group.size)
                .values(paid_count=Group.paid_count + 1,
                        state=case((Group.paid_count + 1 >= Group.size, G.SUCCEEDED),
                                   else_=Group.state),
                        outcome=case((Group.paid_count + 1 >= Group.size, "filled"),
                                     else_=Group.outcome),
                        closed_at=case((Group.paid_count + 1 >= Group.size, now),
                                       else_=Group.closed_at))
                .execution_options(synchronize_session=False)
            ).rowcount == 1
    renew_store_pages(group.store_id)  # opened, one more member, or filled
    target = M.PAID if counted else M.REFUND_DUE
    values = {"state": target, "paid_at": now}
    if not counted:
        values["seat_customer_id"] = None
    db.session.execute(
        update(GroupMember).where(GroupMember.id == member.id,
                                  GroupMember.state.in_((M.RESERVED, M.CANCELLED)))
        .values(**values).execution_options(synchronize_session=False)
    )
    if not counted:
        log.info("group %s: payment for order %s came too late; refund due", group.id,
                 order.number)
    db.session.expire(member)
    db.session.expire(group)
    return HOLD_REASON


# -- after the commit: releasing, refunding ----------------------------------------------------


def settle_member(member: GroupMember) -> str:
    """Bring a member's order in line with its group; idempotent. Returns what it did.

    Called after payments, refunds and cancellations, and by the worker for
    whatever a crash left behind.
    """
    db.session.refresh(member)
    group = db.session.get(Group, member.group_id, populate_existing=True)
    order = db.session.get(Order, member.order_id, populate_existing=True)
    if member.state == M.REFUND_DUE:
        with orders.unit_of_work():
            if order.state in S.PAID_STATES:
                orders.refund(order, "system", reason=N_("The group was closed when you paid."))
            if _set_member(member, M.REFUND_DUE, M.REFUNDED):
                _give_units(member)
        return "refunded_late"
    if member.state == M.RESERVED and order.state in (S.PAID, S.AWAITING_GROUP):
        # The payment went through but its hold hook never ran (a crash, a failing
        # plugin): count it now, keep the order from fulfilment, then settle it.
        with orders.unit_of_work():
            reason = on_payment(order)
            db.session.refresh(order, ["state"])
            if reason and order.state == S.PAID:
                orders.hold(order, reason=reason)
        after_payment(order)
        return "counted_late"
    if member.state == M.RESERVED and order.state == S.CANCELLED:
        on_order_closed(order)
        return "seat_released"
    if member.state == M.PAID and order.state in (S.REFUNDED, S.CANCELLED):
        on_order_closed(order)
        return "left"
    if group.state == G.SUCCEEDED:
        if member.state == M.PAID:
            with orders.unit_of_work():
                if order.state == S.AWAITING_GROUP:
                    orders.release_hold(order, "system", N_("The group is complete."))
                _set_member(member, M.PAID, M.SUCCEEDED)
            return "released"
        if member.state == M.RESERVED and order.state == S.PENDING_PAYMENT:
            # Virtual completion counts paid members only; an unpaid seat lapses.
            orders.cancel(order, "system", N_("The group completed without you."))
            on_order_closed(order)
            return "cancelled"
    if group.state in (G.FAILED, G.CANCELLED):
        if member.state == M.PAID:
            with orders.unit_of_work():
                if order.state in S.PAID_STATES:
                    orders.refund(order, "system", reason=N_("The group did not fill in time."))
                _set_member(member, M.PAID, M.REFUNDED, free_seat=True)
                _give_units(member)
            return "refunded"
        if member.state == M.RESERVED and order.state == S.PENDING_PAYMENT:
            orders.cancel(order, "system", N_("The group closed."))
            on_order_closed(order)
            return "cancelled"
    return "nothing"


def _set_member(member: GroupMember, seen: str, to: str, free_seat: bool = False) -> bool:
    values = {"state": to}
    if free_seat or to not in M.SEATED:
        values["seat_customer_id"] = None
    done = db.session.execute(
        update(GroupMember).where(GroupMember.id == member.id, GroupMember.state == seen)
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount == 1
    if done:
        # Every member change (refunded, seat back, leadership passed) goes through here.
        renew_store_pages(member.store_id)
    db.session.expire(member)
    return done


def settle_group(group: Group) -> dict:
    """Settle every member of ``group`` one by one (one member's failure stops no other)."""
    done: dict = {}
    ids = list(db.session.scalars(select(GroupMember.id).where(
        GroupMember.group_id == group.id,
        GroupMember.state.in_((M.RESERVED, M.PAID, M.REFUND_DUE))).order_by(GroupMember.id)))
    for member_id in ids:
        try:
            outcome = settle_member(db.session.get(GroupMember, member_id))
        except Exception:
            db.session.rollback()
            log.exception("group %s: member %s not settled", group.id, member_id)
            outcome = "error"
        done[outcome] = done.get(outcome, 0) + 1
    return done


def after_payment(order: Order) -> None:
    """``shopbuilder_order_paid``: refund a late payment, or release a group that just filled."""
    member = member_for_order(order.id)
    if member is None:
        return
    if member.state == M.REFUND_DUE:
        settle_member(member)
        return
    group = db.session.get(Group, member.group_id, populate_existing=True)
    if group.state == G.SUCCEEDED:
        settle_group(group)


def on_order_closed(order: Order) -> None:
    """An order was cancelled unpaid or refunded in full: free its seat, pass leadership.

    ``shopbuilder_order_cancelled`` / ``shopbuilder_order_refunded`` (after the
    commit), and the worker when a hook never ran.
    """
    member = member_for_order(order.id)
    if member is None:
        return
    db.session.refresh(order, ["state"])
    if order.state not in (S.CANCELLED, S.REFUNDED):
        return
    with orders.unit_of_work():
        db.session.refresh(member)
        seen = member.state
        if seen == M.RESERVED:
            if not _set_member(member, M.RESERVED, M.CANCELLED):
                return
            _give_units(member)
            if member.is_leader:
                # The leader never paid: nobody else could see the group.
                db.session.execute(
                    update(Group).where(Group.id == member.group_id, Group.state == G.PENDING)
                    .values(state=G.CANCELLED, outcome="leader_unpaid", closed_at=clock.now(),
                            seats_taken=0)
                    .execution_options(synchronize_session=False))
            else:
                _free_seat(member.group_id, paid=False)
            return
        if seen in (M.PAID, M.SUCCEEDED) and order.state == S.REFUNDED:
            if not _set_member(member, seen, M.REFUNDED):
                return
            _give_units(member)
            if seen == M.PAID:
                left = _free_seat(member.group_id, paid=True)
                if left and member.is_leader:
                    _pass_leadership(member)
            return
        if seen == M.REFUND_DUE and order.state == S.REFUNDED:
            if _set_member(member, M.REFUND_DUE, M.REFUNDED):
                _give_units(member)


def _free_seat(group_id: int, paid: bool) -> bool:
    """Give a seat back to an open group; True when the group was still open."""
    values = {"seats_taken": Group.seats_taken - 1}
    if paid:
        values["paid_count"] = Group.paid_count - 1
    return db.session.execute(
        update(Group).where(Group.id == group_id, Group.state == G.OPEN, Group.seats_taken > 0)
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount == 1


def _pass_leadership(old: GroupMember) -> None:
    """The leader left an open group: the earliest paid member leads; nobody left: cancel."""
    group = db.session.get(Group, old.group_id, populate_existing=True)
    heir = db.session.scalar(
        select(GroupMember).where(GroupMember.group_id == group.id,
                                  GroupMember.state == M.PAID, GroupMember.id != old.id)
        .order_by(GroupMember.paid_at, GroupMember.id).limit(1))
    db.session.execute(
        update(GroupMember).where(GroupMember.id == old.id).values(is_leader=False)
        .execution_options(synchronize_session=False))
    if heir is not None:
        db.session.execute(
            update(GroupMember).where(GroupMember.id == heir.id).values(is_leader=True)
            .execution_options(synchronize_session=False))
        db.session.execute(
            update(Group).where(Group.id == group.id)
            .values(leader_customer_id=heir.customer_id)
            .execution_options(synchronize_session=False))
        log.info("group %s: leadership passed to member %s", group.id, heir.id)
        return
    db.session.execute(
        update(Group).where(Group.id == group.id, Group.state == G.OPEN)
        .values(state=G.CANCELLED, outcome="emptied", closed_at=clock.now(),
                leader_customer_id=None)
        .execution_options(synchronize_session=False))
    log.info("group %s: emptied and cancelled", group.id)
    # Unpaid seats of a cancelled group are cancelled by the worker (settle_group).


# -- time: expiry and the worker ---------------------------------------------------------------


def expire_group(group_id: int, now) -> str | None:
    """Close an open group whose time ran out: completes (virtual rule) or fails.

    One conditional UPDATE decides, so a payment racing the deadline either
    counted before it (and is part of the outcome) or finds the group closed
    (and is refunded).
    """
    with orders.unit_of_work():
        group = db.session.get(Group, group_id, populate_existing=True)
        needed = group.campaign.virtual_needed()
        changed = db.session.execute(
            update(Group)
            .where(Group.id == group_id, Group.state == G.OPEN, Group.expires_at <= now)
            .values(state=case((Group.paid_count >= needed, G.SUCCEEDED), else_=G.FAILED),
                    outcome=case((Group.paid_count >= needed, "virtual"), else_="expired"),
                    closed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.refresh(group)
        state = group.state if changed else None
        if changed:
            renew_store_pages(group.store_id)
    if changed:
        log.info("group %s expired: %s", group_id, state)
    return state


def tick(now) -> dict:
    """Expire due groups and settle every member a crash or a lost hook left behind.

    Runs for every store, enabled or not: money already taken must end in a
    place or a refund even where the plugin was switched off since.
    """
    counts: dict = {}

    def count(key, n=1):
        counts[key] = counts.get(key, 0) + n

    due = list(db.session.scalars(select(Group.id).where(
        Group.state == G.OPEN, Group.expires_at <= now).order_by(Group.expires_at).limit(500)))
    db.session.rollback()
    for group_id in due:
        try:
            state = expire_group(group_id, now)
        except Exception:
            db.session.rollback()
            log.exception("group %s not expired", group_id)
            continue
        if state:
            count(state)
    # Members whose group or order moved on without them.
    stale = list(db.session.execute(
        select(GroupMember.id).join(Group, Group.id == GroupMember.group_id)
        .join(Order, Order.id == GroupMember.order_id)
        .where(or_(
            GroupMember.state == M.REFUND_DUE,
            (GroupMember.state == M.PAID) & Group.state.in_(G.ENDS),
            (GroupMember.state == M.RESERVED) & (Group.state.in_(G.ENDS)
                                                  | Order.state.in_((S.CANCELLED, S.PAID,
                                                                     S.AWAITING_GROUP))),
            (GroupMember.state == M.PAID) & Order.state.in_((S.REFUNDED, S.CANCELLED)),
        ))
        .order_by(GroupMember.id).limit(2000)).scalars())
    db.session.rollback()
    for member_id in stale:
        try:
            outcome = settle_member(db.session.get(GroupMember, member_id))
        except Exception:
            db.session.rollback()
            log.exception("member %s not settled", member_id)
            outcome = "error"
        count(outcome)
    db.session.commit()
    return counts


# -- reports -----------------------------------------------------------------------------------


def report_rows(chain, by: str = "campaign", store_id: int | None = None, keys=None,
                limit: int | None = None, offset: int = 0):
    """Groups opened, filled, failed, fill rate and sales, per campaign or per store.

    ``opened`` counts groups whose leader paid; sales are what succeeded members paid.
    ``keys`` narrows to some campaigns (or stores); ``limit``/``offset`` page the rows,
    most groups opened first, so a chain of many stores reads one page at a time.
    """
    key = Group.campaign_id if by == "campaign" else Group.store_id
    opened = func.sum(case((Group.state.in_((G.OPEN, G.SUCCEEDED, G.FAILED))
                           | (Group.outcome == "emptied"), 1), else_=0))
    filled = func.sum(case((Group.state == G.SUCCEEDED, 1), else_=0))
    failed = func.sum(case((Group.state == G.FAILED, 1), else_=0))
    stmt = (select(key, opened, filled, failed).where(Group.chain_id == chain.id)
            .group_by(key).order_by(opened.desc(), key))
    if store_id is not None:
        stmt = stmt.where(Group.store_id == store_id)
    if keys is not None:
        stmt = stmt.where(key.in_(list(keys)))
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    counted = db.session.execute(stmt).all()
    sales_key = GroupMember.campaign_id if by == "campaign" else GroupMember.store_id
    sales_stmt = (select(sales_key,
                         func.sum(GroupMember.unit_price_fen * GroupMember.quantity),
                         func.sum(GroupMember.quantity))
                  .where(GroupMember.chain_id == chain.id, GroupMember.state == M.SUCCEEDED,
                         sales_key.in_([k for k, *_rest in counted]))
                  .group_by(sales_key))
    if store_id is not None:
        sales_stmt = sales_stmt.where(GroupMember.store_id == store_id)
    sales = {k: (int(s or 0), int(q or 0)) for k, s, q in db.session.execute(sales_stmt)}
    rows = []
    for k, o, f, x in counted:
        o, f, x = int(o or 0), int(f or 0), int(x or 0)
        fen, units = sales.get(k, (0, 0))
        rows.append({"key": k, "opened": o, "filled": f, "failed": x,
                     "fill_rate": (f / o) if o else None, "sales_fen": fen, "units": units})
    return rows


def commission_allowed(order) -> bool | None:
    """False when ``order`` is a group order of a campaign that earns no commission."""
    order_id = getattr(order, "id", None)
    if not isinstance(order_id, int):
        return None
    member = member_for_order(order_id)
    if member is None:
        return None
    campaign = db.session.get(Campaign, member.campaign_id)
    return None if campaign.commission_allowed else False
