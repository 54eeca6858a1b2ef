"""到店自提 / 核销: pick up at a store, with time slots, a one-time code and counter verification.

Built on the public plugin API only (``docs/plugins.md``) and the order
service (``shopbuilder.services.orders``). See ``docs/pickup.md``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import url_for
from flask_babel import lazy_gettext as _l

from shopbuilder import hookimpl
from shopbuilder.plugins import FulfilmentOption, PluginMeta, SlotHTML, cached_slot, slot_template

from .forms import SettingsForm

log = logging.getLogger(__name__)
HERE = Path(__file__).parent

meta = PluginMeta(
    name="pickup",
    title=_l("Pickup in store"),
    version="1.0.0",
    description=_l("Customers choose a store and a time slot, then collect with a one-time "
                   "code at the counter."),
    author="ShopBuilder",
    api_min="1.5",  # cached_slot
    api_max="1.99",
)


# -- app setup -------------------------------------------------------------------------------


@hookimpl
def shopbuilder_app_blueprints(app):
    from .views import hq_bp, manage_bp, store_bp

    return [store_bp, manage_bp, hq_bp]


@hookimpl
def shopbuilder_app_template_folder():
    return HERE / "templates"


@hookimpl
def shopbuilder_app_static_folder():
    return HERE / "static"


@hookimpl
def shopbuilder_app_translation_folder():
    return HERE / "translations"


@hookimpl
def shopbuilder_app_api_blueprints(app):
    from .api import bp

    return [bp]


@hookimpl
def shopbuilder_app_migration_folder():
    return HERE / "migrations"


@hookimpl
def shopbuilder_settings_form():
    return SettingsForm


# -- checkout ----------------------------------------------------------------------------------


@hookimpl
def shopbuilder_checkout_fulfilment_options(store, cart):
    from . import slots

    if not slots.offers_slots(store):
        return []
    return [FulfilmentOption(
        code="pickup", label=_l("Pick up at this store"), fee_fen=0,
        template="pickup/checkout_slots.html",
        details={"kind": "pickup", "slots": slots.LazySlots(store), "store_name": store.name,
                 "address": store.address},
    )]


@hookimpl
def shopbuilder_checkout_validate(store, cart, checkout):
    from .service import validate_choice

    return validate_choice(store, checkout)


@hookimpl
def shopbuilder_checkout_placed(store, order, checkout):
    from .service import book_for_order

    book_for_order(store, order, checkout)


# -- order events --------------------------------------------------------------------------------


@hookimpl
def shopbuilder_order_fulfilled(order):
    from .service import ensure_ready

    if order.fulfilment_code == "pickup":
        ensure_ready(order)


@hookimpl
def shopbuilder_order_completed(order):
    from .service import close_completed

    # The core console's *Complete* (or any other caller of orders.complete) hands the goods
    # over too: close the pickup so its code dies and the worker does not call it a no-show.
    if order.fulfilment_code == "pickup":
        close_completed(order)


@hookimpl
def shopbuilder_order_cancelled(order):
    from .service import release

    if order.fulfilment_code == "pickup":
        release(order)


@hookimpl
def shopbuilder_order_refunded(order, amount_fen):
    from .service import release

    if order.fulfilment_code == "pickup":
        release(order)


@hookimpl
def shopbuilder_order_units_handed_over(store, order):
    from .service import units_collected

    if order.fulfilment_code == "pickup":
        return units_collected(order) or None
    return None


# -- pages, slots, menus, the worker -----------------------------------------------------------


@hookimpl
def shopbuilder_slot(slot, store, context):
    if slot == "order_detail":
        order = context.get("order")
        if order is None or order.fulfilment_code != "pickup":
            return None
        from .views import customer_pickup_panel

        html = customer_pickup_panel(order)
        return SlotHTML(html) if html else None  # the visitor's own code: never page-cached
    if slot == "product_actions":
        product = context.get("product")
        # A link that depends only on the store and the product: kept for every visitor.
        return cached_slot(
            f"pickup:product-link:{getattr(product, 'id', '')}",
            lambda: slot_template("pickup/product_slot.html", product=product, store=store),
            store)
    return None


@hookimpl
def shopbuilder_store_menu(store):
    return [
        (_l("Pickups today"), url_for("pickup_manage.today", store=store.slug)),
        (_l("Verify pickup"), url_for("pickup_manage.verify", store=store.slug)),
    ]


@hookimpl
def shopbuilder_hq_menu(chain):
    return [(_l("Pickup report"), url_for("pickup_hq.report", chain=chain.slug))]


@hookimpl
def shopbuilder_worker_tick(now):
    from .service import tick

    counts = tick(now)
    if any(counts.values()):
        log.info("pickup tick: %s", counts)


# Importing the models registers their tables with SQLAlchemy (and create_all).
from . import models  # noqa: E402,F401
