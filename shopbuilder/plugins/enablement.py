"""Turning plugins on and off, with the plugin's own life-cycle callbacks.

The callbacks (``shopbuilder_store_enabled`` / ``shopbuilder_store_disabled``)
run for the one plugin that changed, inside the caller's transaction: a
callback that raises aborts the change (:class:`~shopbuilder.plugins.PluginError`).
"""

from __future__ import annotations

import logging

from ..extensions import db
from ..models import Store
from . import PluginError, enabled_names, get_host
from .policy import chain_policy, decide, forget_choices, set_chain_policy, set_store_choice

log = logging.getLogger(__name__)


class UnknownPlugin(LookupError):
    pass


def _require_installed(name: str) -> None:
    if name not in get_host().meta:
        raise UnknownPlugin(name)


def _callback(name: str, store, enabled: bool) -> None:
    hook = "shopbuilder_store_enabled" if enabled else "shopbuilder_store_disabled"
    try:
        get_host().call_plugin(name, hook, store=store)
    except Exception as exc:
        log.exception("plugin %s failed in %s for store %s", name, hook, store.slug)
        raise PluginError(name, str(exc) or type(exc).__name__) from exc
    log.info("plugin %s %s for store %s", name, "enabled" if enabled else "disabled", store.slug)


def set_store_plugin(store, name: str, enabled: bool) -> bool:
    """A store manager's choice; returns whether the plugin's state changed for the store.

    Raises :class:`~shopbuilder.plugins.policy.PolicyRefused` when HQ forbids
    (or forces) it. The caller commits.
    """
    _require_installed(name)
    forget_choices(store)
    before = name in enabled_names(store)
    set_store_choice(store, name, enabled)
    after = name in enabled_names(store)
    if before != after:
        _callback(name, store, after)
    return before != after


def set_policy(chain, name: str, policy: str, default: bool = False) -> int:
    """HQ's rule for a plugin; returns how many stores changed state.

    Stores are visited only when the plugin implements a life-cycle callback
    (and then in batches), so a plugin without callbacks changes for 100,000
    stores in one write.
    """
    from .policy import store_choices

    _require_installed(name)
    host = get_host()
    before_rule = chain_policy(chain, name)
    set_chain_policy(chain, name, policy, default)
    after_rule = chain_policy(chain, name)
    has_callbacks = any(
        host.plugin_impls(name, hook)
        for hook in ("shopbuilder_store_enabled", "shopbuilder_store_disabled")
    )
    if before_rule == after_rule or not has_callbacks:
        return 0
    changed = 0
    stores = db.session.scalars(
        db.select(Store).where(Store.chain_id == chain.id).order_by(Store.id)
    ).yield_per(500)
    for store in stores:
        choice = store_choices(store).get(name)
        was, now = decide(before_rule, choice), decide(after_rule, choice)
        forget_choices(store)
        if was != now:
            _callback(name, store, now)
            changed += 1
    return changed
