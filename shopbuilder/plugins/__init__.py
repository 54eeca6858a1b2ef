"""The plugin machinery: discovery, per-store enablement and hook dispatch.

All installed plugins register once in one pluggy ``PluginManager`` owned by
the app (``app.extensions["shopbuilder.plugins"]``). A store reaches only the
plugins it has enabled through :func:`store_hook`, which hands out
``pm.subset_hook_caller`` objects cached by the *set of disabled names*: a
chain of 100,000 stores has only a handful of distinct sets.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from importlib.metadata import entry_points

import pluggy
from flask import abort, current_app, g, has_request_context, request, send_from_directory
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader
from markupsafe import Markup, escape

from . import hookspecs
from .hookspecs import HOOK_API_VERSION

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "shopbuilder.plugins"
hookimpl = pluggy.HookimplMarker("shopbuilder")


@dataclass(frozen=True)
class PluginMeta:
    """What a plugin says about itself, as ``meta`` in its module."""

    name: str
    title: str
    version: str
    description: str = ""
    author: str = ""
    #: Supported HOOK_API_VERSION majors, inclusive: (min, max) as "1.0" strings.
    api_min: str = "1.0"
    api_max: str = "1.99"
    #: On in stores whose HQ set no policy for it and which did not choose (payment
    #: providers that every shop needs). HQ's own default, once set, wins.
    default_on: bool = False


@dataclass(frozen=True)
class FulfilmentOption:
    """A way to get the goods: delivery, pickup... offered by a plugin at checkout."""

    code: str
    label: str
    fee_fen: int = 0
    #: Extra form fields the option needs, rendered by its template slot.
    template: str | None = None
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PriceAdjustment:
    """A change to the cart total in fen (negative for discounts)."""

    code: str
    label: str
    amount_fen: int


def jsonable(value):
    """Settings are stored as JSON: decimals become text, dates ISO strings."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _version_tuple(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


def is_compatible(meta: PluginMeta, api: str = HOOK_API_VERSION) -> bool:
    return _version_tuple(meta.api_min) <= _version_tuple(api) <= _version_tuple(meta.api_max)


class PluginRefused(Exception):
    pass


