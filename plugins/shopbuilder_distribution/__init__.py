"""Tiered distribution (分销): distributors share links, bind customers and earn commission.

Built on the public plugin hooks and the documented core services (orders,
ledger, settings, tenancy): ``shopbuilder_order_paid`` freezes the
commissions of an order, ``shopbuilder_settlement_splits`` hands them to the
ledger when the order settles, ``shopbuilder_order_refunded``/``_cancelled``
shrink, cancel or claw them back, and ``shopbuilder_worker_tick`` makes settled
commissions withdrawable after the chain's freeze days and follows refunds made
where the plugin is off. Two levels at most: see
``docs/distribution.md``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import url_for
from flask_babel import lazy_gettext as _l

from shopbuilder import hookimpl
from shopbuilder.plugins import PluginMeta

from . import service

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
NAME = service.NAME

meta = PluginMeta(
    name=NAME,
    title=_l("Distribution"),
    version="1.0.0",
    description=_l("Distributors share links and posters and earn a commission on what the "
                   "customers they bring buy (two levels at most)."),
    author="ShopBuilder",
    api_min="1.5",  # store_cached, slot_html
    api_max="1.99",
)


# -- app setup ---------------------------------------------------------------------------------


@hookimpl
def shopbuilder_app_blueprints(app):
    from .views import hq_bp, manage_bp, referral_bp, shop_bp

    return [shop_bp, manage_bp, hq_bp, referral_bp]


@hookimpl
def shopbuilder_app_api_blueprints(app):
    from .api import bp

    return [bp]


@hookimpl
def shopbuilder_app_page_cache_bypass():
    # A shared link's visitor must get the ``sb_ref`` cookie even when the page they
    # open is cached: ``views.catch_ref`` runs before the cached page is served.
    from .views import REF_PARAM

    return [REF_PARAM]


@hookimpl
def shopbuilder_app_template_folder():
    return HERE / "templates"


@hookimpl
def shopbuilder_app_migration_folder():
    return HERE / "migrations"


@hookimpl
def shopbuilder_app_translation_folder():
    return HERE / "translations"


# -- storefront ----------------------------------------------------------------------------------


@hookimpl
def shopbuilder_slot(slot, store, context):
    if slot not in ("product_actions", "home_sections", "group_actions", "account_menu"):
        return None
    from .views import share_slot

    return share_slot(slot, store, context)


@hookimpl
def shopbuilder_share_ref(store, customer):
    """An active distributor's code, so links other plugins make to share carry ``?ref=``.

    Group-buy's group page asks for its own share link; anyone else gets None.
    """
    if getattr(customer, "kind", None) != "customer":
        return None
    return service.share_code(store.chain_id, customer.id)


# -- order events and money ----------------------------------------------------------------------


@hookimpl
def shopbuilder_order_paid(order):
    service.on_order_paid(order)


@hookimpl
def shopbuilder_order_refunded(order, amount_fen):
    service.on_order_refunded(order)


@hookimpl
def shopbuilder_order_cancelled(order):
    service.on_order_closed(order)


@hookimpl
def shopbuilder_settlement_splits(order, amount_fen):
    return service.settlement_splits(order, amount_fen)


# -- worker and consoles -----------------------------------------------------------------------


@hookimpl
def shopbuilder_worker_tick(now):
    counts = service.tick(now)
    if counts:
        log.info("distribution tick: %s", counts)


@hookimpl
def shopbuilder_store_menu(store):
    return [(_l("Distributors"), url_for("distribution_manage.index", store=store.slug))]


@hookimpl
def shopbuilder_hq_menu(chain):
    return [(_l("Distribution"), url_for("distribution_hq.index", chain=chain.slug))]
