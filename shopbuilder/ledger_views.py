"""Ledger pages: HQ's balances per store and entries, a store manager's own balance.

Two small blueprints of their own (rather than routes on ``hq`` and ``manage``)
so the ledger stays one area that merges without touching the consoles.
Store pages filter by the request's store explicitly: ledger entries are
chain rows (``store_id`` may be empty), so the tenant guard alone would show
a manager the whole chain.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, render_template, request
from flask_babel import lazy_gettext as _l
from jinja2 import TemplateNotFound

from .auth import hq_required, manager_required
from .extensions import db
from .models import Store
from .paging import page_arg
from .services import ledger as ledger_service

hq_bp = Blueprint("hq_ledger", __name__, url_prefix="/hq/<chain>/ledger")
manage_bp = Blueprint("manage_ledger", __name__, url_prefix="/s/<store>/manage/ledger")

ENTRIES_PER_PAGE = 50

ACCOUNT_LABELS = {
    ledger_service.CUSTOMER_PAYMENTS: _l("Customer payments"),
    ledger_service.ESCROW: _l("Escrow"),
    ledger_service.STORE_PAYABLE: _l("Store payable"),
    ledger_service.HQ_ROYALTY: _l("HQ royalty"),
    ledger_service.CUSTOMER_REFUNDS: _l("Customer refunds"),
}
KIND_LABELS = {
    ledger_service.PAYMENT: _l("Customer payment"),
    ledger_service.REFUND: _l("Refund"),
    ledger_service.SETTLEMENT: _l("Settlement"),
}


def account_label(account: str) -> str:
    if account.startswith(ledger_service.COMMISSION_PREFIX):
        return str(_l("Commission · distributor %(id)s",
                      id=account[len(ledger_service.COMMISSION_PREFIX):]))
    return str(ACCOUNT_LABELS.get(account, account))


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


def summary(balances: dict[str, int]) -> dict[str, int]:
    """The columns a person reads: what is held, owed to the store, HQ's, commissions, refunds."""
    return {
        "escrow": balances.get(ledger_service.ESCROW, 0),
        "payable": balances.get(ledger_service.STORE_PAYABLE, 0),
        "royalty": balances.get(ledger_service.HQ_ROYALTY, 0),
        "commissions": sum(
            amount for account, amount in balances.items()
            if account.startswith(ledger_service.COMMISSION_PREFIX)
        ),
        "refunds": balances.get(ledger_service.CUSTOMER_REFUNDS, 0),
        "received": -balances.get(ledger_service.CUSTOMER_PAYMENTS, 0),
    }


def before_seq() -> int | None:
    value = request.args.get("before", "")
    return int(value) if value.isdigit() else None


def entries_page(chain_id: int, store_id: int | None):
    """One page of entries, newest first, and the ``before`` value of the next page."""
    rows = ledger_service.recent_entries(
        chain_id, store_id=store_id, before_seq=before_seq(), limit=ENTRIES_PER_PAGE + 1
    )
    older = rows[ENTRIES_PER_PAGE - 1].seq if len(rows) > ENTRIES_PER_PAGE else None
    return rows[:ENTRIES_PER_PAGE], older


def _helpers() -> dict:
    return {"account_label": account_label, "kind_label": kind_label}


def _hq_helpers() -> dict:
    return {**_helpers(), "hq_layout": hq_layout()}


def hq_layout() -> str:
    """The HQ console's layout (with its menu) where the core has one, else the bare page."""
    try:
        current_app.jinja_env.get_template("hq/layout.html")
    except TemplateNotFound:
        return "console_base.html"
    return "hq/layout.html"


hq_bp.context_processor(_hq_helpers)
manage_bp.context_processor(_helpers)


@hq_bp.get("/")
@hq_required
def balances():
    """Chain totals, and per store (paginated) what it holds, is owed, paid HQ and refunded."""
    chain = g.chain
    page = db.paginate(
        db.select(Store).where(Store.chain_id == chain.id).order_by(Store.name, Store.id),
        page=page_arg(), per_page=current_app.config.get("STORES_PER_PAGE", 50),
        error_out=False,
    )
    per_store = ledger_service.store_balances(chain.id, [s.id for s in page.items])
    rows = [(store, summary(per_store[store.id])) for store in page.items]
    totals = summary(ledger_service.balances(chain.id))
    return render_template(
        "ledger/hq_balances.html", page=page, rows=rows, totals=totals,
        title=_l("Ledger"),
    )


@hq_bp.get("/entries")
@hq_required
def entries():
    """The chain's newest entries, optionally one store's; older pages by sequence number."""
    chain = g.chain
    store = None
    slug = request.args.get("store")
    if slug:
        store = db.session.scalar(
            db.select(Store).where(Store.chain_id == chain.id, Store.slug == slug)
        )
        if store is None:
            abort(404)
    rows, older = entries_page(chain.id, store.id if store else None)
    stores = {}
    ids = {row.store_id for row in rows if row.store_id is not None}
    if ids:
        stores = {s.id: s for s in db.session.scalars(db.select(Store).where(Store.id.in_(ids)))}
    return render_template(
        "ledger/hq_entries.html", rows=rows, older=older, store=store, stores=stores,
        title=_l("Ledger entries"),
    )


@manage_bp.get("/")
@manager_required
def store_ledger():
    """This store's balance and its own entries; never another store's."""
    store = g.store
    balances = ledger_service.balances(store.chain_id, store.id)
    rows, older = entries_page(store.chain_id, store.id)
    return render_template(
        "ledger/store.html", totals=summary(balances), balances=balances, rows=rows,
        older=older, title=_l("Ledger"),
    )