class PluginHost:
    """Wraps pluggy's manager with what ShopBuilder needs; one per app."""

    def __init__(self):
        self.pm = pluggy.PluginManager("shopbuilder")
        self.pm.add_hookspecs(hookspecs)
        self.meta: dict[str, PluginMeta] = {}
        self.refused: dict[str, str] = {}
        #: blueprint name -> plugin name, for the 404 guard of disabled plugins.
        self.blueprint_owner: dict[str, str] = {}
        # Bounded: (hook name, disabled set) pairs; a few sets exist however many stores.
        self._subset = lru_cache(maxsize=1024)(self._make_subset)
        self._ordered = lru_cache(maxsize=1024)(self._make_ordered)
        self._folders: dict[str, dict[str, str]] = {}
        self._defaults: dict[str, dict] = {}

    # -- loading ---------------------------------------------------------------

    def load_entry_points(self, blocked=()) -> None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in blocked or ep.name in self.meta:
                continue
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not take the shop down
                self.refuse(ep.name, f"import failed: {exc!r}")
                continue
            self.add(module, ep.name)

    def add(self, plugin, name: str | None = None) -> bool:
        meta = getattr(plugin, "meta", None)
        name = name or getattr(meta, "name", None) or getattr(plugin, "__name__", repr(plugin))
        if name in self.meta:
            # The same plugin installed and also passed in EXTRA_PLUGINS (a plugin's own
            # tests): keep the one already registered.
            if self.pm.get_plugin(name) is plugin:
                return True
            self.refuse(f"{name} (duplicate)", "another plugin with this name is registered")
            return False
        try:
            self._check(plugin, name, meta)
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except Exception as exc:
            if self.pm.get_plugin(name) is not None:
                self.pm.unregister(name=name)
            self.refuse(name, str(exc))
            return False
        self.meta[name] = meta
        self._subset.cache_clear()
        self._ordered.cache_clear()
        return True

    def refuse(self, name: str, reason: str) -> None:
        self.refused[name] = reason
        log.error("plugin %s refused: %s", name, reason)

    def _check(self, plugin, name: str, meta) -> None:
        if not isinstance(meta, PluginMeta):
            raise PluginRefused("no PluginMeta named 'meta'")
        if meta.name != name:
            raise PluginRefused(f"meta.name {meta.name!r} differs from entry point {name!r}")
        if not is_compatible(meta):
            raise PluginRefused(
                f"supports hook API {meta.api_min}..{meta.api_max}, platform has {HOOK_API_VERSION}"
            )
        # pluggy's subset caller removes a plugin only when it has an attribute
        # named like the hook, so an implementation registered under another name
        # (``specname=``) would run in stores that disabled the plugin.
        for attr in dir(plugin):
            impl = getattr(getattr(plugin, attr, None), "shopbuilder_impl", None)
            if not isinstance(impl, dict):
                continue
            if impl.get("specname") not in (None, attr):
                raise PluginRefused(
                    f"{attr} uses specname=, which per-store enablement cannot filter"
                )
            # The core calls slot, money, display and order-event hooks one implementation
            # at a time (to log and skip, or abort, per plugin): a wrapper would be called
            # as a plain function there and its generator taken for a result.
            if impl.get("wrapper") or impl.get("hookwrapper"):
                raise PluginRefused(
                    f"{attr} is a hook wrapper; the core calls hooks one plugin at a time, "
                    "so wrappers are not supported (use tryfirst/trylast for order)"
                )

    # -- dispatch ----------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return sorted(self.meta)

    def app_hook(self, name: str):
        return getattr(self.pm.hook, name)

    def _make_subset(self, name: str, disabled: frozenset[str]):
        plugins = [self.pm.get_plugin(n) for n in disabled if self.pm.get_plugin(n) is not None]
        if not plugins:
            return getattr(self.pm.hook, name)
        return self.pm.subset_hook_caller(name, remove_plugins=plugins)

    def hook_for(self, name: str, enabled: frozenset[str]):
        return self._subset(name, self.disabled_from(enabled))

    def subset(self, name: str, disabled: frozenset[str]):
        """``pm.subset_hook_caller(name, remove_plugins=disabled)``, cached by the set."""
        return self._subset(name, disabled)

    def cache_info(self) -> dict:
        """Sizes of the caches keyed by disabled sets (bounded whatever the store count)."""
        return {"subset_callers": self._subset.cache_info()._asdict(),
                "ordered_impls": self._ordered.cache_info()._asdict()}

    def disabled_from(self, enabled: frozenset[str]) -> frozenset[str]:
        return frozenset(self.meta) - enabled

    def _make_ordered(self, name: str, disabled: frozenset[str]) -> tuple:
        # pluggy calls the last registered implementation first.
        return tuple(reversed(self._subset(name, disabled).get_hookimpls()))

    def ordered_impls(self, name: str, disabled: frozenset[str]) -> tuple:
        """The implementations a store with ``disabled`` reaches, in pluggy's call order."""
        return self._ordered(name, disabled)

    def plugin_impls(self, plugin_name: str, hook_name: str) -> list:
        return [
            impl
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls()
            if impl.plugin_name == plugin_name
        ]

    def call_plugin(self, plugin_name: str, hook_name: str, **kwargs):
        """Call one hook of one plugin only (settings forms, life-cycle callbacks).

        Returns the implementation's result (None when the plugin lacks it).
        """
        result = None
        for impl in self.plugin_impls(plugin_name, hook_name):
            result = impl.function(**_kwargs_for(impl, kwargs))
        return result

    def _folder_hook(self, hook_name: str) -> dict[str, str]:
        if hook_name not in self._folders:
            found = {}
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                try:
                    folder = impl.function()
                except Exception:
                    log.exception("plugin %s failed in %s", impl.plugin_name, hook_name)
                    continue
                if folder:
                    found[impl.plugin_name] = str(folder)
            self._folders[hook_name] = found
        return dict(self._folders[hook_name])

    def template_folders(self) -> dict[str, str]:
        """``{plugin name: folder}``; a theme loader mounts each under ``<plugin name>/``."""
        return self._folder_hook("shopbuilder_app_template_folder")

    def static_folders(self) -> dict[str, str]:
        """``{plugin name: folder}`` served at ``/static/plugins/<plugin name>/``."""
        return self._folder_hook("shopbuilder_app_static_folder")

    def migration_folders(self) -> dict[str, str]:
        """``{plugin name: folder}`` of each plugin's own Alembic branch."""
        return self._folder_hook("shopbuilder_app_migration_folder")

    def translation_folders(self) -> dict[str, str]:
        return self._folder_hook("shopbuilder_app_translation_folder")

    def app_results(self, hook_name: str, **kwargs) -> list:
        """Call an app-setup hook of every plugin; a failing plugin is logged and skipped."""
        results = []
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            try:
                result = impl.function(**_kwargs_for(impl, kwargs))
            except Exception:
                log.exception("plugin %s failed in %s", impl.plugin_name, hook_name)
                continue
            if result is not None:
                results.append(result)
        return results

    def settings_form(self, plugin_name: str):
        """The plugin's settings form class (a ``wtforms.Form``), or None."""
        return self.call_plugin(plugin_name, "shopbuilder_settings_form")

    def settings_defaults(self, plugin_name: str) -> dict:
        """Platform defaults of a plugin's settings: its form's field defaults."""
        if plugin_name not in self._defaults:
            form_cls = self.settings_form(plugin_name)
            form = form_cls(meta={"csrf": False}) if form_cls is not None else ()
            self._defaults[plugin_name] = {field.name: jsonable(field.data) for field in form}
        return dict(self._defaults[plugin_name])


