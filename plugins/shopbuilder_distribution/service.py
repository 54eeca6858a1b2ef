"""Distribution rules: joining, binding, commission arithmetic, settlement and payouts.

Money is integer fen throughout; every rounding is one floor over exact
integers (``docs/distribution.md``, Rounding). Commission reaches two levels,
the distributor who brought the customer and the distributor who recruited
them, and never a third: :func:`earners` is the only place that walks up the
recruitment tree and it reads ``parent`` once, never ``parent.parent``.

Balances change only through conditional UPDATEs (``balance_fen >= amount``,
``state = 'pending'``), so two processes racing for the same money cannot
both get it.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, event, func, or_, select, update
from sqlalchemy.orm import Session

from shopbuilder import clock, settings, tenancy
from shopbuilder.extensions import cache, db
from shopbuilder.models import Chain, Order, OrderLine, Variant
from shopbuilder.plugins import store_hook
from shopbuilder.services import ledger
from shopbuilder.services.storefront_catalogue import forget_after_commit

from .models import (
    Binding,
    Commission,
    CommissionState,
    Distributor,
    DistributorStatus,
    Grade,
    ProductCommission,
    Withdrawal,
    WithdrawalState,
)

log = logging.getLogger(__name__)

NAME = "distribution"
NAMESPACE = f"plugin:{NAME}"
BASIS_POINTS = 10_000
#: Levels of commission, fixed by law (《禁止传销条例》): the seller and their recruiter.
MAX_LEVELS = 2
PAYOUT_KIND = "payout"
PAYOUTS = "payouts"
PAYOUT_FEES = "payout_fees"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
#: Rows one tick step handles at most; the next tick takes the rest.
BATCH = 500

JOIN_POLICIES = ("open", "approval", "spend")
BINDING_MODES = ("first_touch", "last_touch", "permanent")

#: Chain-wide settings (HQ decides; binding is per chain, so stores cannot differ).
DEFAULTS = {
    "join_policy": "approval",
    "join_min_spend_fen": 0,
    "binding_mode": "first_touch",
    "protection_days": 30,
    "self_purchase": False,
    "freeze_days": 0,
    "withdraw_min_fen": 1000,
    "withdraw_fee_bp": 0,
}


class DistributionError(ValueError):
    """A request the rules refuse; the message is for the person who asked."""


# -- settings -----------------------------------------------------------------------------------


def chain_settings(chain) -> dict:
    return settings.chain_resolve(chain, NAMESPACE, DEFAULTS)


def save_chain_settings(chain, new_values: dict) -> None:
    """HQ saved the form: keep only what differs from ``DEFAULTS``, so the rest follows them."""
    settings.save_chain_values(chain, NAMESPACE, new_values, DEFAULTS)


def chain_scope(chain_id: int):
    """Distribution rows belong to the chain: work on them chain-wide, whichever store asks."""
    return tenancy.scope(tenancy.TenantScope(chain_id, None))


# -- arithmetic (pure functions, unit-tested) ---------------------------------------------------


def paid_goods_fen(goods_fen: int, delivery_fen: int, total_fen: int) -> int:
    """What the customer paid for the goods: after discounts, without delivery, never < 0."""
    return max(0, min(goods_fen, total_fen - delivery_fen))


@dataclass(frozen=True)
class Line:
    product_id: int
    quantity: int
    line_total_fen: int


def commission_fen(lines: list[Line], goods_fen: int, paid_goods: int, rate_bp: int,
                   fixed: dict[int, int]) -> int:
    """Commission on one order at one level.

    Lines of products with a fixed commission earn ``fixed × quantity``, but never
    more than that line's share of what was paid; the other lines earn
    ``rate_bp`` of their share of the paid goods, as one floor:
    ``Σ rated line totals × paid_goods × rate_bp // (goods_fen × 10000)``.
    """
    if goods_fen <= 0 or paid_goods <= 0:
        return 0
    rated = 0
    total = 0
    for line in lines:
        if line.product_id in fixed:
            share = line.line_total_fen * paid_goods // goods_fen
            total += min(fixed[line.product_id] * line.quantity, share)
        else:
            rated += line.line_total_fen
    total += rated * paid_goods * rate_bp // (goods_fen * BASIS_POINTS)
    return total


def scaled_fen(amount_fen: int, part_fen: int, whole_fen: int) -> int:
    """``amount × part / whole`` rounded down (a partial refund shrinks a commission)."""
    if whole_fen <= 0 or part_fen >= whole_fen:
        return amount_fen if part_fen >= whole_fen else 0
    return amount_fen * max(0, part_fen) // whole_fen


def mask_name(name: str) -> str:
    """王小明 → 王*明, 王明 → 王*, Alice → A***e: enough to recognise, not to identify."""
    name = (name or "").strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


# -- distributors ---------------------------------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


def get_distributor(chain_id: int, distributor_id: int) -> Distributor | None:
    with chain_scope(chain_id):
        row = db.session.get(Distributor, distributor_id)
    return row if row is not None and row.chain_id == chain_id else None


def distributor_of(chain_id: int, customer_id: int | None) -> Distributor | None:
    if customer_id is None:
        return None
    with chain_scope(chain_id):
        return db.session.scalar(select(Distributor).where(
            Distributor.chain_id == chain_id, Distributor.customer_id == customer_id))


def share_code(chain_id: int, customer_id: int) -> str | None:
    """The customer's code while they are an active distributor of the chain, else None.

    The share bar asks on every page a signed-in customer opens, so the answer is
    kept in the cache (``CATALOGUE_CACHE_SECONDS`` at most) and forgotten after any
    commit that writes the customer's distributor row (``forget_after_commit``).
    With Redis every process forgets at once; with the in-process cache another
    worker may show or hide the bar up to that long after a decision, as it may
    show a page. Commissions never read it: they check the row at payment.
    """
    key = _share_code_key(chain_id, customer_id)
    code = cache.get(key)
    if code is None:
        row = distributor_of(chain_id, customer_id)
        code = row.code if row is not None and row.status == DistributorStatus.ACTIVE else ""
        cache.set(key, code, timeout=current_app.config.get("CATALOGUE_CACHE_SECONDS", 60))
    return code or None


def _share_code_key(chain_id: int, customer_id: int) -> str:
    return f"distribution:share-code:{chain_id}:{customer_id}"


def _note_share_code_change(session, distributor: Distributor) -> None:
    forget_after_commit(session, _share_code_key(distributor.chain_id, distributor.customer_id))


@event.listens_for(Session, "after_flush")
def _collect_share_code_changes(session, flush_context):
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Distributor):
            _note_share_code_change(session, obj)


def by_code(chain_id: int, code: str) -> Distributor | None:
    code = (code or "").strip().upper()[:16]
    if not code:
        return None
    with chain_scope(chain_id):
        return db.session.scalar(select(Distributor).where(
            Distributor.chain_id == chain_id, Distributor.code == code,
            Distributor.status == DistributorStatus.ACTIVE))


def customer_spent_fen(chain_id: int, customer_id: int) -> int:
    """What the customer paid and kept across the chain's stores (for the spend policy)."""
    with chain_scope(chain_id):
        value = db.session.scalar(
            select(func.coalesce(func.sum(Order.paid_fen - Order.refunded_fen), 0)).where(
                Order.chain_id == chain_id, Order.customer_id == customer_id,
                Order.paid_fen > 0))
    return int(value or 0)


