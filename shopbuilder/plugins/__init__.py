"""The plugin machinery: discovery, per-store enablement and hook dispatch.

All installed plugins register once in one pluggy ``PluginManager`` owned by
the app (``app.extensions["shopbuilder.plugins"]``). A store reaches only the
plugins it has enabled through :func:`store_hook`, which hands out
``pm.subset_hook_caller`` objects cached by the *set of disabled names*: a
chain of 100,000 stores has only a handful of distinct sets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points

import pluggy
from flask import current_app, g
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
        self._subset = lru_cache(maxsize=256)(self._make_subset)

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
            if isinstance(impl, dict) and impl.get("specname") not in (None, attr):
                raise PluginRefused(f"{attr} uses specname=, which per-store enablement cannot filter")

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
        disabled = frozenset(self.meta) - enabled
        return self._subset(name, disabled)

    def call_plugin(self, plugin_name: str, hook_name: str, **kwargs):
        """Call one hook of one plugin only (settings forms, life-cycle callbacks)."""
        plugin = self.pm.get_plugin(plugin_name)
        impl = getattr(plugin, hook_name, None)
        if impl is None:
            return None
        return impl(**kwargs)


def get_host(app=None) -> PluginHost:
    return (app or current_app).extensions["shopbuilder.plugins"]


def enabled_names(store) -> frozenset[str]:
    """The plugins on for ``store``: HQ policy first, then the store's own choice."""
    from .policy import enabled_plugins

    return enabled_plugins(store, get_host().names)


def store_hook(name: str, store=None):
    """The hook ``name`` restricted to the plugins enabled for ``store`` (default ``g.store``)."""
    store = store if store is not None else g.store
    return get_host().hook_for(name, enabled_names(store))


def render_slot(slot: str, store=None, **context) -> Markup:
    """Join what enabled plugins render into ``slot``; a failing plugin renders nothing."""
    store = store if store is not None else g.get("store")
    if store is None:
        return Markup("")
    host = get_host()
    parts = []
    caller = host.hook_for("shopbuilder_slot", enabled_names(store))
    for impl in reversed(caller.get_hookimpls()):
        try:
            html = impl.function(slot=slot, store=store, context=context)
        except Exception:
            log.exception("plugin %s failed in slot %s", impl.plugin_name, slot)
            continue
        if html:
            parts.append(html if isinstance(html, Markup) else escape(html))
    return Markup("").join(parts)


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
    "FulfilmentOption",
    "HOOK_API_VERSION",
    "PluginHost",
    "PluginMeta",
    "PriceAdjustment",
    "enabled_names",
    "get_host",
    "hookimpl",
    "render_slot",
    "store_hook",
]