def get_host(app=None) -> PluginHost:
    return (app or current_app).extensions["shopbuilder.plugins"]


def enabled_names(store) -> frozenset[str]:
    """The plugins on for ``store``: HQ policy first, then the store's own choice.

    Memoised per request, so a page with twenty slots reads the store's
    choices once.
    """
    return _enablement(store)[0]


class _RequestPlugins:
    """What one request knows about plugins: the host and each store's (enabled, disabled).

    Kept on the real ``g`` object so the hot path pays one context-proxy lookup
    instead of several (``g.store``, ``current_app``, ``g.setdefault``...).
    """

    __slots__ = ("host", "g", "sets")

    def __init__(self, host, real_g):
        self.host = host
        self.g = real_g
        self.sets: dict[int, tuple[frozenset[str], frozenset[str]]] = {}


def _request_state() -> _RequestPlugins | None:
    if not has_request_context():
        return None
    real_g = g._get_current_object()
    state = getattr(real_g, "_sb_plugins", None)
    if state is None:
        state = real_g._sb_plugins = _RequestPlugins(get_host(), real_g)
    return state


def forget_enablement(store) -> None:
    """Drop what this request memoised about ``store`` (after its choices changed)."""
    state = _request_state()
    if state is not None:
        state.sets.pop(store.id, None)


def _enablement(store, state=None) -> tuple[frozenset[str], frozenset[str]]:
    """``(enabled, disabled)`` for ``store``, memoised for the request."""
    from .policy import enabled_plugins

    state = state if state is not None else _request_state()
    if state is not None:
        found = state.sets.get(store.id)
        if found is not None:
            return found
        host = state.host
    else:
        host = get_host()
    enabled = enabled_plugins(store, host.names)
    found = (enabled, host.disabled_from(enabled))
    if state is not None:
        state.sets[store.id] = found
    return found