def default_grade(chain_id: int) -> Grade | None:
    with chain_scope(chain_id):
        return db.session.scalar(select(Grade).where(Grade.chain_id == chain_id)
                                 .order_by(Grade.position, Grade.id).limit(1))


def apply(chain, customer, store=None, note: str = "") -> Distributor:
    """The customer asks to become a distributor; the chain's join policy decides how.

    ``open``: active at once. ``approval``: pending until HQ or the store decides.
    ``spend``: active at once when the customer has paid at least the set amount,
    refused otherwise. The recruiter (level 2) is the distributor the customer is
    bound to at this moment, if any.
    """
    policy = chain_settings(chain)
    with chain_scope(chain.id):
        existing = distributor_of(chain.id, customer.id)
        if existing is not None and existing.status != DistributorStatus.REJECTED:
            return existing
        if policy["join_policy"] == "spend":
            needed = int(policy["join_min_spend_fen"] or 0)
            if customer_spent_fen(chain.id, customer.id) < needed:
                raise DistributionError(_l("Distributors must first have spent the amount "
                                           "the shop sets."))
        status = (DistributorStatus.PENDING if policy["join_policy"] == "approval"
                  else DistributorStatus.ACTIVE)
        binding = active_binding(chain.id, customer.id)
        parent_id = binding.distributor_id if binding is not None else None
        grade = default_grade(chain.id)
        row = existing or Distributor(chain_id=chain.id, customer_id=customer.id, code=new_code())
        row.status = status
        row.parent_id = parent_id if parent_id != row.id else None
        row.grade_id = row.grade_id or (grade.id if grade else None)
        row.store_id = store.id if store is not None else row.store_id
        row.note = (note or "")[:255]
        if status == DistributorStatus.ACTIVE:
            row.decided_at, row.decided_by = clock.now(), "policy"
        db.session.add(row)
        db.session.flush()
        # A customer bound to someone who now joins under them keeps that binding
        # only as the recruiter link: their own purchases are theirs (self_purchase).
        return row


