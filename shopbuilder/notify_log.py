"""The built-in notification channel: every customer notification, written to the log.

ShopBuilder sends no SMS or chat message itself: a channel plugin does
(``shopbuilder_notify``). Until a shop installs one, this channel lets the
operator see what would have been sent, one line per notification on the
``shopbuilder.notify_log`` logger::

    notify order_shipped to customer 3 at west-lake: order WL-20261127-0001 (tracking SF1001)

It writes nothing and keeps no personal data beyond the customer's id. It is on
by default (``meta.default_on``); HQ or a store may turn it off like any plugin.
"""

from __future__ import annotations

import logging

from flask_babel import lazy_gettext as _l

from .money import yuan_text
from .plugins import PluginMeta, hookimpl

log = logging.getLogger(__name__)

meta = PluginMeta(
    name="notify_log", title=_l("Notification log"), version="1.0",
    description=_l("Writes each customer notification to the server log (no message is sent)."),
    default_on=True,
)

#: Context fields worth a mention in the line, when the event has them.
DETAILS = ("tracking_number", "amount_fen", "decision", "pickup_code")


@hookimpl
def shopbuilder_notify(store, customer, event, context):
    context = context if isinstance(context, dict) else {}
    details = ", ".join(
        f"{name.removesuffix('_fen')} {_shown(name, context[name])}"
        for name in DETAILS if context.get(name) not in (None, "")
    )
    log.info("notify %s to customer %s at %s: order %s%s", event,
             getattr(customer, "id", "?"), getattr(store, "slug", "?"),
             context.get("order_number", "-"), f" ({details})" if details else "")


def _shown(name: str, value) -> str:
    """Money as yuan with two decimals; a pickup code never in full (it is a key to goods)."""
    if name.endswith("_fen") and isinstance(value, int):
        return f"¥{yuan_text(value)}"
    if name == "pickup_code":
        return "…" + str(value)[-2:]
    return str(value)
