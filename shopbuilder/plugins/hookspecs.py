"""Every hook a plugin may implement: ShopBuilder's public plugin API.

Hooks are grouped in families by prefix:

* ``shopbuilder_app_*``: called once in ``create_app`` for every installed plugin.
* ``shopbuilder_store_*``: called for one store, reaching only the plugins that
  store has enabled (see :func:`shopbuilder.plugins.store_hook`).
* ``shopbuilder_slot``: storefront and console template slots (display only:
  an exception is logged and the slot renders empty).
* ``shopbuilder_checkout_*``: fulfilment options, price adjustments and order
  validation. They change money: an exception aborts the checkout cleanly.
* ``shopbuilder_order_*``: reactions to order state changes.
* ``shopbuilder_payment_*``, ``shopbuilder_notify``, ``shopbuilder_settlement_*``,
  ``shopbuilder_worker_tick``, ``shopbuilder_*_menu``: the rest.

Bump :data:`HOOK_API_VERSION`'s minor number when hooks are added, its major
number when one changes or goes away. Every hook has a section in
``docs/plugins.md`` (a test checks it).
"""

from __future__ import annotations

import pluggy

HOOK_API_VERSION = "1.5"

hookspec = pluggy.HookspecMarker("shopbuilder")


# -- app setup: once per process, every installed plugin ------------------------------------


@hookspec
def shopbuilder_app_blueprints(app):
    """Return a Flask blueprint or a list of them to register (once, in ``create_app``).

    ``app`` is the Flask application. Store pages use a ``url_prefix`` starting
    with ``/s/<store>``: they answer 404 in stores that have not enabled the
    plugin. HQ pages use ``/hq/<chain>``: they answer 404 for a chain whose HQ
    has forbidden the plugin.
    """


@hookspec
def shopbuilder_app_template_folder():
    """Return a folder of templates (once, at start-up), reachable as ``<plugin name>/<file>``.

    Themes find them after their own folders and before the core's.
    """


@hookspec
def shopbuilder_app_static_folder():
    """Return a folder (once, at start-up) served at ``/static/plugins/<plugin name>/``."""


@hookspec
def shopbuilder_app_translation_folder():
    """Return a Babel translations folder (once, in ``create_app``), merged with the core's.

    It holds ``<locale>/LC_MESSAGES/messages.mo`` (and its ``.po``).
    """


@hookspec
def shopbuilder_app_commands():
    """Return a click command or a list of them (once, in ``create_app``).

    They are added under ``flask shopbuilder`` and run with every tenant visible
    (``tenancy.unscoped()``).
    """


@hookspec
def shopbuilder_app_migration_folder():
    """Return the folder of the plugin's own Alembic version branch.

    Asked whenever Flask-Migrate builds its configuration (``flask db ...``,
    ``shopbuilder init``); ``flask db upgrade`` goes to every branch's head.
    """


@hookspec
def shopbuilder_app_api_blueprints(app):
    """Return blueprints to register under the JSON API (``/api/v1``)."""


@hookspec
def shopbuilder_app_page_cache_bypass():
    """Return query parameter names whose visits the plugin must see even on a cached page.

    The storefront page cache answers a hit before any ``before_request``
    function runs. A request carrying one of these parameters (a referral
    ``?ref=``) runs them all first and is then served from the cache.
    """


# -- per-store life cycle and settings -------------------------------------------------------


@hookspec
def shopbuilder_store_enabled(store):
    """Called for this plugin only when ``store`` turns it on (or HQ forces it on).

    ``store`` is the :class:`~shopbuilder.models.Store`. Runs inside the
    transaction that records the change; raising aborts it. Returns nothing.
    Create what the store needs lazily rather than here when you can: a policy
    change at HQ calls this once per store that changes state.
    """


@hookspec
def shopbuilder_store_disabled(store):
    """Called for this plugin only when ``store`` turns it off (or HQ forbids it).

    ``store`` is the :class:`~shopbuilder.models.Store`. Runs inside the
    transaction that records the change; raising aborts it. Keep the data:
    turning the plugin on again must bring it back. Returns nothing.
    """


@hookspec(firstresult=True)
def shopbuilder_settings_form():
    """Return a WTForms ``Form`` class (not ``FlaskForm``) for the plugin's settings.

    Asked when the HQ or store settings page is drawn and by ``plugin_settings``
    for the defaults. Field names are setting keys; field defaults are the
    platform defaults. HQ may set chain values and lock them; stores override
    what is unlocked.
    """


# -- template slots ---------------------------------------------------------------------------