def decide(distributor: Distributor, approve: bool, actor: str) -> bool:
    """Approve or reject a pending application; False when someone already decided."""
    new = DistributorStatus.ACTIVE if approve else DistributorStatus.REJECTED
    with chain_scope(distributor.chain_id):
        done = db.session.execute(
            update(Distributor)
            .where(Distributor.id == distributor.id,
                   Distributor.status == DistributorStatus.PENDING)
            .values(status=new, decided_at=clock.now(), decided_by=actor[:64])
            .execution_options(synchronize_session=False)
        ).rowcount == 1
        _note_share_code_change(db.session, distributor)
        db.session.expire(distributor)
    return done


def set_status(distributor: Distributor, status: str, grade_id: int | None = None) -> None:
    distributor.status = status
    if grade_id is not None:
        distributor.grade_id = grade_id


# -- binding --------------------------------------------------------------------------------------


def active_binding(chain_id: int, customer_id: int, now=None) -> Binding | None:
    now = now or clock.now()
    with chain_scope(chain_id):
        row = db.session.scalar(select(Binding).where(
            Binding.chain_id == chain_id, Binding.customer_id == customer_id))
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return None
    return row


def bind(chain, customer_id: int, code: str, store=None, now=None) -> Binding | None:
    """Bind a customer who arrived through ``code``'s link, by the chain's binding mode.

    ``first_touch``: the first distributor keeps the customer for the protection
    period; a link of another one changes nothing until it runs out.
    ``last_touch``: the latest link wins and restarts the period.
    ``permanent``: the first distributor keeps the customer for good.
    Codes are looked up in ``chain`` only, so a link never binds across chains,
    and nobody is bound to themselves.
    """
    now = now or clock.now()
    distributor = by_code(chain.id, code)
    if distributor is None or distributor.customer_id == customer_id:
        return None
    policy = chain_settings(chain)
    mode = policy["binding_mode"]
    expires = None if mode == "permanent" else now + timedelta(
        days=max(1, int(policy["protection_days"] or 30)))
    with chain_scope(chain.id):
        row = db.session.scalar(select(Binding).where(
            Binding.chain_id == chain.id, Binding.customer_id == customer_id))
        live = row is not None and (row.expires_at is None or row.expires_at > now)
        if live and (mode != "last_touch" or row.distributor_id == distributor.id):
            if mode == "last_touch":
                row.expires_at = expires  # the same distributor's link renews the period
            return row
        if row is None:
            row = Binding(chain_id=chain.id, customer_id=customer_id)
            db.session.add(row)
        row.distributor_id = distributor.id
        row.bound_at = now
        row.expires_at = expires
        row.store_id = store.id if store is not None else None
        try:
            with db.session.begin_nested():
                db.session.flush()
        except Exception:  # another request bound the same customer first: theirs stands
            log.info("binding of customer %s raced; keeping the other", customer_id)
            return active_binding(chain.id, customer_id, now)
        return row