def _target(store):
    """``(store, disabled set, host)``; ``store`` defaults to the request's store."""
    state = _request_state()
    if store is None:
        store = state.g.store if state is not None else g.store
    return store, _enablement(store, state)[1], (state.host if state else get_host())


def store_hook(name: str, store=None):
    """The hook ``name`` restricted to the plugins enabled for ``store`` (default ``g.store``).

    A ``pm.subset_hook_caller`` shared by every store with the same disabled set.
    """
    store, disabled, host = _target(store)
    return host.subset(name, disabled)


def chain_allowed(chain, host=None) -> frozenset[str]:
    """The installed plugins ``chain`` has not forbidden (HQ menus and HQ pages reach these)."""
    from .policy import chain_policy

    host = host or get_host()
    return frozenset(n for n in host.names if chain_policy(chain, n)["policy"] != "forbidden")


def chain_hook(name: str, chain=None):
    """The hook ``name`` restricted to the plugins ``chain`` has not forbidden (HQ menus)."""
    chain = chain if chain is not None else g.chain
    host = get_host()
    return host.hook_for(name, chain_allowed(chain, host))


def call_chain_display_hook(name: str, chain=None, **kwargs) -> list:
    """Call a chain-scoped display hook (HQ menus); a failing plugin is logged and skipped.

    The chain's counterpart of :func:`call_display_hook`: one plugin raising must
    not take every other plugin's HQ menu entries with it.
    """
    chain = chain if chain is not None else g.chain
    host = get_host()
    impls = host.ordered_impls(name, host.disabled_from(chain_allowed(chain, host)))
    return _display_results(name, impls, {"chain": chain, **kwargs})


def stores_enabling(name: str, chain_id: int | None = None):
    """A select of the ids of stores that have ``name`` on (for the worker and reports)."""
    from ..extensions import db
    from ..models import Chain, Store, StorePlugin
    from .policy import chain_policy

    clauses = []
    for chain in db.session.scalars(db.select(Chain)):
        if chain_id is not None and chain.id != chain_id:
            continue
        rule = chain_policy(chain, name)
        chosen = db.select(StorePlugin.store_id).where(
            StorePlugin.plugin == name, StorePlugin.chain_id == chain.id
        )
        if rule["policy"] == "forced":
            clauses.append(Store.chain_id == chain.id)
        elif rule["policy"] == "allowed" and rule["default"]:
            off = chosen.where(StorePlugin.enabled.is_(False))
            clauses.append((Store.chain_id == chain.id) & Store.id.not_in(off))
        elif rule["policy"] == "allowed":
            on = chosen.where(StorePlugin.enabled.is_(True))
            clauses.append((Store.chain_id == chain.id) & Store.id.in_(on))
    if not clauses:
        return db.select(Store.id).where(db.false())
    return db.select(Store.id).where(db.or_(*clauses))


def _impls(name: str, store):
    """``(store, implementations)``: the store-scoped hook's, in pluggy's call order."""
    store, disabled, host = _target(store)
    return store, host.ordered_impls(name, disabled)


def _kwargs_for(impl, kwargs: dict) -> dict:
    # pluggy passes each implementation only the arguments it names; so do we.
    return {key: kwargs[key] for key in impl.argnames if key in kwargs}


def render_slot(slot: str, store=None, **context) -> SlotHTML:
    """Join what enabled plugins render into ``slot``; a failing plugin renders nothing."""
    if store is None:
        state = _request_state()
        store = state.g.get("store") if state is not None else None
        if store is None:
            return SlotHTML("")
    store, impls = _impls("shopbuilder_slot", store)
    parts = []
    kwargs = {"slot": slot, "store": store, "context": context}
    for impl in impls:
        try:
            html = impl.function(**_kwargs_for(impl, kwargs))
        except Exception:
            log.exception("plugin %s failed in slot %s", impl.plugin_name, slot)
            continue
        if html:
            parts.append(html if isinstance(html, Markup) else escape(html))
    joined = SlotHTML(Markup("").join(parts))
    joined.cacheable = all(getattr(part, "cacheable", False) for part in parts)
    return joined


