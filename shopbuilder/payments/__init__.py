"""Payment providers: found through the ``shopbuilder_payment_providers`` hook.

A provider is any object with::

    code: str            # "sandbox", unique on the platform
    label: str           # shown at checkout
    online: bool         # True: the customer is sent to ``start()``'s URL to pay
    def start(self, order, payment) -> str | None: ...        # URL of the hosted page, or None
    def refund(self, payment, amount_fen, reason) -> str: ... # the provider's refund reference

``refund`` raises to refuse (the refund is then rolled back). The built-in
providers ``offline`` (pay at the counter, a clerk marks it paid) and
``sandbox`` (a simulated online gateway with signed callbacks) are plugins
like any other, registered through the ``shopbuilder.plugins`` entry points;
unlike third-party plugins they are on in every store unless HQ forbids them
or the store turns them off.
"""

from __future__ import annotations

import logging

from flask import current_app

from ..plugins import get_host
from ..plugins.policy import chain_policy, is_enabled

log = logging.getLogger(__name__)

BUILTIN = frozenset({"offline", "sandbox"})
_KEY = "shopbuilder.payment_providers"


def all_providers() -> dict[str, tuple[str, object]]:
    """``code -> (plugin name, provider)`` for every installed provider (cached per app)."""
    found = current_app.extensions.get(_KEY)
    if found is not None:
        return found
    host = get_host()
    found = {}
    for name in host.names:
        try:
            result = host.call_plugin(name, "shopbuilder_payment_providers")
        except Exception:
            log.exception("plugin %s failed to list payment providers", name)
            continue
        for provider in result or ():
            if provider.code in found:
                log.error("payment provider %s from %s ignored: code taken", provider.code, name)
                continue
            found[provider.code] = (name, provider)
    current_app.extensions[_KEY] = found
    return found


def _store_choice(store, plugin_name: str):
    """The store's own on/off choice for a plugin, or None when it made none."""
    from ..plugins import policy

    choices = getattr(policy, "store_choices", None)
    if choices is not None:  # the plugin host keeps choices in their own table
        return choices(store).get(plugin_name)
    return (store.settings or {}).get("plugins", {}).get(plugin_name)


def _on_for(store, plugin_name: str) -> bool:
    """Built-in providers are on unless HQ forbids them or the store turned them off."""
    if plugin_name in BUILTIN:
        rule = chain_policy(store.chain, plugin_name)["policy"]
        if rule in ("forbidden", "forced"):
            return rule == "forced"
        return _store_choice(store, plugin_name) is not False
    return is_enabled(store, plugin_name)


def providers_for(store) -> list:
    """The providers a customer of ``store`` may choose at checkout."""
    return [p for name, p in all_providers().values() if _on_for(store, name)]


def get_provider(code: str, store, include_disabled: bool = False):
    """The provider ``code`` if ``store`` may use it (refunds may use a since-disabled one)."""
    entry = all_providers().get(code)
    if entry is None:
        return None
    name, provider = entry
    if include_disabled or _on_for(store, name):
        return provider
    return None