# -- commissions ----------------------------------------------------------------------------------


def earners(order: Order, now=None) -> list[tuple[int, Distributor]]:
    """``[(level, distributor)]`` who earn on ``order``: at most two, by construction."""
    chain = db.session.get(Chain, order.chain_id)
    policy = chain_settings(chain)
    first = None
    own = distributor_of(order.chain_id, order.customer_id)
    if own is not None and own.status == DistributorStatus.ACTIVE and policy["self_purchase"]:
        first = own
    elif order.customer_id is not None:
        binding = active_binding(order.chain_id, order.customer_id, now or order.paid_at)
        if binding is not None:
            candidate = get_distributor(order.chain_id, binding.distributor_id)
            if candidate is not None and candidate.status == DistributorStatus.ACTIVE:
                first = candidate
    if first is None:
        return []
    result = [(1, first)]
    if first.parent_id is not None:
        parent = get_distributor(order.chain_id, first.parent_id)
        if (parent is not None and parent.status == DistributorStatus.ACTIVE
                and parent.id != first.id
                and (policy["self_purchase"] or parent.customer_id != order.customer_id)):
            result.append((2, parent))
    return result[:MAX_LEVELS]


def order_lines(order: Order) -> list[Line]:
    rows = db.session.execute(
        select(Variant.product_id, OrderLine.quantity, OrderLine.line_total_fen)
        .join(Variant, Variant.id == OrderLine.variant_id)
        .where(OrderLine.order_id == order.id)
    ).all()
    return [Line(int(p), int(q), int(t)) for p, q, t in rows]


def fixed_commissions(chain_id: int, product_ids, level: int) -> dict[int, int]:
    ids = list(set(product_ids))
    if not ids:
        return {}
    rows = db.session.scalars(select(ProductCommission).where(
        ProductCommission.chain_id == chain_id, ProductCommission.product_id.in_(ids)))
    return {r.product_id: (r.fixed_fen if level == 1 else r.second_fixed_fen) for r in rows}


def commission_allowed(order: Order) -> bool:
    """Ask the other plugins (group-buy) whether this order may earn commission."""
    answer = store_hook("shopbuilder_order_commission_allowed", order.store)(order=order)
    return answer is not False


def on_order_paid(order: Order) -> list[Commission]:
    """Create the order's commissions, frozen (idempotent: one row per order and level)."""
    with chain_scope(order.chain_id):
        existing = list(db.session.scalars(select(Commission).where(
            Commission.order_id == order.id)))
        if existing:
            return existing
        if not commission_allowed(order):
            log.info("order %s earns no commission (a plugin said no)", order.number)
            return []
        who = earners(order)
        if not who:
            return []
        lines = order_lines(order)
        paid_goods = paid_goods_fen(order.goods_fen, order.delivery_fen, order.total_fen)
        rows = []
        for level, distributor in who:
            grade = distributor.grade
            rate = 0 if grade is None else (grade.rate_bp if level == 1 else grade.second_rate_bp)
            fixed = fixed_commissions(order.chain_id, [ln.product_id for ln in lines], level)
            amount = commission_fen(lines, order.goods_fen, paid_goods, rate, fixed)
            rows.append(Commission(
                chain_id=order.chain_id, store_id=order.store_id, order_id=order.id,
                order_number=order.number, distributor_id=distributor.id, level=level,
                base_fen=paid_goods, amount_fen=amount, full_fen=amount,
                state=CommissionState.FROZEN))
        try:
            with db.session.begin_nested():
                db.session.add_all(rows)
                db.session.flush()
        except Exception:  # the same payment event handled twice at once
            log.info("commissions for order %s already written", order.number)
            return list(db.session.scalars(select(Commission).where(
                Commission.order_id == order.id)))
        db.session.commit()
        return rows