class SlotHTML(Markup):
    """What a slot rendered. ``cacheable``: every part may be kept in a whole-page cache.

    A page cache (the storefront's) must not keep a page whose slots show something live
    (a group's progress, a visitor's own data); it may keep one whose slots depend only on
    the store, its settings, the page's context and the language.
    """

    cacheable = False


def slot_template(template_name: str, cacheable: bool = False, **context) -> SlotHTML:
    """Render a plugin template for a slot: HTML that :func:`render_slot` keeps as is.

    Flask's ``render_template`` returns ``str``, which a slot escapes (plain
    text is never trusted as HTML); the template itself autoescapes its values.
    Say ``cacheable=True`` when the HTML depends only on the store, its settings,
    ``context`` and the language, never on the visitor or the time.
    """
    from flask import render_template

    return slot_html(render_template(template_name, **context), cacheable)


def slot_html(html: str, cacheable: bool = False) -> SlotHTML:
    """Trust ``html`` (already escaped where it must be) as a slot's output.

    For HTML a plugin keeps itself (:func:`store_cached`) or builds without a template.
    ``cacheable`` as for :func:`slot_template`.
    """
    found = SlotHTML(html)
    found.cacheable = cacheable
    return found


#: ``flask.g`` attribute holding the earliest :func:`page_valid_until` of the request.
PAGE_VALID_UNTIL = "page_valid_until"


def page_valid_until(when: datetime | None) -> None:
    """Say that what this request shows changes by itself at ``when`` (aware UTC).

    For HTML that changes with time rather than with a database write: a campaign
    that starts or ends, a deadline after which a group is no longer shown. A
    whole-page cache (the storefront's) then keeps the page no longer than that;
    the earliest time said during the request wins. Call it whether or not the
    slot renders anything (a campaign that starts in ten seconds shows nothing yet).
    Outside a request it does nothing.
    """
    if when is None or not has_request_context():
        return
    earliest = g.get(PAGE_VALID_UNTIL)
    if earliest is None or when < earliest:
        setattr(g, PAGE_VALID_UNTIL, when)


#: What every key of :func:`store_cached` starts with.
STORE_CACHED_PREFIX = "sf:kept:"


def store_cached(key: str, build, store=None):
    """``build()``'s value, kept across requests and visitors until the store's pages renew.

    For what a slot shows that does not depend on who looks: a campaign's prices and
    open groups, a link that names only the store and the product. Signed-in visitors
    are never served from the whole-page cache, so without this every one of their
    page views runs the plugin's queries and templates again.

    The entry is the store's, under the version tokens of its chain and its own
    (renewed after a commit that touches the store, its catalogue or its plugins,
    and by ``note_store_changed`` / ``note_chain_changed``), the language and the
    host, so such changes show on the next request. It lives
    ``CATALOGUE_CACHE_SECONDS`` at most, and no longer than the earliest
    :func:`page_valid_until` said while ``build`` ran; a value served from the entry
    says that moment again, so a page cached around it expires in time too.
    ``build`` must return something picklable (plain data, ``str``); start ``key``
    with the plugin's name. Outside a request ``build`` simply runs.
    """
    if not has_request_context():
        return build()
    from flask_babel import get_locale

    from .. import clock
    from ..extensions import cache
    from ..services.storefront_catalogue import request_version_tokens

    store = store if store is not None else g.store
    full_key = ":".join((STORE_CACHED_PREFIX + str(store.id), request_version_tokens(store),
                         str(get_locale() or ""), request.host, key))
    entry = cache.get(full_key)
    if entry is not None:
        until, value = entry
        page_valid_until(until)
        return value
    outer = g.pop(PAGE_VALID_UNTIL, None)
    try:
        value = build()
    finally:
        until = g.pop(PAGE_VALID_UNTIL, None)
        page_valid_until(outer)
        page_valid_until(until)
    seconds = int(current_app.config.get("CATALOGUE_CACHE_SECONDS", 60))
    if until is not None:
        seconds = min(seconds, math.floor((until - clock.now()).total_seconds()))
    if seconds > 0:  # 0 would mean "for ever" to the cache
        cache.set(full_key, (until, value), timeout=seconds)
    return value


