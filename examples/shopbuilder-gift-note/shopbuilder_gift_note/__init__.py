"""Gift notes: the customer writes a note at checkout; the store prints it with the order."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from shopbuilder import hookimpl
from shopbuilder.extensions import db
from shopbuilder.plugins import PluginMeta, cached_slot, plugin_settings, slot_template

from .forms import GiftNoteSettings
from .models import GiftNote

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
NAME = "gift_note"
#: The checkout field the ``checkout_options`` slot renders. Fields named ``f_<key>`` reach
#: the checkout hooks as ``checkout["data"][<key>]`` (at most 200 characters each).
FIELD = "gift_note"

meta = PluginMeta(
    name=NAME,
    title=_l("Gift note"),
    version="1.0.0",
    description=_l("Customers add a gift note at checkout; it is shown on the order."),
    author="Example Plugin Author",
    api_min="1.5",
    api_max="1.99",
)

bp = Blueprint("gift_note", __name__, url_prefix="/s/<store>/gift-note")


@bp.get("/")
def about():
    """A page for customers: what a gift note is in this store."""
    return render_template("gift_note/page.html", settings=plugin_settings(NAME))


# -- app setup ---------------------------------------------------------------------------------


@hookimpl
def shopbuilder_app_blueprints(app):
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
    return GiftNoteSettings


# -- storefront and console slots ---------------------------------------------------------------


def note_for(order) -> GiftNote | None:
    if order is None or getattr(order, "id", None) is None:
        return None
    return db.session.scalar(db.select(GiftNote).where(GiftNote.order_id == order.id))


@hookimpl
def shopbuilder_slot(slot, store, context):
    if slot == "product_below_price":
        # Depends on the store and its settings only: kept for every visitor, and renewed
        # by the core when the settings change.
        return cached_slot("gift_note:product-hint", lambda: slot_template(
            "gift_note/slot_product.html", settings=plugin_settings(NAME, store), store=store),
            store)
    if slot == "checkout_options":
        return slot_template(
            "gift_note/slot_checkout.html", settings=plugin_settings(NAME, store),
            field=f"f_{FIELD}",
        )
    if slot in ("order_detail", "manage_order_detail"):
        note = note_for(context.get("order"))
        if note is not None:
            return slot_template("gift_note/slot_order.html", note=note)
    return None


# -- checkout: these change state, so an exception aborts the order ---------------------------


def clean(checkout) -> str:
    data = (checkout or {}).get("data") or {}
    return str(data.get(FIELD) or "").strip()


@hookimpl
def shopbuilder_checkout_validate(store, cart, checkout):
    limit = int(plugin_settings(NAME, store)["max_length"])
    text = clean(checkout)
    if len(text) > limit:
        return [ngettext(
            "A gift note can be at most %(num)d character.",
            "A gift note can be at most %(num)d characters.", limit,
        )]
    return None


@hookimpl
def shopbuilder_checkout_placed(store, order, checkout):
    """Written in the order's own transaction: no commit here."""
    text = clean(checkout)
    if text:
        db.session.add(
            GiftNote(chain_id=store.chain_id, store_id=store.id, order_id=order.id, text=text)
        )


@hookimpl
def shopbuilder_store_disabled(store):
    # Notes stay: turning the plugin back on shows them again.
    log.info("gift notes hidden for store %s (kept)", store.slug)