def _commissions(order: Order, states) -> list[Commission]:
    return list(db.session.scalars(select(Commission).where(
        Commission.order_id == order.id, Commission.state.in_(states)
    ).order_by(Commission.level)))


def settlement_splits(order: Order, amount_fen: int) -> list[tuple[str, int, str]]:
    """The ledger settles ``amount_fen`` of ``order``: each frozen commission's share of it.

    A commission shrinks in proportion when part of the order was refunded before
    settlement; together they never exceed the goods part left after HQ's royalty.
    """
    with chain_scope(order.chain_id):
        rows = _commissions(order, (CommissionState.FROZEN,))
        if not rows:
            return []
        chain = db.session.get(Chain, order.chain_id)
        goods = min(order.goods_fen, order.total_fen)
        goods_part = amount_fen * goods // order.total_fen if order.total_fen else 0
        room = max(0, goods_part - ledger.royalty_fen(order, amount_fen, chain.royalty_bp))
        lines = []
        for row in rows:
            share = min(scaled_fen(row.full_fen, amount_fen, order.paid_fen or order.total_fen),
                        room)
            room -= share
            if share > 0:
                memo = f"level {row.level} commission on order {order.number}"
                lines.append((f"{ledger.COMMISSION_PREFIX}{row.distributor_id}", share, memo))
        return lines


def _ledger_net(order_id: int, chain_id: int, distributor_id: int) -> int:
    """What the ledger holds for a distributor on one order: credits less clawbacks."""
    return ledger.account_net(chain_id, f"{ledger.COMMISSION_PREFIX}{distributor_id}", order_id)


def _level_net(order: Order, row: Commission) -> int:
    """What the ledger credited this commission for the order, less clawbacks.

    Both levels may be the same person only in theory (a distributor is never
    their own recruiter), so the account's order total is this commission's.
    """
    return _ledger_net(order.id, order.chain_id, row.distributor_id)


def _move_balance(distributor_id: int, delta: int) -> None:
    if delta:
        db.session.execute(
            update(Distributor).where(Distributor.id == distributor_id)
            .values(balance_fen=Distributor.balance_fen + delta)
            .execution_options(synchronize_session=False))


def on_order_refunded(order: Order) -> None:
    """The refund hook (stores with the plugin on): follow the refund at once."""
    with chain_scope(order.chain_id):
        seen = order.refunded_fen or 0
        for row in _commissions(order, (CommissionState.FROZEN, CommissionState.SETTLED,
                                        CommissionState.AVAILABLE)):
            follow_refund(order, row, seen)
        db.session.commit()


def follow_refund(order: Order, row: Commission, refunded_fen: int) -> None:
    """Make one commission follow the money left on its order; the hook and the tick share it.

    Before settlement nothing is in the ledger yet: the frozen amount follows the
    money kept on the order and a full refund cancels it. After settlement the
    ledger took the commission's share of the refund back from the distributor's
    account, whichever plugins the store has on; the commission's net and, once
    credited, the balance follow the ledger, and the balance may go below zero.

    ``refunded_fen`` must be read before the ledger is (see :func:`_reconcile`).
    """
    if row.state == CommissionState.FROZEN:
        if order.settled_at is not None:
            return  # the tick moves it to settled with what the ledger credited
        kept = (order.paid_fen or 0) - refunded_fen
        if kept <= 0:
            row.state, row.amount_fen = CommissionState.CANCELLED, 0
        else:
            row.amount_fen = scaled_fen(row.full_fen, kept, order.paid_fen)
        row.refund_seen_fen = refunded_fen
    elif row.state in (CommissionState.SETTLED, CommissionState.AVAILABLE):
        _reconcile(order, row, refunded_fen)