@hookspec
def shopbuilder_slot(slot, store, context):
    """Return HTML (``markupsafe.Markup`` or text, escaped) for a named slot, or None.

    Called when a page renders ``{{ slot(name, ...) }}``, for the store's
    enabled plugins; ``store`` is the page's store. A display hook: an exception
    is logged with the plugin's name and its part renders empty. Slots placed by
    themes: ``head``, ``home_sections``, ``product_below_price``,
    ``product_actions``, ``cart_summary``, ``checkout_options``,
    ``order_detail``, ``account_menu``, ``manage_order_detail``, ``group_actions``.
    ``context`` holds what the page shows (``product``, ``cart``, ``order``...).
    """


# -- checkout ----------------------------------------------------------------------------------


@hookspec
def shopbuilder_checkout_fulfilment_options(store, cart):
    """Return a list of :class:`shopbuilder.plugins.FulfilmentOption` for this cart.

    Called when the checkout page is built and when the order is placed, with
    the ``store`` and the customer's ``cart``. A money hook: an exception aborts.
    """


@hookspec
def shopbuilder_checkout_price_adjustments(store, cart):
    """Return a list of :class:`shopbuilder.plugins.PriceAdjustment` (fen, +/-).

    Called when the total of ``cart`` in ``store`` is computed at checkout. A
    money hook: an exception aborts.
    """


@hookspec
def shopbuilder_checkout_validate(store, cart, checkout):
    """Return a list of messages that stop the order, or nothing.

    Called before the order is written. ``checkout`` is a dict: ``fulfilment``
    (code), ``data`` (the ``f_*`` fields), ``address``, ``contact_name``,
    ``contact_phone``, ``payment_provider``, ``note``. A money hook: an
    exception aborts; return messages to refuse on purpose.
    """


@hookspec
def shopbuilder_checkout_placed(store, order, checkout):
    """Called inside the order's transaction after it is written and its stock reserved.

    Not called when a line sold out. Write the plugin's own rows for the order
    here (they commit or roll back with it). An exception becomes a
    ``PluginError`` and the order is not placed.
    """


# -- order events: after the state change is committed -------------------------------------


@hookspec
def shopbuilder_order_created(order):
    """An order was placed (pending payment); called after the commit. Returns nothing.

    ``order`` is the :class:`~shopbuilder.models.Order`. For the plugins enabled
    for the order's store; a failure is logged and the order is unaffected.
    """


@hookspec
def shopbuilder_order_paid(order):
    """``order`` was paid in full; called after the commit. Returns nothing.

    For the plugins enabled for the order's store; a failure is logged.
    """


@hookspec
def shopbuilder_order_fulfilled(order):
    """``order`` became ready for pickup or was shipped; after the commit. Returns nothing.

    For the plugins enabled for the order's store; a failure is logged.
    """


@hookspec
def shopbuilder_order_completed(order):
    """``order`` was collected or its receipt confirmed; after the commit. Returns nothing.

    For the plugins enabled for the order's store; a failure is logged.
    """


@hookspec
def shopbuilder_order_cancelled(order):
    """``order`` was cancelled before payment (or refunded in full); after the commit.

    For the plugins enabled for the order's store; a failure is logged.
    Returns nothing.
    """


@hookspec
def shopbuilder_order_refunded(order, amount_fen):
    """Money went back to the customer: ``amount_fen`` of ``order``, in full or in part.

    Called after the commit, for the plugins enabled for the order's store; a
    failure is logged. Returns nothing.
    """


@hookspec
def shopbuilder_order_units_handed_over(store, order):
    """Return ``{order line id: units}`` of ``order`` already in the customer's hands, or None.

    Asked inside the transaction of a full refund of an order whose stock is still
    reserved (never completed), before any payment provider is called: units the
    customer already took are taken off the shelf for good instead of going back on
    sale. The pickup plugin answers for a partly collected order. An exception, or
    an answer that is not such a mapping, aborts the refund; answers of several
    plugins for one line count once (the largest).
    """


@hookspec(firstresult=True)
def shopbuilder_order_hold_after_payment(order):
    """Return a reason (text) to keep a paid ``order`` from fulfilment, or None.

    Asked right after payment, for the plugins enabled for the order's store;
    the first answer wins and the order waits as ``awaiting_group`` (e.g. an
    unfilled group) until the plugin releases it.
    """


@hookspec(firstresult=True)
def shopbuilder_order_commission_allowed(order):
    """Return False when ``order`` must earn no distribution commission (None: no opinion).

    Asked by distribution plugins before they pay commission on an order; the
    group-buy plugin answers False for group orders of campaigns that exclude it.
    """