def cached_slot(key: str, render, store=None) -> SlotHTML:
    """A slot's HTML that is the same for every visitor, kept with :func:`store_cached`.

    ``render()`` returns the HTML (``slot_template(...)``); it runs when the store's
    entry is missing or renewed. The result may stay in a whole-page cache too
    (``cacheable``): saying it is the same for every visitor says that already.
    """
    return slot_html(store_cached(key, lambda: str(render()), store), cacheable=True)


def call_display_hook(name: str, store=None, **kwargs) -> list:
    """Call a display hook (menus, notices) for ``store``; a failing plugin is logged, skipped."""
    store, impls = _impls(name, store)
    return _display_results(name, impls, {"store": store, **kwargs})


def _display_results(name: str, impls, arguments: dict) -> list:
    """Each implementation's answer but None; one that raises is logged and skipped."""
    results = []
    for impl in impls:
        try:
            result = impl.function(**_kwargs_for(impl, arguments))
        except Exception:
            log.exception("plugin %s failed in %s", impl.plugin_name, name)
            continue
        if result is not None:
            results.append(result)
    return results


class PluginError(Exception):
    """A plugin failed in a hook that changes money or state: the operation must abort.

    ``str(error)`` is a sentence a manager or customer may read; the original
    exception is chained (``__cause__``) and logged with the plugin's name.
    """

    def __init__(self, plugin_name: str, message: str):
        super().__init__(f"{plugin_name}: {message}")
        self.plugin_name = plugin_name
        self.message = message


def call_money_hook(name: str, store=None, **kwargs) -> list:
    """Call a money/state hook (``shopbuilder_checkout_*``) for ``store`` and collect results.

    Every implementation of the store's enabled plugins runs in pluggy's order;
    ``None`` results are dropped. An exception becomes :class:`PluginError`
    naming the plugin, so the caller can roll back and show a clear message.
    """
    store, impls = _impls(name, store)
    results = []
    for impl in impls:
        try:
            result = impl.function(**_kwargs_for(impl, {"store": store, **kwargs}))
        except PluginError:
            raise
        except Exception as exc:
            log.exception("plugin %s failed in %s", impl.plugin_name, name)
            raise PluginError(impl.plugin_name, str(exc) or type(exc).__name__) from exc
        if result is not None:
            results.append(result)
    return results


def plugin_static(name: str, filename: str):
    folder = get_host().static_folders().get(name)
    if folder is None:
        abort(404)
    return send_from_directory(folder, filename)


def _plugin_guard():
    """A plugin's pages answer 404 where it is off: in a store that has not enabled it,
    and on a chain's HQ pages (``/hq/<chain>/...``) when HQ has forbidden it.
    """
    if request.blueprint is None:
        return None
    host = get_host()
    plugin_name = host.blueprint_owner.get(request.blueprint.split(".")[0])
    if plugin_name is None:
        return None
    store = g.get("store")
    if store is not None:
        if plugin_name not in enabled_names(store):
            abort(404)
        return None
    chain = g.get("chain")
    if chain is not None and plugin_name not in chain_allowed(chain, host):
        abort(404)
    return None