def _reconcile(order: Order, row: Commission, refunded_fen: int) -> None:
    """Make a settled commission (and, once credited, the balance) follow the ledger's net.

    Guarded by the state and net we read: when the tick makes it available at the
    same moment, our update matches nothing and we read again, so a clawback is
    never lost between "settled" and "available". ``refunded_fen`` was read before
    the ledger: a refund committed in between leaves ``refund_seen_fen`` behind the
    order, so the next tick looks again (never the other way round, which would
    hide a clawback).
    """
    for _attempt in range(3):
        net = _level_net(order, row)
        credited_ok = row.state != CommissionState.AVAILABLE or row.credited_fen == net
        if net == row.net_fen and credited_ok and row.refund_seen_fen == refunded_fen:
            return
        values = {"net_fen": net, "refund_seen_fen": refunded_fen}
        if row.state == CommissionState.AVAILABLE:
            values["credited_fen"] = net
        done = db.session.execute(
            update(Commission).where(Commission.id == row.id,
                                     Commission.net_fen == row.net_fen,
                                     Commission.credited_fen == row.credited_fen,
                                     Commission.state == row.state)
            .values(**values).execution_options(synchronize_session=False)).rowcount == 1
        if done:
            if row.state == CommissionState.AVAILABLE:
                _move_balance(row.distributor_id, net - row.credited_fen)
            db.session.expire(row)
            return
        db.session.expire(row)
        db.session.refresh(row)
    log.warning("commission %s kept changing while a refund was applied", row.id)


def on_order_closed(order: Order) -> None:
    """Cancelled before payment or refunded in full before settlement: nothing is earned."""
    with chain_scope(order.chain_id):
        if order.settled_at is None:
            for row in _commissions(order, (CommissionState.FROZEN,)):
                row.state, row.amount_fen = CommissionState.CANCELLED, 0
        db.session.commit()


def tick(now) -> dict:
    """The worker's distribution work, for every store whether the plugin is on there or not.

    Settled orders' commissions become settled; commissions of orders refunded
    since they last looked follow the refund (the refund hook reaches only stores
    with the plugin on, the ledger's clawback happens everywhere); settled ones
    become available after the chain's freeze days.
    """
    counts = {"settled": 0, "available": 0, "cancelled": 0, "reconciled": 0}
    with tenancy.unscoped():
        _settle_frozen(counts)
        _follow_refunds(counts)
        _make_available(now, counts)
    return {k: v for k, v in counts.items() if v}


def _settle_frozen(counts: dict) -> None:
    frozen = db.session.execute(
        select(Commission.id, Order.id, Order.settled_at, Order.chain_id, Order.refunded_fen)
        .join(Order, Order.id == Commission.order_id)
        .where(Commission.state == CommissionState.FROZEN, Order.settled_at.is_not(None))
        .limit(BATCH)).all()
    freeze = {}
    for commission_id, order_id, settled_at, chain_id, refunded in frozen:
        if chain_id not in freeze:
            freeze[chain_id] = int(chain_settings(db.session.get(Chain, chain_id))
                                   ["freeze_days"] or 0)
        row = db.session.get(Commission, commission_id)
        # ``refunded`` was read (in the select) before the ledger: see _reconcile.
        net = _ledger_net(order_id, chain_id, row.distributor_id)
        state = CommissionState.SETTLED if net > 0 else CommissionState.CANCELLED
        done = db.session.execute(
            update(Commission).where(Commission.id == commission_id,
                                     Commission.state == CommissionState.FROZEN)
            .values(state=state, net_fen=max(net, 0), settled_at=settled_at,
                    refund_seen_fen=refunded or 0,
                    available_at=settled_at + timedelta(days=freeze[chain_id]))
            .execution_options(synchronize_session=False)).rowcount
        counts["settled" if state == CommissionState.SETTLED else "cancelled"] += done
    db.session.commit()


