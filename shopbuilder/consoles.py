"""One navigation per console (HQ and store), built in one place.

Every console page extends ``console_base.html``, whose default ``nav`` block
renders ``console_menu``. Keeping the entries here (instead of in each area's
templates) means a new page shows up in every page's menu at once, a clerk
never sees a link that would answer "forbidden", and plugins add entries
through ``shopbuilder_hq_menu`` / ``shopbuilder_store_menu`` only for the
chains and stores that have them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app, g, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .auth import is_hq, store_role

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MenuEntry:
    label: str
    url: str
    current: bool = False


@dataclass(frozen=True)
class ConsoleMenu:
    kind: str  # "hq" or "store"
    entries: list[MenuEntry]
    logout_url: str


#: (endpoint, label) for the HQ console; every HQ page needs the same HQ login.
HQ_ENTRIES = [
    ("hq.index", _l("Overview")),
    ("hq.stores", _l("Stores")),
    ("hq.store_import", _l("Import stores")),
    ("hq.products", _l("Products")),
    ("hq.categories", _l("Categories")),
    ("hq_orders.index", _l("After-sales")),
    ("hq_ledger.balances", _l("Ledger")),
    ("hq_plugins.hq_index", _l("Plugins")),
    ("hq_theme.chain_theme", _l("Theme")),
    ("hq.settings_page", _l("Deadlines and money")),
    ("hq.api_keys", _l("API keys")),
    ("hq_api.chain_origins", _l("API: allowed web origins")),
]

#: (endpoint, label, managers only) for the store console.
STORE_ENTRIES = [
    ("manage.index", _l("Overview"), False),
    ("manage_orders.index", _l("Orders"), False),
    ("manage.listings", _l("Listings"), False),
    ("manage.local_products", _l("Our own products"), True),
    ("manage.staff", _l("Staff"), True),
    ("manage_plugins.store_index", _l("Plugins"), True),
    ("manage_theme.store_theme", _l("Theme"), True),
    ("manage_ledger.store_ledger", _l("Ledger"), True),
    ("manage.api_keys", _l("API keys"), True),
    ("manage_api.store_origins", _l("API: allowed web origins"), True),
]


def _mark_current(pairs: list[tuple[str, str]]) -> list[MenuEntry]:
    """Mark the entry whose URL is the longest prefix of this request's path.

    The first entry (the overview) only matches itself, since every page of the
    console lives under it.
    """
    path = request.path
    best, best_len = None, -1
    for index, (_label, url) in enumerate(pairs):
        bare = url.split("?", 1)[0]
        if path == bare:
            best = index
            break
        if index and path.startswith(bare.rstrip("/") + "/") and len(bare) > best_len:
            best, best_len = index, len(bare)
    return [MenuEntry(str(label), url, index == best) for index, (label, url) in enumerate(pairs)]


def _exists(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def _plugin_entries(results) -> list[tuple[str, str]]:
    entries = []
    for result in results:
        if not isinstance(result, list | tuple):
            log.warning("a plugin menu hook returned %r, not a list of (label, url)", result)
            continue
        for entry in result:
            try:
                label, url = entry
            except (TypeError, ValueError):
                log.warning("a plugin menu entry is not (label, url): %r", entry)
                continue
            entries.append((label, url))
    return entries


def hq_menu(chain) -> ConsoleMenu:
    from .plugins import call_chain_display_hook

    pairs = [(label, url_for(endpoint)) for endpoint, label in HQ_ENTRIES if _exists(endpoint)]
    # Plugins the chain has not forbidden; a failing one is logged by name and skipped alone.
    pairs += _plugin_entries(call_chain_display_hook("shopbuilder_hq_menu", chain))
    return ConsoleMenu("hq", _mark_current(pairs), url_for("hq.logout"))


def store_menu(store, role: str) -> ConsoleMenu:
    from .plugins import call_display_hook

    pairs = [
        (label, url_for(endpoint))
        for endpoint, label, managers_only in STORE_ENTRIES
        if (role == "manager" or not managers_only) and _exists(endpoint)
    ]
    # call_display_hook reaches only the plugins enabled for this store and skips a failing one.
    pairs += _plugin_entries(call_display_hook("shopbuilder_store_menu", store))
    return ConsoleMenu("store", _mark_current(pairs), url_for("manage.logout"))


def console_menu() -> ConsoleMenu | None:
    """The menu for this request's console, or None (signed out, storefront, admin)."""
    if not current_user.is_authenticated:
        return None
    path = request.path
    store = g.get("store")
    chain = g.get("chain")
    if store is not None and path.startswith(f"/s/{store.slug}/manage/"):
        role = g.get("staff_role") or store_role(current_user, store)
        return store_menu(store, role) if role else None
    if store is None and chain is not None and path.startswith(f"/hq/{chain.slug}/"):
        return hq_menu(chain) if is_hq(current_user, chain) else None
    return None


def init_app(app) -> None:
    @app.context_processor
    def _console_navigation():
        if request.blueprint is None or not (
            request.path.startswith("/hq/") or "/manage/" in request.path
        ):
            return {}
        return {"console_menu": console_menu()}
