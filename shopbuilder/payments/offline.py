"""Pay at the counter: the order waits until a clerk marks it paid in the store console."""

from __future__ import annotations

import secrets

from flask_babel import lazy_gettext as _l

from ..plugins import PluginMeta, hookimpl

meta = PluginMeta(
    name="offline", title=_l("Pay at the counter"), version="1.0",
    description=_l("Cash or card at the store; a clerk marks the order paid."),
    default_on=True,
)


class OfflineProvider:
    code = "offline"
    label = _l("Pay at the store")
    online = False

    def start(self, order, payment):
        return None

    def refund(self, payment, amount_fen, reason):
        # The clerk hands the money back at the counter; we only keep a reference.
        return f"offline-refund-{secrets.token_hex(6)}"


@hookimpl
def shopbuilder_payment_providers():
    return [OfflineProvider()]