def _follow_refunds(counts: dict) -> None:
    """Commissions whose order's refunded amount changed since they last followed it."""
    changed = db.session.execute(
        select(Commission.id, Order.id, Order.refunded_fen)
        .join(Order, Order.id == Commission.order_id)
        .where(Commission.state.in_((CommissionState.FROZEN, CommissionState.SETTLED,
                                     CommissionState.AVAILABLE)),
               Order.refunded_fen != Commission.refund_seen_fen,
               # Frozen on a settled order: _settle_frozen takes it.
               or_(Commission.state != CommissionState.FROZEN, Order.settled_at.is_(None)))
        .limit(BATCH)).all()
    for commission_id, order_id, refunded in changed:
        order = db.session.get(Order, order_id)
        row = db.session.get(Commission, commission_id)
        follow_refund(order, row, refunded or 0)
        db.session.commit()
        counts["reconciled"] += 1


def _make_available(now, counts: dict) -> None:
    due = db.session.scalars(select(Commission.id).where(
        Commission.state == CommissionState.SETTLED, Commission.available_at <= now)
        .limit(BATCH)).all()
    for commission_id in due:
        row = db.session.get(Commission, commission_id)
        net = row.net_fen
        done = db.session.execute(
            update(Commission).where(Commission.id == commission_id,
                                     Commission.state == CommissionState.SETTLED,
                                     Commission.net_fen == net)
            .values(state=CommissionState.AVAILABLE, credited_fen=net)
            .execution_options(synchronize_session=False)).rowcount == 1
        if done:
            # A negative balance (an earlier clawback) is repaid first, simply by adding.
            _move_balance(row.distributor_id, net)
            counts["available"] += 1
        db.session.commit()


# -- payouts --------------------------------------------------------------------------------------


def withdrawal_fee(chain, amount_fen: int) -> int:
    """The chain's fee in basis points, rounded down (in the distributor's favour)."""
    return amount_fen * int(chain_settings(chain)["withdraw_fee_bp"] or 0) // BASIS_POINTS


def request_withdrawal(distributor: Distributor, amount_fen: int) -> Withdrawal:
    """Reserve ``amount_fen`` of the balance for a payout, or refuse; commits.

    The balance is taken by ``UPDATE … SET balance = balance − amount WHERE
    balance >= amount``: of two requests for the whole balance, exactly one
    matches a row.
    """
    chain = db.session.get(Chain, distributor.chain_id)
    policy = chain_settings(chain)
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise DistributionError(_l("Enter an amount to withdraw."))
    if amount_fen < int(policy["withdraw_min_fen"] or 0):
        raise DistributionError(_l("The amount is below the minimum withdrawal."))
    if distributor.status not in (DistributorStatus.ACTIVE, DistributorStatus.SUSPENDED):
        raise DistributionError(_l("Only distributors can withdraw."))
    fee = withdrawal_fee(chain, amount_fen)
    with chain_scope(distributor.chain_id):
        taken = db.session.execute(
            update(Distributor)
            .where(Distributor.id == distributor.id, Distributor.balance_fen >= amount_fen)
            .values(balance_fen=Distributor.balance_fen - amount_fen)
            .execution_options(synchronize_session=False)).rowcount == 1
        if not taken:
            db.session.rollback()
            raise DistributionError(_l("The amount is more than your withdrawable balance."))
        row = Withdrawal(chain_id=distributor.chain_id, distributor_id=distributor.id,
                         amount_fen=amount_fen, fee_fen=fee, state=WithdrawalState.PENDING)
        db.session.add(row)
        db.session.commit()
        return row