def register_blueprints(app) -> None:
    """Register every plugin's blueprints, guarded, plus the plugin consoles and static files."""
    from .views import hq_bp, manage_bp

    host = get_host(app)
    app.register_blueprint(hq_bp)
    app.register_blueprint(manage_bp)
    app.add_url_rule(
        "/static/plugins/<name>/<path:filename>", "plugin_static", plugin_static
    )
    for hook_name, prefix in (
        ("shopbuilder_app_blueprints", None),
        ("shopbuilder_app_api_blueprints", "/api/v1"),
    ):
        for impl in host.app_hook(hook_name).get_hookimpls():
            try:
                result = impl.function(**_kwargs_for(impl, {"app": app}))
                for bp in _as_list(result):
                    if prefix and not getattr(bp, "shopbuilder_api", False):
                        # Only shopbuilder.api.api_blueprint() gives API routes the API's
                        # auth, problem+json errors, limits, CORS and OpenAPI description.
                        log.error("plugin %s: API blueprint %s not made with api_blueprint(); "
                                  "skipped", impl.plugin_name, bp.name)
                        continue
                    host.blueprint_owner[bp.name] = impl.plugin_name
                    if app.blueprints.get(bp.name) is bp:
                        continue  # the API registered its plugin blueprints itself
                    options = {}
                    if prefix and not (bp.url_prefix or "").startswith(prefix):
                        options["url_prefix"] = prefix + (bp.url_prefix or "")
                    app.register_blueprint(bp, **options)
            except Exception as exc:
                log.exception("plugin %s: blueprints not registered", impl.plugin_name)
                host.refused.setdefault(impl.plugin_name, f"blueprints failed: {exc!r}")
    # Whole-app guard: runs after the URL's <store> was resolved (url_value_preprocessor).
    app.before_request(_plugin_guard)
    _add_template_loader(app, host)
    from .migrations import configure_autogenerate

    configure_autogenerate(app)


def _as_list(result) -> list:
    if result is None:
        return []
    return list(result) if isinstance(result, list | tuple) else [result]


#: ``app.extensions`` key of the app's own template loader, without any plugin's folders.
CORE_TEMPLATE_LOADER = "shopbuilder.core_template_loader"


def _add_template_loader(app, host) -> None:
    """Make ``<plugin>/<file>`` templates reachable from core pages (consoles, plugin pages).

    The storefront's theme loader builds its own chain from
    :meth:`PluginHost.template_folders`; this only serves the base environment.
    """
    folders = host.template_folders()
    # The storefront's loader must not see disabled plugins' templates: keep the core one.
    app.extensions[CORE_TEMPLATE_LOADER] = app.jinja_env.loader
    if not folders:
        return
    prefixed = PrefixLoader({name: FileSystemLoader(path) for name, path in folders.items()})
    app.jinja_env.loader = ChoiceLoader([app.jinja_env.loader, prefixed])


def settings_namespace(plugin_name: str) -> str:
    return f"plugin:{plugin_name}"


def plugin_settings(plugin_name: str, store=None) -> dict:
    """The effective settings of ``plugin_name`` for ``store``: default → chain → store, locks."""
    from .. import settings

    store = store if store is not None else g.store
    defaults = get_host().settings_defaults(plugin_name)
    return settings.values(store, settings_namespace(plugin_name), defaults)


def init_app(app) -> PluginHost:
    host = PluginHost()
    app.extensions["shopbuilder.plugins"] = host
    host.load_entry_points(blocked=app.config.get("PLUGINS_BLOCKED", ()))
    for plugin in app.config.get("EXTRA_PLUGINS", ()):
        host.add(plugin)
    app.jinja_env.globals["slot"] = render_slot
    return host


__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginError",
    "call_chain_display_hook",
    "call_display_hook",
    "chain_allowed",
    "chain_hook",
    "stores_enabling",
    "call_money_hook",
    "plugin_settings",
    "FulfilmentOption",
    "HOOK_API_VERSION",
    "PluginHost",
    "PluginMeta",
    "PriceAdjustment",
    "enabled_names",
    "get_host",
    "hookimpl",
    "page_valid_until",
    "render_slot",
    "SlotHTML",
    "slot_template",
    "store_hook",
]
