"""Group-buy (拼团): open a group at a lower price, share it, fill it or get refunded.

Built only on the public plugin API: checkout hooks place group orders (the
seat is taken in the order's transaction), ``shopbuilder_order_hold_after_payment``
keeps paid members ``awaiting_group``, order events free seats and pass
leadership, and ``shopbuilder_worker_tick`` expires groups. See ``docs/groupbuy.md``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from shopbuilder import hookimpl
from shopbuilder.plugins import PluginMeta, PriceAdjustment, slot_html, slot_template

from . import service

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
NAME = service.NAME

meta = PluginMeta(
    name=NAME,
    title=_l("Group-buy"),
    version="1.0.0",
    description=_l("Customers open groups at a lower price and share them; full groups ship, "
                   "groups that do not fill in time are refunded."),
    author="ShopBuilder",
    api_min="1.5",  # store_cached, slot_html
    api_max="1.99",
)


# -- app setup ---------------------------------------------------------------------------------


@hookimpl
def shopbuilder_app_blueprints(app):
    from .views import hq_bp, manage_bp, shop_bp

    return [shop_bp, manage_bp, hq_bp]


@hookimpl
def shopbuilder_app_api_blueprints(app):
    from .api import bp

    return [bp]


@hookimpl
def shopbuilder_app_template_folder():
    return HERE / "templates"


@hookimpl
def shopbuilder_app_static_folder():
    return HERE / "static"


@hookimpl
def shopbuilder_app_migration_folder():
    return HERE / "migrations"


@hookimpl
def shopbuilder_app_translation_folder():
    return HERE / "translations"


@hookimpl
def shopbuilder_settings_form():
    from .forms import GroupBuySettings

    return GroupBuySettings


# -- storefront ----------------------------------------------------------------------------------


@hookimpl
def shopbuilder_slot(slot, store, context):
    if slot in ("order_detail", "manage_order_detail"):
        return _order_slot(store, context.get("order"))
    if slot not in ("product_below_price", "product_actions"):
        return None
    product = context.get("product")
    product_id = getattr(product, "id", None)
    if not isinstance(product_id, int):
        return None
    from .views import product_panel

    panel = product_panel(store, product_id, product)
    if panel is None:
        return None
    if slot == "product_below_price":
        # Prices and the group size: the same for every visitor.
        return slot_html(panel["price"], cacheable=True)
    # The groups to join: a whole-page cache may keep them for anonymous visitors only
    # (a signed-in visitor is not offered their own groups); time left is computed in
    # the browser from the absolute deadline.
    return slot_html(panel["actions"], cacheable=not current_user.is_authenticated)


def _order_slot(store, order):
    """On an order's page: its group, what it waits for, and the link to share."""
    order_id = getattr(order, "id", None)
    if not isinstance(order_id, int):
        return None
    member = service.member_for_order(order_id)
    if member is None or member.store_id != store.id:
        return None
    group = member.group
    return slot_template("groupbuy/slot_order.html", member=member, group=group, store=store,
                         seconds_left=service.seconds_left(group))


# -- checkout: a group-buy order is a one-line cart carrying the group intent -----------------


@hookimpl
def shopbuilder_checkout_price_adjustments(store, cart):
    amount = service.price_adjustment_fen(store, cart)
    if amount is None:
        return None
    return [PriceAdjustment(code="groupbuy", label=_l("Group price"), amount_fen=amount)]


@hookimpl
def shopbuilder_checkout_validate(store, cart, checkout):
    return service.validate(store, cart) or None


@hookimpl
def shopbuilder_checkout_placed(store, order, checkout):
    service.on_order_placed(store, order)


# -- order events ------------------------------------------------------------------------------


@hookimpl(tryfirst=True)
def shopbuilder_order_hold_after_payment(order):
    # tryfirst: this hook returns the first answer only, and the group must count the
    # payment whatever another plugin says.
    return service.on_payment(order)


@hookimpl
def shopbuilder_order_paid(order):
    service.after_payment(order)


@hookimpl
def shopbuilder_order_cancelled(order):
    service.on_order_closed(order)


@hookimpl
def shopbuilder_order_refunded(order, amount_fen):
    service.on_order_closed(order)


@hookimpl
def shopbuilder_order_commission_allowed(order):
    return service.commission_allowed(order)


# -- worker and consoles -----------------------------------------------------------------------


@hookimpl
def shopbuilder_worker_tick(now):
    counts = service.tick(now)
    if counts:
        log.info("group-buy tick: %s", counts)


@hookimpl
def shopbuilder_store_menu(store):
    return [(_l("Group-buy"), url_for("groupbuy_manage.index", store=store.slug))]


@hookimpl
def shopbuilder_hq_menu(chain):
    return [(_l("Group-buy"), url_for("groupbuy_hq.index", chain=chain.slug))]