def decide_withdrawal(withdrawal: Withdrawal, approve: bool, actor: str,
                      reference: str = "") -> bool:
    """HQ paid the distributor offline (``reference``) or refused; False if already decided.

    Paying posts ``commission:<id>`` → ``payouts`` (and the fee to ``payout_fees``);
    refusing gives the amount back to the balance.
    """
    reference = (reference or "").strip()[:120]
    if approve and not reference:
        raise DistributionError(_l("Enter the payment reference."))
    new = WithdrawalState.PAID if approve else WithdrawalState.REJECTED
    with chain_scope(withdrawal.chain_id):
        done = db.session.execute(
            update(Withdrawal)
            .where(Withdrawal.id == withdrawal.id, Withdrawal.state == WithdrawalState.PENDING)
            .values(state=new, reference=reference, decided_at=clock.now(),
                    decided_by=actor[:64])
            .execution_options(synchronize_session=False)).rowcount == 1
        if not done:
            db.session.rollback()
            return False
        if approve:
            ledger.post(withdrawal.chain_id, PAYOUT_KIND, [
                (f"{ledger.COMMISSION_PREFIX}{withdrawal.distributor_id}",
                 -withdrawal.amount_fen, f"withdrawal {withdrawal.id} {reference}"[:255]),
                (PAYOUTS, withdrawal.net_fen, f"paid out, ref {reference}"[:255]),
                (PAYOUT_FEES, withdrawal.fee_fen, f"fee on withdrawal {withdrawal.id}"),
            ], key=f"withdrawal-{withdrawal.id}")
            db.session.execute(
                update(Distributor).where(Distributor.id == withdrawal.distributor_id)
                .values(withdrawn_fen=Distributor.withdrawn_fen + withdrawal.amount_fen)
                .execution_options(synchronize_session=False))
        else:
            _move_balance(withdrawal.distributor_id, withdrawal.amount_fen)
        db.session.commit()
        db.session.expire(withdrawal)
    return True


# -- what the centre and the consoles show --------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    frozen_fen: int
    settling_fen: int
    balance_fen: int
    pending_withdrawal_fen: int
    withdrawn_fen: int
    customers: int
    team: int


def summary(distributor: Distributor) -> Summary:
    with chain_scope(distributor.chain_id):
        def total(column, state):
            return int(db.session.scalar(select(func.coalesce(func.sum(column), 0)).where(
                Commission.distributor_id == distributor.id, Commission.state == state)) or 0)

        pending = int(db.session.scalar(select(func.coalesce(func.sum(Withdrawal.amount_fen), 0))
                      .where(Withdrawal.distributor_id == distributor.id,
                             Withdrawal.state == WithdrawalState.PENDING)) or 0)
        customers = db.session.scalar(select(func.count(Binding.id)).where(
            Binding.distributor_id == distributor.id)) or 0
        team = db.session.scalar(select(func.count(Distributor.id)).where(
            Distributor.parent_id == distributor.id)) or 0
        db.session.refresh(distributor)
        return Summary(
            frozen_fen=total(Commission.amount_fen, CommissionState.FROZEN),
            settling_fen=total(Commission.net_fen, CommissionState.SETTLED),
            balance_fen=distributor.balance_fen, pending_withdrawal_fen=pending,
            withdrawn_fen=distributor.withdrawn_fen, customers=customers, team=team)


def top_distributors(chain_id: int, limit: int = 20) -> list[tuple[Distributor, int, int]]:
    """``(distributor, sales_fen, commission_fen)`` by the sales they brought (level 1).

    Sales are net of refunds: each order's goods base scaled by what the customer
    kept (``base × (paid − refunded) // paid``, floored per order). Commission is
    what each row is worth now: the expected amount while frozen, the ledger's net
    once settled.
    """
    with chain_scope(chain_id):
        kept = case((Order.paid_fen > 0,
                     Commission.base_fen * (Order.paid_fen - Order.refunded_fen)
                     // Order.paid_fen), else_=0)
        worth = case((Commission.state == CommissionState.FROZEN, Commission.amount_fen),
                     else_=Commission.net_fen)
        sales = func.sum(kept).label("sales")
        rows = db.session.execute(
            select(Commission.distributor_id, sales, func.sum(worth))
            .join(Order, Order.id == Commission.order_id)
            .where(Commission.chain_id == chain_id, Commission.level == 1,
                   Commission.state != CommissionState.CANCELLED)
            .group_by(Commission.distributor_id)
            .order_by(sales.desc(), Commission.distributor_id).limit(limit)).all()
        result = []
        for distributor_id, sales_fen, commission in rows:
            row = db.session.get(Distributor, distributor_id)
            result.append((row, int(sales_fen or 0), int(commission or 0)))
        return result
