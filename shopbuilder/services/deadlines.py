"""Deadlines: rows with a due time, applied by one idempotent :func:`tick`.

Each due row is claimed with a conditional UPDATE (``open`` -> ``done``) in the
same transaction as what it does, so two workers running at once never apply
one deadline twice: the second one's UPDATE finds nothing to claim (on
PostgreSQL it waits for the first to commit, then sees ``done``; SQLite
serialises writers). A deadline whose order moved on is closed as ``moot``.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

from sqlalchemy import delete, exists, select, update

from .. import clock, tenancy
from ..extensions import db
from ..models import AfterSaleRequest, Deadline, OrderState, PaymentNotice
from . import orders
from .orders import N_

log = logging.getLogger(__name__)
S = OrderState

#: What a due deadline does, when the order is still in the state it watches.
ACTIONS = {
    "pay": (S.PENDING_PAYMENT, lambda o: orders.cancel(o, "system", N_("Not paid in time"))),
    "fulfil": (S.PAID, lambda o: orders.refund(o, "system", reason=N_("Not fulfilled in time"))),
    "pickup": (S.READY_FOR_PICKUP,
               lambda o: orders.refund(o, "system", reason=N_("Not picked up in time"))),
    "confirm": (S.SHIPPED,
                lambda o: orders.complete(o, "system", N_("Receipt confirmed automatically"))),
    "after_sale": (S.COMPLETED, lambda o: orders.settle(o)),
}
#: Kinds that wait while an after-sale request is open on the order.
PAUSED_BY_AFTER_SALE = ("confirm", "after_sale")


class _Paused(Exception):
    pass


def has_open_after_sale(order_id: int) -> bool:
    return bool(db.session.scalar(select(exists().where(
        AfterSaleRequest.order_id == order_id, AfterSaleRequest.state == "open"
    ))))


def apply_one(deadline_id: int, now) -> str:
    """Claim and apply one deadline; the outcome is a short word for logs and counts."""
    try:
        with orders.unit_of_work():
            claimed = db.session.execute(
                update(Deadline)
                .where(Deadline.id == deadline_id, Deadline.state == "open",
                       Deadline.due_at <= now)
                .values(state="done", done_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed != 1:
                return "taken"
            row = db.session.get(Deadline, deadline_id, populate_existing=True)
            order = row.order
            watched, action = ACTIONS[row.kind]
            db.session.refresh(order, ["state"])
            if order.state != watched:
                row.outcome = "moot"
                return "moot"
            if row.kind in PAUSED_BY_AFTER_SALE and has_open_after_sale(order.id):
                raise _Paused
            action(order)
            row.outcome = "applied"
            return row.kind
    except _Paused:
        return "paused"
    except orders.OrderError as exc:
        log.warning("deadline %s not applied: %s", deadline_id, type(exc).__name__)
        return "error"
    except Exception:
        log.exception("deadline %s failed", deadline_id)
        return "error"


def tick(now=None, batch: int = 500, plugins: bool = True) -> Counter:
    """Apply everything due at ``now`` (default: the clock); safe to run concurrently."""
    from ..plugins import get_host

    now = now or clock.now()
    counts: Counter = Counter()
    with tenancy.unscoped(), clock.frozen(now):
        skipped: set[int] = set()
        while True:
            stmt = (
                select(Deadline.id)
                .where(Deadline.state == "open", Deadline.due_at <= now)
                .order_by(Deadline.due_at, Deadline.id)
                .limit(batch)
            )
            if skipped:
                stmt = stmt.where(Deadline.id.not_in(skipped))
            ids = list(db.session.scalars(stmt))
            db.session.rollback()
            if not ids:
                break
            for deadline_id in ids:
                outcome = apply_one(deadline_id, now)
                counts[outcome] += 1
                if outcome in ("paused", "error", "taken"):
                    skipped.add(deadline_id)
        db.session.execute(
            delete(PaymentNotice).where(PaymentNotice.received_at < now - timedelta(days=1))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if plugins:
            for impl in get_host().app_hook("shopbuilder_worker_tick").get_hookimpls():
                try:
                    impl.function(now=now)
                except Exception:
                    db.session.rollback()
                    log.exception("plugin %s failed in worker tick", impl.plugin_name)
    return counts