@hookspec(firstresult=True)
def shopbuilder_share_ref(store, customer):
    """Return the referral code ``customer`` adds to links they share (``?ref=``), or None.

    Asked by pages that make links to share (a group-buy group); a distribution
    plugin answers with the customer's distributor code.
    """


# -- payments, notifications, money ------------------------------------------------------------


@hookspec
def shopbuilder_payment_providers():
    """Return a list of payment provider objects (``code``, ``label``, ``online``, methods
    ``start(order, payment)`` and ``refund(payment, amount_fen, reason)``).

    Asked once per plugin when the app's payment registry is built; a store's
    checkout offers the providers of the plugins enabled for it.
    """


@hookspec
def shopbuilder_notify(store, customer, event, context):
    """Deliver a notification to ``customer`` through the plugin's channel; returns nothing.

    Called when the shop has something to tell a customer of ``store``;
    ``event`` names it (``order_paid``, ``order_ready``...) and ``context`` is a
    dict of what it is about (``order``...). For the store's enabled plugins; a
    failure is logged.
    """


@hookspec
def shopbuilder_settlement_splits(order, amount_fen):
    """Return ``(account, amount_fen, memo)`` postings taken from the store's share.

    Called when ``amount_fen`` of ``order`` is settled to its store (money
    hook: an exception aborts the settlement).
    """


# -- the worker and consoles --------------------------------------------------------------------


@hookspec
def shopbuilder_worker_tick(now):
    """Apply the plugin's due work at ``now`` (the tick's ``clock.now()``); returns nothing.

    Called on every tick of the worker (or cron), for every installed plugin;
    find your stores with ``stores_enabling(name)``. Be idempotent: two workers
    may run at once. A failure is logged and rolled back.
    """


@hookspec
def shopbuilder_store_menu(store):
    """Return a list of ``(label, url)`` entries for ``store``'s console menu.

    Called when the store console draws its menu, for the store's enabled
    plugins. A display hook: a failure is logged and the entries are skipped.
    """


@hookspec
def shopbuilder_hq_menu(chain):
    """Return a list of ``(label, url)`` entries for ``chain``'s HQ console menu.

    Called when the HQ console draws its menu, for the plugins the chain has not
    forbidden. A display hook: a failing plugin is logged and only its entries
    are skipped.
    """


# -- how each hook is dispatched ---------------------------------------------------------------

#: Called once per process for every installed plugin (``host.app_hook(name)``).
APP_HOOKS = frozenset({
    "shopbuilder_app_blueprints",
    "shopbuilder_app_template_folder",
    "shopbuilder_app_static_folder",
    "shopbuilder_app_translation_folder",
    "shopbuilder_app_commands",
    "shopbuilder_app_migration_folder",
    "shopbuilder_app_api_blueprints",
    "shopbuilder_app_page_cache_bypass",
})
#: Called by the host for one named plugin (life cycle, settings form).
PER_PLUGIN_HOOKS = frozenset({
    "shopbuilder_store_enabled",
    "shopbuilder_store_disabled",
    "shopbuilder_settings_form",
})
#: Called for a chain: reaches the plugins HQ has not forbidden (``chain_hook``).
CHAIN_HOOKS = frozenset({"shopbuilder_hq_menu"})
#: Called once per tick for every installed plugin; the plugin finds its stores itself
#: (``shopbuilder.plugins.stores_enabling(name)``).
GLOBAL_HOOKS = frozenset({"shopbuilder_worker_tick"})
#: Change money or state: called through ``call_money_hook``; an exception aborts.
MONEY_HOOKS = frozenset({
    "shopbuilder_checkout_fulfilment_options",
    "shopbuilder_checkout_price_adjustments",
    "shopbuilder_checkout_validate",
    "shopbuilder_checkout_placed",
    "shopbuilder_order_units_handed_over",
    "shopbuilder_settlement_splits",
})


def all_hook_names() -> list[str]:
    return sorted(name for name in globals() if name.startswith("shopbuilder_"))


def store_scoped_hook_names() -> list[str]:
    """Every hook that reaches only the plugins enabled for one store: all the others.

    A new hook is store-scoped unless listed above, so it is covered by the
    generated on/off test pair in ``tests/test_plugin_hooks.py`` at once.
    """
    others = APP_HOOKS | PER_PLUGIN_HOOKS | CHAIN_HOOKS | GLOBAL_HOOKS
    return [name for name in all_hook_names() if name not in others]
